"""Plain domain objects: what the services reason about, free of SQL and HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC)


class Service(StrEnum):
    IMESSAGE = "iMessage"
    SMS = "SMS"
    RCS = "RCS"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class AttachmentStatus(StrEnum):
    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"


class HandleStatus(StrEnum):
    ACTIVE = "active"
    LEFT = "left"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Partner:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    partner_id: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Line:
    id: str
    partner_id: str
    phone_number: str
    sender_kind: str
    created_at: datetime
    #: the sender's settings (never its secret, which stays sealed in storage)
    sender_config: Mapping[str, Any] = field(default_factory=dict)
    #: HEALTHY / AT_RISK / CRITICAL as last checked; None: never checked
    health_status: str | None = None
    health: Mapping[str, Any] | None = None
    health_checked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChatHandle:
    id: str
    handle: str
    service: Service
    joined_at: datetime
    is_me: bool
    left_at: datetime | None
    status: HandleStatus


@dataclass(frozen=True, slots=True)
class Chat:
    id: str
    partner_id: str
    line_id: str
    line_number: str
    display_name: str | None
    is_group: bool
    service: Service
    created_at: datetime
    updated_at: datetime
    handles: tuple[ChatHandle, ...]
    #: the sender's own id of the chat, once a send created or found it there
    provider_chat_id: str | None = None

    @property
    def me(self) -> ChatHandle:
        return next(h for h in self.handles if h.is_me)

    @property
    def is_active(self) -> bool:
        """Our own line still takes part (it has not left the chat)."""
        return self.me.status is HandleStatus.ACTIVE

    @property
    def recipients(self) -> tuple[ChatHandle, ...]:
        return tuple(h for h in self.handles if not h.is_me and h.status is HandleStatus.ACTIVE)


@dataclass(frozen=True, slots=True)
class Attachment:
    id: str
    partner_id: str
    filename: str
    content_type: str
    size_bytes: int
    status: AttachmentStatus
    created_at: datetime
    blob_key: str | None = None
    sha256: str | None = None
    mime_type: str | None = None
    codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    duration_ms: int | None = None
    samples: int | None = None
    failure_reason: str | None = None
    origin_url: str | None = None
    deleted_at: datetime | None = None
    #: waveform peaks in their stored form (domain/waveform.Waveform.decode); None: not measured yet
    peaks: str | None = None


@dataclass(frozen=True, slots=True)
class MessagePart:
    type: str  # "text" | "media"
    value: str | None = None
    attachment: Attachment | None = None


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    partner_id: str
    chat_id: str
    from_number: str
    service: Service
    kind: str  # "voice_memo" | "message"
    delivery_status: DeliveryStatus
    created_at: datetime
    updated_at: datetime
    parts: tuple[MessagePart, ...] = ()
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    error_code: int | None = None
    error_reason: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookSubscription:
    id: str
    partner_id: str
    target_url: str
    subscribed_events: tuple[str, ...]
    phone_numbers: tuple[str, ...] | None
    is_active: bool
    created_at: datetime
    updated_at: datetime
    signing_secret: str = field(repr=False, default="")
