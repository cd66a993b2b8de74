"""The sender port: whoever actually talks to Apple (or a carrier) for a line.

A *sender kind* (sandbox, bluebubbles, …) checks a line's configuration and binds it to a
:class:`LineSender`, which answers four questions for the core: which service reaches a
handle (``lookup``), send one item of a message (``send``), did an earlier attempt of this
item reach the provider (``find_earlier``), and what receipts has the provider seen
(``poll``, and ``parse_event`` for what the provider pushes to us). Exactly-once is the
core's job (``services/sending.py``): it records every attempt before the call and asks
``find_earlier`` after a crash, so an adapter never needs its own de-duplication.

Adapter errors are not HTTP errors; the services map them::

    SenderError (message, retryable)
    ├── SenderUnavailable   retryable: no answer, timeout, 5xx, 429 (the outcome may be unknown)
    └── SendRejected        permanent: refused password, invalid request, unreachable handle,
                            a Mac whose Private API cannot make a bubble
    SenderConfigError       a line's sender settings are unusable (operator input, never retried)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol

from voicememo.domain.models import Service


class SenderError(Exception):
    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SenderUnavailable(SenderError):
    """The provider could not be reached or failed on its side; try again later."""

    retryable = True


class SendRejected(SenderError):
    """The send cannot succeed as it is; retrying will not help."""


class SenderConfigError(ValueError):
    """A line's sender settings are unusable; the message says which and how to fix it."""


@dataclass(frozen=True, slots=True)
class LineBinding:
    """A line and its sender settings as stored (``secret`` opened from its sealed form)."""

    line_id: str
    number: str
    config: Mapping[str, Any]
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ChatRef:
    chat_id: str
    recipients: tuple[str, ...]
    service: Service
    is_group: bool
    #: the provider's own id of the chat, once known (BlueBubbles: the chat guid)
    provider_chat_id: str | None = None


@dataclass(frozen=True, slots=True)
class FilePayload:
    path: Path
    filename: str
    mime_type: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One provider message: a text, or one file (a message's parts go one item each, in order)."""

    message_id: str
    seq: int
    chat: ChatRef
    text: str | None = None
    file: FilePayload | None = None
    #: the private-API flag that makes iMessage show a voice-memo bubble
    audio_message: bool = False

    @property
    def send_id(self) -> str:
        """Our id of this item at the provider (BlueBubbles' ``tempGuid``)."""
        return self.message_id if self.seq == 0 else f"{self.message_id}.{self.seq}"


@dataclass(frozen=True, slots=True)
class Accepted:
    provider_message_id: str
    #: set when the send created (or found) the chat at the provider
    provider_chat_id: str | None = None
    #: whether the provider says it went flagged as an audio message (a bubble); None: it does not say
    audio_message: bool | None = None
    #: receipts the provider reported with its answer (the sandbox with a delay of 0): applied in the same
    #: transaction as the acceptance, so they need no job of their own
    receipts: tuple[ReceiptEvent, ...] = ()


class ReceiptKind(StrEnum):
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ReceiptEvent:
    provider_message_id: str
    kind: ReceiptKind
    at: datetime
    #: the recipient it is about; None: the message as a whole (every recipient)
    handle: str | None = None
    reason: str | None = None


HealthStatus = Literal["HEALTHY", "AT_RISK", "CRITICAL"]


@dataclass(frozen=True, slots=True)
class LineHealth:
    status: HealthStatus
    #: what is wrong and how to fix it, when the status is not HEALTHY
    problem: str | None
    details: Mapping[str, Any]
    checked_at: datetime


class ReceiptSink(Protocol):
    """Where a sender that simulates its provider schedules receipts (the sandbox)."""

    async def later(self, line_id: str, receipts: list[tuple[ReceiptEvent, float]]) -> None:
        """Each receipt, due that many seconds from now."""
        ...


class LineSender(Protocol):
    async def lookup(self, handle: str) -> Service | None:
        """The service a message to ``handle`` would go over from this line, or None if none reaches it."""
        ...

    async def send(self, item: Outgoing) -> Accepted:
        """Hand one item to the provider; raise SenderError. Not idempotent: the core decides."""
        ...

    async def find_earlier(self, item: Outgoing, since: datetime, known: frozenset[str]) -> Accepted | None:
        """Whether an attempt of ``item`` started after ``since`` reached the provider; ``known``:
        provider ids of this chat's other items, which never count as a match."""
        ...

    async def poll(self, provider_message_id: str, chat: ChatRef) -> list[ReceiptEvent]:
        """Receipts the provider has for a message now (reconciliation after lost events)."""
        ...

    def parse_event(self, body: bytes) -> list[ReceiptEvent]:
        """Receipts in a callback the provider pushed to us; raise ValueError on a malformed body."""
        ...

    async def health(self) -> LineHealth: ...

    async def subscribe(self, prefix: str, callback_url: str | None) -> bool:
        """Have the provider push events to ``callback_url`` instead of any earlier URL of ours (those
        under ``prefix``); None only removes ours. False: this sender pushes nothing."""
        ...

    async def aclose(self) -> None: ...


class SenderKind(Protocol):
    name: str
    #: whether a line of this kind needs a secret (a password), stored sealed
    needs_secret: bool

    def check_config(self, config: Mapping[str, Any], secret: str | None) -> dict[str, Any]:
        """The normalised settings to store; raise SenderConfigError when they are unusable."""
        ...

    def bind(self, line: LineBinding) -> LineSender: ...


class SenderRegistry:
    """Sender kinds by name, wired once in the container; bound line senders are reused."""

    def __init__(self, kinds: list[SenderKind]) -> None:
        self._by_name = {k.name: k for k in kinds}
        self._bound: dict[str, tuple[LineBinding, LineSender]] = {}
        self._retired: list[LineSender] = []  # rebound while a send may still use them: closed at the end

    @property
    def kinds(self) -> list[str]:
        return sorted(self._by_name)

    def kind(self, name: str) -> SenderKind:
        try:
            return self._by_name[name]
        except KeyError:
            raise SenderConfigError(f"unknown sender kind {name!r}; known: {', '.join(self.kinds)}") from None

    def for_line(self, kind: str, line: LineBinding) -> LineSender:
        """The line's sender; bound again when its settings changed (another process may change them)."""
        bound = self._bound.get(line.line_id)
        if bound is not None and bound[0] == line:
            return bound[1]
        sender = self.kind(kind).bind(line)
        if bound is not None:
            self._retired.append(bound[1])
        self._bound[line.line_id] = (line, sender)
        return sender

    async def aclose(self) -> None:
        senders = [s for _line, s in self._bound.values()] + self._retired
        self._bound, self._retired = {}, []
        for sender in senders:
            await sender.aclose()
