"""The sender port: whoever actually talks to Apple (or a carrier) for a line.

A sender checks which service a handle is on, sends one message to a chat (text parts
or the memo rendition, flagged as an audio message for a bubble), and reports receipts
asynchronously. The message id is the idempotency key: sending the same id twice must
not reach the recipients twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from voicememo.domain.models import Service


@dataclass(frozen=True, slots=True)
class Outgoing:
    message_id: str
    chat_id: str
    from_number: str
    recipients: tuple[str, ...]
    service: Service
    is_group: bool
    texts: tuple[str, ...] = ()
    file: Path | None = None
    filename: str | None = None
    mime_type: str | None = None
    #: the private-API flag that makes iMessage show a voice-memo bubble
    audio_message: bool = False


@dataclass(frozen=True, slots=True)
class ExpectedReceipt:
    """A receipt the sender will report later (for the sandbox: when it simulates it)."""

    handle: str
    kind: Literal["delivered", "read"]
    after_seconds: float


class SendRejected(Exception):
    """The send cannot succeed (unreachable handle, refused payload); not retried."""


class Sender(Protocol):
    kind: str

    def service_for(self, handle: str) -> Service:
        """The service a message to ``handle`` goes over from this sender's lines."""
        ...

    async def send(self, message: Outgoing) -> tuple[ExpectedReceipt, ...]:
        """Send once per message id; raise SendRejected for permanent failures, anything else to retry."""
        ...


class SenderRegistry:
    """Sender kinds by name, wired once in the container."""

    def __init__(self, senders: list[Sender]) -> None:
        self._by_kind = {s.kind: s for s in senders}

    @property
    def kinds(self) -> list[str]:
        return sorted(self._by_kind)

    def get(self, kind: str) -> Sender:
        try:
            return self._by_kind[kind]
        except KeyError:
            raise LookupError(f"unknown sender kind {kind!r}; known: {', '.join(self.kinds)}") from None
