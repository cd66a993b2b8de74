"""The sandbox sender: behaves like an Apple-side sender, deterministically, on Linux.

Service rule (documented in the README, stable so tests and users can rely on it):
an e-mail address is always iMessage; a phone number ending in 9 is SMS-only, one
ending in 8 is RCS; every other phone number is iMessage.

Every item "sent" is recorded under ``outbox/<send id>/``: the exact file and a
``message.json`` with chat, recipients, service, flags and the provider message id. The
directory appears with one atomic rename. Like a real provider it does not de-duplicate: a
second send of the same item is recorded beside the first (``<send id>.again-…``), so a
core that sent twice would show it. Receipts are scheduled through the receipt sink, as
jobs, at the configured delays; those with a delay of 0 come back with the send's answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

from voicememo.domain.models import Service, utcnow
from voicememo.senders.base import (
    Accepted,
    ChatRef,
    LineBinding,
    LineHealth,
    Outgoing,
    ReceiptEvent,
    ReceiptKind,
    ReceiptSink,
    SenderConfigError,
    SendRejected,
)

_PROVIDER_PREFIX = "sandbox:"


@dataclass(frozen=True)
class SandboxConfig:
    outbox: Path
    send_delay: float = 0.0
    delivered_delay: float = 0.5
    read_delay: float = 2.0
    fail_pattern: str | None = None


def sandbox_service(handle: str) -> Service:
    if "@" in handle:
        return Service.IMESSAGE
    last = handle[-1:]
    if last == "9":
        return Service.SMS
    if last == "8":
        return Service.RCS
    return Service.IMESSAGE


class SandboxKind:
    name = "sandbox"
    needs_secret = False

    def __init__(self, config: SandboxConfig, sink: ReceiptSink) -> None:
        self.config = config
        self.sink = sink

    def check_config(self, config: Mapping[str, Any], secret: str | None) -> dict[str, Any]:
        if config or secret:
            raise SenderConfigError("the sandbox sender takes no settings.")
        return {}

    def bind(self, line: LineBinding) -> SandboxSender:
        return SandboxSender(self.config, self.sink, line)


class SandboxSender:
    def __init__(self, config: SandboxConfig, sink: ReceiptSink, line: LineBinding) -> None:
        self.config = config
        self.sink = sink
        self.line = line
        self._fail = re.compile(config.fail_pattern) if config.fail_pattern else None

    async def lookup(self, handle: str) -> Service | None:
        return sandbox_service(handle)

    async def send(self, item: Outgoing) -> Accepted:
        if self._fail is not None:
            for handle in item.chat.recipients:
                if self._fail.search(handle):
                    raise SendRejected(f"{handle} is not reachable (sandbox failure injection).")
        if self.config.send_delay:
            await asyncio.sleep(self.config.send_delay)  # simulated time on Apple's side
        provider_id = f"{_PROVIDER_PREFIX}{item.send_id}:{uuid.uuid4().hex[:12]}"
        sent_at = utcnow()
        await anyio.to_thread.run_sync(self._record, item, provider_id, sent_at)
        at_once = await self._schedule(self._receipts(item, provider_id, sent_at))
        chat_id = item.chat.provider_chat_id or f"sandbox;{item.chat.chat_id}"
        return Accepted(provider_id, provider_chat_id=chat_id, receipts=at_once)

    async def find_earlier(self, item: Outgoing, since: datetime, known: frozenset[str]) -> Accepted | None:
        record = await anyio.to_thread.run_sync(_read_record, self.config.outbox / item.send_id)
        if record is None or record["provider_message_id"] in known:
            return None
        # Apple's side sends its receipts whatever happened to us: a crash between the send and their
        # scheduling must not leave the memo "sent" until reconciliation. Repeated receipts are no-ops.
        sent_at, now = datetime.fromisoformat(str(record["sent_at"])), utcnow()
        due = [
            (event, max(0.0, (sent_at + timedelta(seconds=after) - now).total_seconds()))
            for event, after in self._receipts_for(record, sent_at)
        ]
        at_once = await self._schedule(due)
        return Accepted(
            str(record["provider_message_id"]), provider_chat_id=record.get("provider_chat_id"), receipts=at_once
        )

    async def poll(self, provider_message_id: str, chat: ChatRef) -> list[ReceiptEvent]:
        send_id = provider_message_id.removeprefix(_PROVIDER_PREFIX).rsplit(":", 1)[0]
        record = await anyio.to_thread.run_sync(_read_record, self.config.outbox / send_id)
        if record is None or record["provider_message_id"] != provider_message_id:
            return []
        sent_at = datetime.fromisoformat(str(record["sent_at"]))
        now = utcnow()
        return [e for e, after in self._receipts_for(record, sent_at) if sent_at + timedelta(seconds=after) <= now]

    def parse_event(self, body: bytes) -> list[ReceiptEvent]:
        raise ValueError("the sandbox sender pushes no events")

    async def health(self) -> LineHealth:
        return LineHealth("HEALTHY", None, {"reachable": True, "sender": "sandbox"}, utcnow())

    async def subscribe(self, prefix: str, callback_url: str | None) -> bool:
        return False  # receipts come as scheduled jobs

    async def aclose(self) -> None:
        return None

    async def _schedule(self, receipts: list[tuple[ReceiptEvent, float]]) -> tuple[ReceiptEvent, ...]:
        """Receipts due later become jobs; those due at once (a delay of 0) go back with the answer,
        for the core to apply in the acceptance's own transaction (a job each cost more than the send)."""
        later = [(event, after) for event, after in receipts if after > 0]
        if later:
            await self.sink.later(self.line.line_id, later)
        return tuple(event for event, after in receipts if after <= 0)

    def _receipts(self, item: Outgoing, provider_id: str, sent_at: datetime) -> list[tuple[ReceiptEvent, float]]:
        record = {
            "provider_message_id": provider_id,
            "recipients": list(item.chat.recipients),
            "service": item.chat.service.value,
        }
        return self._receipts_for(record, sent_at)

    def _receipts_for(self, record: Mapping[str, Any], sent_at: datetime) -> list[tuple[ReceiptEvent, float]]:
        """Delivered after ``delivered_delay``; read after ``read_delay`` (iMessage only, never if negative)."""
        provider_id = str(record["provider_message_id"])
        recipients = [str(h) for h in record["recipients"]]
        delivered = self.config.delivered_delay
        out = [
            (ReceiptEvent(provider_id, ReceiptKind.DELIVERED, sent_at + timedelta(seconds=delivered), h), delivered)
            for h in recipients
        ]
        if self.config.read_delay >= 0 and record["service"] == Service.IMESSAGE.value:
            read = max(self.config.read_delay, delivered)
            out += [
                (ReceiptEvent(provider_id, ReceiptKind.READ, sent_at + timedelta(seconds=read), h), read)
                for h in recipients
            ]
        return out

    def _record(self, item: Outgoing, provider_id: str, sent_at: datetime) -> None:
        outbox = self.config.outbox
        outbox.mkdir(parents=True, exist_ok=True)
        staging = outbox / f".{item.send_id}.{os.getpid()}.{uuid.uuid4().hex}"  # pid: see services/debris.py
        staging.mkdir()
        record: dict[str, Any] = {
            "message_id": item.message_id,
            "seq": item.seq,
            "send_id": item.send_id,
            "provider_message_id": provider_id,
            "provider_chat_id": item.chat.provider_chat_id or f"sandbox;{item.chat.chat_id}",
            "chat_id": item.chat.chat_id,
            "from": self.line.number,
            "recipients": list(item.chat.recipients),
            "service": item.chat.service.value,
            "is_group": item.chat.is_group,
            "text": item.text,
            "audio_message": item.audio_message,
            "sent_at": sent_at.astimezone(UTC).isoformat(),
        }
        if item.file is not None:
            shutil.copyfile(item.file.path, staging / item.file.filename)
            record.update(file=item.file.filename, mime_type=item.file.mime_type, size_bytes=item.file.size_bytes)
        (staging / "message.json").write_text(json.dumps(record, indent=2))
        for path in staging.iterdir():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        try:
            staging.rename(outbox / item.send_id)
        except OSError:  # sent before: a real provider would send again, and so do we (the core must not ask)
            staging.rename(outbox / f"{item.send_id}.again-{uuid.uuid4().hex[:8]}")


def _read_record(folder: Path) -> dict[str, Any] | None:
    meta = folder / "message.json"
    if not meta.is_file():
        return None
    record: dict[str, Any] = json.loads(meta.read_text())
    return record


def read_outbox(outbox: Path) -> list[dict[str, Any]]:
    """Every recorded send, oldest first (``voicememo sandbox outbox``)."""
    if not outbox.is_dir():
        return []
    entries = []
    for folder in outbox.iterdir():
        record = None if folder.name.startswith(".") else _read_record(folder)
        if record is not None:
            entries.append({**record, "path": str(folder)})
    return sorted(entries, key=lambda e: str(e["sent_at"]))
