"""The relational schema. Portable SQL only: SQLite now, PostgreSQL on the same code later.

Every tenant-owned table carries ``partner_id`` and every query filters on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine


class _SQLiteDateTimeText(sqlite.DATETIME):
    """SQLite's DATETIME column (the DDL is unchanged), its text passed through as is: UTCDateTime
    formats and parses it itself. SQLAlchemy's own processors built the text from a dict of fields and
    parsed it back with a regular expression, ~3% of the server's CPU per memo; the text is the same."""

    def __init__(self, **kw: Any) -> None:  # adapted copies are made with the parent's keywords
        super().__init__(**kw)  # type: ignore[no-untyped-call]

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset of its own: there the
    value is stored as the text ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC, as SQLAlchemy wrote it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLiteDateTimeText())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None).isoformat(" ", "microseconds") if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


ID = String(36)


class PartnerRow(Base):
    __tablename__ = "partners"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    #: sha256 of the full key: keys are 256-bit random, so a fast hash is enough and lookups stay O(1)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LineRow(Base):
    __tablename__ = "lines"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    phone_number: Mapped[str] = mapped_column(String(16), unique=True)
    sender_kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the sender's settings (e.g. the BlueBubbles server's URL); never a secret
    sender_config: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: the sender's password, sealed (storage/sealing.py): it must be sent, so it cannot be hashed
    sender_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: sha256 of the token in the URL the provider pushes events to
    hook_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    health_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    health: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    health_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ChatRow(Base):
    __tablename__ = "chats"
    __table_args__ = (
        UniqueConstraint("line_id", "participants_key"),
        Index("ix_chats_partner_created", "partner_id", "created_at", "id"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id"))
    #: the sorted recipient handles: "same from + same set of to" finds the existing chat
    participants_key: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_group: Mapped[bool] = mapped_column(Boolean)
    service: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the sender's own id of the chat (BlueBubbles: its chat guid), once a message created or found it
    provider_chat_id: Mapped[str | None] = mapped_column(String(255), nullable=True)


class ChatHandleRow(Base):
    __tablename__ = "chat_handles"
    __table_args__ = (UniqueConstraint("chat_id", "handle"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    chat_id: Mapped[str] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), index=True)
    handle: Mapped[str] = mapped_column(String(320), index=True)
    service: Mapped[str] = mapped_column(String(16))
    is_me: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AttachmentRow(Base):
    __tablename__ = "attachments"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blob_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mime_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    codec: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sample_rate: Mapped[int | None] = mapped_column(Integer, nullable=True)
    channels: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: the exact decoded length in samples at sample_rate (what the renditions must reproduce)
    samples: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    origin_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: waveform peaks, base64 of PEAK_BUCKETS bytes (domain/waveform.py); None: not measured yet
    peaks: Mapped[str | None] = mapped_column(String(200), nullable=True)


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_chat_created", "chat_id", "created_at", "id"),
        # the operator view's recent failures: only failed messages are in it, so other writes pay nothing
        Index(
            "ix_messages_failed",
            "updated_at",
            sqlite_where=text("delivery_status = 'failed'"),
            postgresql_where=text("delivery_status = 'failed'"),
        ),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[str] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    from_number: Mapped[str] = mapped_column(String(16))
    service: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    delivery_status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)


class MessagePartRow(Base):
    __tablename__ = "message_parts"
    __table_args__ = (UniqueConstraint("message_id", "position"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    attachment_id: Mapped[str | None] = mapped_column(ForeignKey("attachments.id"), nullable=True)


class WebhookSubscriptionRow(Base):
    __tablename__ = "webhook_subscriptions"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    target_url: Mapped[str] = mapped_column(Text)
    subscribed_events: Mapped[list[str]] = mapped_column(JSON)
    phone_numbers: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    #: sealed (storage/sealing.py): every delivery is signed with it, so it cannot be a one-way hash
    signing_secret: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IdempotencyRow(Base):
    __tablename__ = "idempotency_keys"
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: the process running the request (host:pid:instance) and when it must have finished
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: what the request created, written in the same transaction: the response can be rebuilt from it
    resource_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    resource_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class JobRow(Base):
    """The durable queue: written in the same transaction as the message or event it serves."""

    __tablename__ = "jobs"
    __table_args__ = (
        # a claim reads unheld due jobs in run_at order
        Index("ix_jobs_claim", "status", "held", "run_at"),
        # the triggers of migration 0008 look for a key's unheld open job and its lowest held one
        Index("ix_jobs_order_open", "order_key", "held", "status", "id"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # queued, running, done, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: jobs sharing an order key run strictly one after another, in id order
    order_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: waiting behind an earlier open job of its order key; kept by the database's triggers (migration 0008)
    held: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RenditionRow(Base):
    """One rendition per (audio sha256, profile), reused by every send of that audio."""

    __tablename__ = "renditions"
    __table_args__ = (UniqueConstraint("sha256", "profile"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str] = mapped_column(String(40))
    blob_key: Mapped[str] = mapped_column(String(200))
    mime_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    duration_ms: Mapped[int] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReceiptRow(Base):
    """Per-recipient receipts of a message (groups report each recipient separately)."""

    __tablename__ = "message_receipts"
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    handle: Mapped[str] = mapped_column(String(320), primary_key=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookAttemptRow(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_event", "event_id", "attempt"),
        Index("ix_webhook_attempts_subscription", "partner_id", "subscription_id", "created_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(36), index=True)
    subscription_id: Mapped[str] = mapped_column(String(36))
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))  # delivered, retry, gave_up
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the first 512 characters of the receiver's answer (None: no answer came, or recorded before 0007)
    response_excerpt: Mapped[str | None] = mapped_column(String(512), nullable=True)
    #: the delivery job, whose payload holds the event's body (for redelivery)
    job_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SendRow(Base):
    """One provider message of one of our messages: written before the provider call, completed after.

    The core's exactly-once record: an ``attempting`` row found by a re-run means an earlier
    attempt may have reached the provider, and the sender is asked before sending again.
    """

    __tablename__ = "sends"
    __table_args__ = (
        UniqueConstraint("line_id", "provider_message_id"),
        Index("ix_sends_chat_attempt", "chat_id", "first_attempt_at"),
    )
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(36))
    line_id: Mapped[str] = mapped_column(String(36))
    provider: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # attempting, accepted, refused
    provider_message_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer)
    first_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class HandleServiceRow(Base):
    """Which service reaches a handle from a line, as the line's sender answered (cached with a TTL)."""

    __tablename__ = "handle_services"
    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True)
    handle: Mapped[str] = mapped_column(String(320), primary_key=True)
    #: None: no service reaches the handle from this line
    service: Mapped[str | None] = mapped_column(String(16), nullable=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
