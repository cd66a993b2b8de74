"""What the console's pages show: plain frozen dataclasses, no SQL, no HTML."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from voicememo.domain.models import Chat, Line


@dataclass(frozen=True, slots=True)
class ChatSummary:
    chat: Chat
    #: the newest message's time and status (None: no message yet)
    last_message_at: datetime | None
    last_status: str | None
    message_count: int


@dataclass(frozen=True, slots=True)
class ChatPage:
    chats: tuple[ChatSummary, ...]
    #: pass back as ``cursor`` for the next (older) page; None: this was the last page
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class StatusStep:
    """One tick of a message: queued, sent, delivered, read, or failed."""

    status: str
    at: datetime | None
    #: failed only: the contract's error code and the reason
    code: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RenditionView:
    """The file the recipient got (iMessage: CAF Opus; SMS/RCS: the MMS rendition)."""

    profile: str
    mime_type: str
    filename: str
    size_bytes: int
    duration_ms: int
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MemoView:
    """A voice-memo part as the bubble needs it."""

    attachment_id: str
    filename: str
    #: exact, from the full decode at intake
    duration_ms: int | None
    #: the original upload's format (MIME type) and codec
    mime_type: str | None
    codec: str | None
    size_bytes: int
    #: the waveform peaks (0–255 each), None until computed (WaveformService computes them lazily)
    peaks: tuple[int, ...] | None
    #: the rendition made for the message's service, once made (None before the first send attempt)
    rendition: RenditionView | None
    #: "SMS" / "RCS" when the memo went as the MMS rendition instead of an iMessage bubble; else None
    fallback: str | None


@dataclass(frozen=True, slots=True)
class PartView:
    type: str  # "text" | "media"
    text: str | None = None
    memo: MemoView | None = None


@dataclass(frozen=True, slots=True)
class SendView:
    """One provider send of the message (the sends table): provider, state, attempts, error."""

    seq: int
    provider: str
    state: str  # attempting, accepted, refused
    provider_message_id: str | None
    attempts: int
    first_attempt_at: datetime
    accepted_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class MessageView:
    id: str
    kind: str  # "voice_memo" | "message"
    service: str
    status: str  # the current delivery status
    created_at: datetime
    parts: tuple[PartView, ...]
    #: queued → sent → delivered → read, or … → failed; a step not reached yet is absent
    steps: tuple[StatusStep, ...]
    sends: tuple[SendView, ...]


@dataclass(frozen=True, slots=True)
class Conversation:
    chat: Chat
    #: oldest first (newest last), the newest ``limit`` messages before ``before``
    messages: tuple[MessageView, ...]
    #: pass as ``before`` to load the older page; None: no older message
    older_cursor: str | None


@dataclass(frozen=True, slots=True)
class LineView:
    line: Line
    sender_kind: str
    #: HEALTHY / AT_RISK / CRITICAL, or None when never checked
    health_status: str | None
    #: what `voicememo lines check` reports: reachable, problem, receipts, and the sender's details
    details: dict[str, Any]
    checked_at: datetime | None
