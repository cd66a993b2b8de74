"""One contract for every sender: the sandbox, and the BlueBubbles sender against the fake Mac.

What the core relies on: a lookup answers per handle; a send reaches the provider once per
call with the exact file and the bubble flag; ``find_earlier`` finds an item that reached the
provider (and nothing it was told is known); ``poll`` reports receipts; a provider that can
never take the memo raises a permanent ``SendRejected`` and receives nothing; a healthy
provider says so. A new sender adds one harness here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from audiogen import Made
from fakebb import FakeMac, running_mac
from voicememo.audio.render import render
from voicememo.domain.models import Service, utcnow
from voicememo.senders.base import (
    Accepted,
    ChatRef,
    FilePayload,
    LineBinding,
    LineSender,
    Outgoing,
    ReceiptEvent,
    ReceiptKind,
    SenderError,
    SendRejected,
)
from voicememo.senders.bluebubbles import BlueBubblesKind, BlueBubblesTimeouts
from voicememo.senders.sandbox import SandboxConfig, SandboxKind, read_outbox

IMESSAGE_HANDLE, SMS_HANDLE = "+15557770001", "+15557770009"


@dataclass
class Harness:
    sender: LineSender
    #: every item the provider received: {"provider_id", "data" (bytes or None), "text", "audio_message", ...}
    received: Callable[[], list[dict[str, Any]]]
    deliver: Callable[[str], None]
    refuse_memos: Callable[[], None]


class RecordingSink:
    def __init__(self) -> None:
        self.scheduled: list[tuple[str, ReceiptEvent, float]] = []

    async def later(self, line_id: str, receipts: list[tuple[ReceiptEvent, float]]) -> None:
        self.scheduled += [(line_id, event, after) for event, after in receipts]


@pytest.fixture
def caf(tmp_path: Path, corpus: dict[str, Made]) -> FilePayload:
    path = tmp_path / "Audio Message.caf"
    made = render(corpus["wav-s16"].path, path, "imessage")
    return FilePayload(path, made.filename, made.mime_type, path.stat().st_size)


@pytest.fixture
def sandbox(tmp_path: Path) -> Harness:
    outbox = tmp_path / "outbox"
    config = SandboxConfig(outbox=outbox, delivered_delay=0, read_delay=0, fail_pattern=None)
    kind = SandboxKind(config, RecordingSink())
    line = LineBinding("line-1", "+15557770000", {})
    state: dict[str, Any] = {"sender": kind.bind(line)}

    def received() -> list[dict[str, Any]]:
        out = []
        for entry in read_outbox(outbox):
            data = (Path(entry["path"]) / entry["file"]).read_bytes() if entry.get("file") else None
            out.append({**entry, "provider_id": entry["provider_message_id"], "data": data})
        return out

    def refuse() -> None:
        state["sender"] = SandboxKind(replace(config, fail_pattern="."), RecordingSink()).bind(line)
        harness.sender = state["sender"]

    harness = Harness(state["sender"], received, lambda _pid: None, refuse)
    return harness


@pytest.fixture
async def bluebubbles() -> AsyncIterator[Harness]:
    mac = FakeMac(imessage={IMESSAGE_HANDLE})
    with running_mac(mac) as running:
        kind = BlueBubblesKind(BlueBubblesTimeouts(call=5, send=10))
        config = kind.check_config({"url": running.url}, mac.password)
        sender = kind.bind(LineBinding("line-1", "+15557770000", config, mac.password))

        def received() -> list[dict[str, Any]]:
            files = [
                {
                    "provider_id": r.guid,
                    "data": r.data,
                    "text": None,
                    "file": r.filename,
                    "audio_message": mac.messages[r.guid]["isAudioMessage"],
                    "fields": r.fields,
                }
                for r in mac.received
            ]
            texts = [{"provider_id": t["guid"], "data": None, "text": t["message"]} for t in mac.texts]
            created = [
                {"provider_id": m["guid"], "data": None, "text": m["text"]}
                for m in mac.messages.values()
                if not m["attachments"] and m["guid"] not in {t["guid"] for t in mac.texts}
            ]
            return files + texts + created

        def refuse() -> None:
            mac.private_api = False

        yield Harness(sender, received, mac.deliver, refuse)
        await sender.aclose()


@pytest.fixture(params=["sandbox", "bluebubbles"])
def harness(request: pytest.FixtureRequest) -> Harness:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def chat_ref(provider_chat_id: str | None = None) -> ChatRef:
    return ChatRef(f"chat-{uuid.uuid4().hex[:6]}", (IMESSAGE_HANDLE,), Service.IMESSAGE, False, provider_chat_id)


async def started_chat(harness: Harness) -> tuple[ChatRef, Accepted]:
    """A 1:1 chat begun with a text, as chat creation does (a Mac creates chats only with a text)."""
    chat = chat_ref()
    first = await harness.sender.send(Outgoing(f"m-{uuid.uuid4().hex[:8]}", 0, chat, text="hello"))
    return replace(chat, provider_chat_id=first.provider_chat_id), first


def memo(chat: ChatRef, caf: FilePayload) -> Outgoing:
    return Outgoing(f"m-{uuid.uuid4().hex[:8]}", 0, chat, file=caf, audio_message=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_lookup_answers_per_handle(harness: Harness) -> None:
    assert await harness.sender.lookup(IMESSAGE_HANDLE) is Service.IMESSAGE
    assert await harness.sender.lookup(SMS_HANDLE) is Service.SMS


@pytest.mark.anyio
async def test_a_memo_reaches_the_provider_once_with_the_exact_file_and_the_bubble_flag(
    harness: Harness, caf: FilePayload
) -> None:
    chat, first = await started_chat(harness)
    item = memo(chat, caf)
    accepted = await harness.sender.send(item)
    assert accepted.provider_message_id and accepted.provider_message_id != first.provider_message_id
    assert accepted.audio_message in (True, None)  # a provider that reports the flag reports it set
    files = [r for r in harness.received() if r["data"] is not None]
    assert len(files) == 1
    assert files[0]["provider_id"] == accepted.provider_message_id
    assert files[0]["data"] == caf.path.read_bytes()
    assert (files[0]["file"], files[0]["audio_message"]) == ("Audio Message.caf", True)
    assert [r["text"] for r in harness.received() if r["data"] is None] == ["hello"]


@pytest.mark.anyio
async def test_find_earlier_finds_what_reached_the_provider_and_nothing_known(
    harness: Harness, caf: FilePayload
) -> None:
    chat, first = await started_chat(harness)
    item = memo(chat, caf)
    since = utcnow() - timedelta(seconds=5)
    assert await harness.sender.find_earlier(item, since, frozenset({first.provider_message_id})) is None
    accepted = await harness.sender.send(item)
    found = await harness.sender.find_earlier(item, since, frozenset({first.provider_message_id}))
    assert found is not None and found.provider_message_id == accepted.provider_message_id
    known = frozenset({first.provider_message_id, accepted.provider_message_id})
    assert await harness.sender.find_earlier(item, since, known) is None


@pytest.mark.anyio
async def test_poll_reports_delivery(harness: Harness, caf: FilePayload) -> None:
    chat, _first = await started_chat(harness)
    accepted = await harness.sender.send(memo(chat, caf))
    harness.deliver(accepted.provider_message_id)
    events = await harness.sender.poll(accepted.provider_message_id, chat)
    assert ReceiptKind.DELIVERED in {e.kind for e in events}
    assert all(e.provider_message_id == accepted.provider_message_id for e in events)


@pytest.mark.anyio
async def test_a_provider_that_cannot_take_the_memo_refuses_for_good_and_receives_nothing(
    harness: Harness, caf: FilePayload
) -> None:
    chat, _first = await started_chat(harness)
    harness.refuse_memos()
    with pytest.raises(SendRejected) as refused:
        await harness.sender.send(memo(chat, caf))
    assert isinstance(refused.value, SenderError) and not refused.value.retryable
    assert refused.value.message
    assert [r for r in harness.received() if r["data"] is not None] == []


@pytest.mark.anyio
async def test_a_healthy_provider_says_so(harness: Harness) -> None:
    health = await harness.sender.health()
    assert (health.status, health.problem, health.details["reachable"]) == ("HEALTHY", None, True)
