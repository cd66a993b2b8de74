"""The sandbox sender: behaves like an Apple-side sender, deterministically, on Linux.

Service rule (documented in the README, stable so tests and users can rely on it):
an e-mail address is always iMessage; a phone number ending in 9 is SMS-only, one
ending in 8 is RCS; every other phone number is iMessage.

Every "sent" payload is recorded under ``outbox/<message_id>/``: the exact file and a
``message.json`` with chat, recipients, service and flags. The directory appears with one
atomic rename, and an existing one means "already sent": a re-run cannot send twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from voicememo.domain.models import Service
from voicememo.senders.base import ExpectedReceipt, Outgoing, SendRejected


@dataclass(frozen=True)
class SandboxConfig:
    outbox: Path
    send_delay: float = 0.0
    delivered_delay: float = 0.5
    read_delay: float = 2.0
    fail_pattern: str | None = None


class SandboxSender:
    kind = "sandbox"

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._fail = re.compile(config.fail_pattern) if config.fail_pattern else None

    def service_for(self, handle: str) -> Service:
        if "@" in handle:
            return Service.IMESSAGE
        last = handle[-1:]
        if last == "9":
            return Service.SMS
        if last == "8":
            return Service.RCS
        return Service.IMESSAGE

    async def send(self, message: Outgoing) -> tuple[ExpectedReceipt, ...]:
        if self._fail is not None:
            for handle in message.recipients:
                if self._fail.search(handle):
                    raise SendRejected(f"{handle} is not reachable (sandbox failure injection).")
        if self.config.send_delay:
            await asyncio.sleep(self.config.send_delay)  # simulated time on Apple's side
        await anyio.to_thread.run_sync(self._record, message)
        return self._receipts(message)

    def _receipts(self, message: Outgoing) -> tuple[ExpectedReceipt, ...]:
        receipts = [ExpectedReceipt(h, "delivered", self.config.delivered_delay) for h in message.recipients]
        if self.config.read_delay >= 0 and message.service is Service.IMESSAGE:
            read_at = max(self.config.read_delay, self.config.delivered_delay)
            receipts += [ExpectedReceipt(h, "read", read_at) for h in message.recipients]
        return tuple(receipts)

    def _record(self, message: Outgoing) -> None:
        target = self.config.outbox / message.message_id
        if target.exists():
            return  # already sent: the idempotency key held
        self.config.outbox.mkdir(parents=True, exist_ok=True)
        staging = self.config.outbox / f".{message.message_id}.{uuid.uuid4().hex}"
        staging.mkdir()
        record: dict[str, Any] = {
            "message_id": message.message_id,
            "chat_id": message.chat_id,
            "from": message.from_number,
            "recipients": list(message.recipients),
            "service": message.service.value,
            "is_group": message.is_group,
            "texts": list(message.texts),
            "audio_message": message.audio_message,
            "sent_at": datetime.now(UTC).isoformat(),
        }
        if message.file is not None and message.filename:
            shutil.copyfile(message.file, staging / message.filename)
            record.update(file=message.filename, mime_type=message.mime_type, size_bytes=message.file.stat().st_size)
        (staging / "message.json").write_text(json.dumps(record, indent=2))
        for path in staging.iterdir():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        try:
            staging.rename(target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # a concurrent run recorded it first


def read_outbox(outbox: Path) -> list[dict[str, Any]]:
    """Every recorded send, oldest first (``voicememo sandbox outbox``)."""
    if not outbox.is_dir():
        return []
    entries = []
    for folder in outbox.iterdir():
        meta = folder / "message.json"
        if folder.name.startswith(".") or not meta.is_file():
            continue
        entries.append({**json.loads(meta.read_text()), "path": str(folder)})
    return sorted(entries, key=lambda e: str(e["sent_at"]))
