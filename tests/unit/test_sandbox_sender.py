"""The sandbox sender's contract: one outbox record per message id, honest flags, failure injection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voicememo.domain.models import Service
from voicememo.senders.base import Outgoing, SendRejected
from voicememo.senders.sandbox import SandboxConfig, SandboxSender, read_outbox


def outgoing(tmp_path: Path, message_id: str = "m1", to: tuple[str, ...] = ("+15550000001",)) -> Outgoing:
    audio = tmp_path / "src.caf"
    audio.write_bytes(b"caff-bytes")
    return Outgoing(
        message_id=message_id,
        chat_id="c1",
        from_number="+15550000000",
        recipients=to,
        service=Service.IMESSAGE,
        is_group=False,
        file=audio,
        filename="Audio Message.caf",
        mime_type="audio/x-caf",
        audio_message=True,
    )


@pytest.mark.anyio
async def test_the_same_message_id_is_sent_once(tmp_path: Path) -> None:
    sender = SandboxSender(SandboxConfig(outbox=tmp_path / "outbox", delivered_delay=0.1, read_delay=0.3))
    first = await sender.send(outgoing(tmp_path))
    again = await sender.send(outgoing(tmp_path))
    assert first == again
    assert [(r.kind, r.after_seconds) for r in first] == [("delivered", 0.1), ("read", 0.3)]
    entries = read_outbox(tmp_path / "outbox")
    assert len(entries) == 1
    folder = Path(entries[0]["path"])
    assert (folder / "Audio Message.caf").read_bytes() == b"caff-bytes"
    record = json.loads((folder / "message.json").read_text())
    assert (record["audio_message"], record["service"], record["size_bytes"]) == (True, "iMessage", 10)


@pytest.mark.anyio
async def test_failure_injection(tmp_path: Path) -> None:
    sender = SandboxSender(SandboxConfig(outbox=tmp_path / "outbox", fail_pattern=r"0666$"))
    with pytest.raises(SendRejected, match=r"\+15550000666 is not reachable"):
        await sender.send(outgoing(tmp_path, to=("+15550000001", "+15550000666")))
    assert read_outbox(tmp_path / "outbox") == []
