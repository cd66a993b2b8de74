"""The same audio delivered by several jobs at once is rendered once (a broadcast to many chats).

Each render takes a core for a while; before, every delivery running rendered the same file anew.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from audiogen import encode
from voicememo.container import Container
from voicememo.domain.models import Attachment, Service
from voicememo.services.renditions import Renditions


async def uploaded(container: Container, tmp_path: Path) -> Attachment:
    made = await container.admin.create_partner("Broadcast", "+15550700001")
    data = encode(tmp_path / "memo.mp3", fmt="mp3", codec="libmp3lame", seconds=4).path.read_bytes()
    service = container.attachments
    slot = await service.create_upload(made.partner.id, "memo.mp3", "audio/mpeg", len(data))
    token = parse_qs(urlsplit(slot.upload_url).query)["token"][0]

    async def body() -> Any:
        yield data

    return await service.receive_upload(slot.attachment.id, token, "audio/mpeg", str(len(data)), body())


@pytest.mark.anyio
async def test_concurrent_deliveries_of_one_audio_render_it_once(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attachment = await uploaded(container, tmp_path)
    renders = 0
    real_render = container.ctx.audio.render

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal renders
        renders += 1
        return await real_render(*args, **kwargs)

    monkeypatch.setattr(container.ctx.audio, "render", counted)
    renditions = Renditions(container.ctx)
    made = await asyncio.gather(*(renditions.for_service(attachment, Service.IMESSAGE) for _ in range(4)))
    assert renders == 1
    assert len({r.id for r in made}) == 1 and made[0].mime_type == "audio/x-caf"


@pytest.mark.anyio
async def test_a_cancelled_render_leaves_the_waiters_to_render_it(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first delivery's job lost its lease mid-render: the one waiting renders instead, not fails."""
    attachment = await uploaded(container, tmp_path)
    real_render = container.ctx.audio.render
    started = asyncio.Event()
    calls = 0

    async def first_hangs(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            started.set()
            await asyncio.Event().wait()  # until cancelled
        return await real_render(*args, **kwargs)

    monkeypatch.setattr(container.ctx.audio, "render", first_hangs)
    renditions = Renditions(container.ctx)
    first = asyncio.create_task(renditions.for_service(attachment, Service.IMESSAGE, looked_up=True))
    await started.wait()
    # looked up already (as a delivery does): nothing to await before it waits on the first's render
    second = asyncio.create_task(renditions.for_service(attachment, Service.IMESSAGE, looked_up=True))
    await asyncio.sleep(0)  # the second ran up to that wait
    first.cancel()
    made = await second
    assert first.cancelled() and calls == 2 and made.mime_type == "audio/x-caf"
