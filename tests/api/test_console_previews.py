"""Browser previews: Ogg/Opus of the original and of the iMessage rendition (its packets unchanged),
made once and cached, concurrency-safe, on local files and on S3, readable only by the owner."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import anyio
import av
import httpx
import pytest
from apiserver import Server, Tenant, running_server
from consoles import with_container
from helpers import upload_file
from sqlalchemy import func, select

import s3server
from audiogen import Made
from voicememo.audio.caf import read_caf
from voicememo.audio.ogg import caf_opus_packets
from voicememo.container import Container
from voicememo.domain.models import Service
from voicememo.errors import AttachmentNotFound, InvalidParameter
from voicememo.services.console.previews import Preview
from voicememo.services.renditions import local_copy
from voicememo.storage.tables import RenditionRow

#: one Opus frame (20 ms): the preview must decode to the measured length within it
FRAME_MS = 20


def decoded(path: Path) -> tuple[str, int, list[bytes]]:
    """Codec, decoded samples at 48 kHz, and the Opus packets FFmpeg reads from an Ogg file."""
    with av.open(str(path), format="ogg") as container:
        stream = container.streams.audio[0]
        packets = [bytes(p) for p in container.demux(stream) if p.size]
    with av.open(str(path), format="ogg") as container:
        stream = container.streams.audio[0]
        samples = sum(f.samples for f in container.decode(stream))
        assert stream.codec_context.sample_rate == 48000
        return stream.codec_context.name, samples, packets


async def fetch_blob(c: Container, key: str, dst: Path) -> Path:
    async with local_copy(c.ctx, key) as path:
        await anyio.Path(dst).write_bytes(await anyio.Path(path).read_bytes())
    return dst


async def check_previews(c: Container, partner_id: str, attachment_id: str, tmp: Path) -> dict[str, Preview]:
    attachment = await c.attachments.get(partner_id, attachment_id)
    assert attachment.duration_ms
    previews = {}
    for source in ("original", "imessage"):
        preview = await c.previews.preview(partner_id, attachment_id, source)  # type: ignore[arg-type]
        assert preview.content_type == "audio/ogg; codecs=opus" and preview.etag.startswith('"')
        path = await fetch_blob(c, preview.key, tmp / f"{source}.ogg")
        assert path.stat().st_size == preview.size_bytes
        codec, samples, packets = decoded(path)
        assert codec == "opus"
        assert abs(samples * 1000 / 48000 - attachment.duration_ms) <= FRAME_MS, (source, samples)
        assert abs(preview.duration_ms - attachment.duration_ms) <= FRAME_MS
        if source == "imessage":  # remuxed, not re-encoded: the very packets the recipient gets
            rendition = await c.previews.renditions.for_service(attachment, Service.IMESSAGE)
            caf = (await fetch_blob(c, rendition.blob_key, tmp / "r.caf")).read_bytes()
            assert packets == caf_opus_packets(caf) and len(packets) == read_caf(caf).packets
        again = await c.previews.preview(partner_id, attachment_id, source)  # type: ignore[arg-type]
        assert again == preview  # cached: same blob, nothing made again
        previews[source] = preview
    assert previews["original"].key != previews["imessage"].key
    return previews


def test_previews_decode_to_the_exact_length_and_are_made_once(
    server: Server, tenant: Tenant, corpus: dict[str, Made], tmp_path: Path
) -> None:
    attachment_id = upload_file(tenant.client, corpus["m4a-moov-first"].path, "audio/mp4")
    with_container(server, lambda c: check_previews(c, tenant.partner.partner.id, attachment_id, tmp_path))


def test_two_requests_at_once_get_one_working_preview(
    server: Server, tenant: Tenant, corpus: dict[str, Made], tmp_path: Path
) -> None:
    attachment_id = upload_file(tenant.client, corpus["wav-s24-stereo"].path, "audio/wav")

    async def go(c: Container) -> None:
        pid = tenant.partner.partner.id
        sha256 = (await c.attachments.get(pid, attachment_id)).sha256
        first, second = await asyncio.gather(
            c.previews.preview(pid, attachment_id, "original"), c.previews.preview(pid, attachment_id, "original")
        )
        assert first == second  # the loser returns the winner's stored preview
        assert await c.ctx.blobs.exists(first.key)
        async with c.ctx.db.read() as s:
            rows = await s.scalar(
                select(func.count())
                .select_from(RenditionRow)
                .where(RenditionRow.sha256 == sha256, RenditionRow.profile.like("preview-ogg-original%"))
            )
        assert rows == 1
        stored = sorted(p.name for p in (server.settings.blob_dir / "renditions" / str(sha256)).glob("preview-*"))
        assert stored == [Path(first.key).name]  # the loser's copy was deleted

    with_container(server, go)


def test_a_preview_of_another_partners_attachment_is_not_found(
    server: Server, tenant: Tenant, other_tenant: Tenant, corpus: dict[str, Made]
) -> None:
    attachment_id = upload_file(tenant.client, corpus["wav-s16"].path, "audio/wav")

    async def go(c: Container) -> None:
        for source in ("original", "imessage"):
            with pytest.raises(AttachmentNotFound):
                await c.previews.preview(other_tenant.partner.partner.id, attachment_id, source)  # type: ignore[arg-type]
        with pytest.raises(InvalidParameter):
            await c.previews.preview(tenant.partner.partner.id, attachment_id, "mp3")  # type: ignore[arg-type]

    with_container(server, go)


@pytest.fixture(scope="module")
def s3_console_server(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[Server]:
    bucket = s3server.new_bucket(s3_endpoint)
    with running_server(tmp_path_factory.mktemp("s3console"), **bucket.settings()) as server:
        yield server


def test_previews_on_the_s3_store(s3_console_server: Server, corpus: dict[str, Made], tmp_path: Path) -> None:
    made = s3_console_server.new_partner()
    client = s3_console_server.client(made.api_key.secret)
    data = corpus["mp3-xing"].path.read_bytes()
    slot = client.attachments.create(filename="memo.mp3", content_type="audio/mpeg", size_bytes=len(data))
    # a fresh server's first upload also starts its audio workers: on a busy machine that outlasts
    # httpx's default 5 s, so this one waits longer
    response = httpx.put(slot.upload_url, content=data, headers=slot.required_headers, timeout=60)
    assert response.status_code == 200, response.text
    attachment_id = slot.attachment_id
    previews = with_container(s3_console_server, lambda c: check_previews(c, made.partner.id, attachment_id, tmp_path))
    assert all(p.key.startswith("renditions/") for p in previews.values())
    assert not list(s3_console_server.settings.blob_dir.rglob("*.ogg")), "previews live in the bucket"
