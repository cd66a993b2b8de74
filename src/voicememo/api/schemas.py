"""Wire schemas, named after the Linq operations and using their exact field names.

``from`` is a Python keyword, so it is ``from_`` here with the wire alias ``from``.
Requests ignore unknown fields (older clients send a stray ``from`` to the memo call).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ServiceName = Literal["iMessage", "SMS", "RCS"]
DeliveryStatusName = Literal["pending", "queued", "sent", "delivered", "read", "failed", "received"]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


# ---- requests -------------------------------------------------------------------------------


class ChatCreateParams(_In):
    from_: str = Field(alias="from", description="One of your lines, E.164.")
    to: list[str] = Field(description="1 to 31 handles: E.164 numbers or e-mail addresses.")
    message: dict[str, Any] = Field(description="{parts: [{type: text, value} | {type: media, url | attachment_id}]}")
    override_optout: bool | None = None


class ChatSendVoicememoParams(_In):
    voice_memo_url: str | None = Field(default=None, description="A public HTTPS URL of the audio (≤ 10 MB).")
    attachment_id: str | None = Field(default=None, description="A completed pre-upload (≤ 100 MB).")
    override_optout: bool | None = None


class ParticipantParams(_In):
    handle: str


class AttachmentCreateParams(_In):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str
    size_bytes: int


E164_PATTERN = r"^\+[1-9][0-9]{1,14}$"
_ADDR = r"[^@\s\u0000-\u001f\u007f-\u009f]"
HANDLE_PATTERN = (
    rf"^(\+[1-9][0-9]{{1,14}}|{_ADDR}{{1,64}}@{_ADDR}{{1,255}}\.[^@\s.\u0000-\u001f\u007f-\u009f]{{2,63}})$"
)


class CapabilityCheckParams(_In):
    # The patterns document what the service accepts; its own check gives the message a person can act on.
    address: str = Field(
        description="An E.164 phone number, or (check_imessage only) an e-mail address.",
        json_schema_extra={"pattern": HANDLE_PATTERN},
    )
    from_: str | None = Field(
        default=None,
        alias="from",
        description="The line to check from; default: one of yours.",
        json_schema_extra={"pattern": E164_PATTERN},
    )


class CapabilityCheckRcsParams(CapabilityCheckParams):
    address: str = Field(
        description="An E.164 phone number (RCS has no e-mail addressing).",
        json_schema_extra={"pattern": E164_PATTERN},
    )


class WebhookSubscriptionCreateParams(_In):
    target_url: str
    subscribed_events: list[str]
    phone_numbers: list[str] | None = None


class WebhookSubscriptionUpdateParams(_In):
    target_url: str | None = None
    subscribed_events: list[str] | None = None
    phone_numbers: list[str] | None = None
    is_active: bool | None = None


# ---- responses ------------------------------------------------------------------------------


class ChatHandleOut(_Out):
    id: str
    handle: str
    service: ServiceName
    joined_at: datetime
    is_me: bool
    left_at: datetime | None
    status: Literal["active", "left", "removed"]


class HealthStatusOut(_Out):
    status: Literal["HEALTHY"] = "HEALTHY"
    doc_url: str
    updated_at: datetime


class TextPartOut(_Out):
    type: Literal["text"] = "text"
    value: str
    reactions: list[Any] = Field(default_factory=list)


class MediaPartOut(_Out):
    type: Literal["media"] = "media"
    id: str
    url: str
    filename: str
    mime_type: str
    size_bytes: int
    reactions: list[Any] = Field(default_factory=list)


PartOut = TextPartOut | MediaPartOut


class SentMessageOut(_Out):
    id: str
    created_at: datetime
    delivery_status: DeliveryStatusName
    is_read: bool
    parts: list[PartOut]
    sent_at: datetime | None
    delivered_at: datetime | None
    from_handle: ChatHandleOut
    service: ServiceName


class ChatOut(_Out):
    id: str
    created_at: datetime
    updated_at: datetime
    display_name: str | None
    handles: list[ChatHandleOut]
    health_status: HealthStatusOut
    is_archived: bool = False
    is_group: bool
    service: ServiceName | None


class CreatedChatOut(_Out):
    id: str
    display_name: str | None
    handles: list[ChatHandleOut]
    health_status: HealthStatusOut
    is_group: bool
    service: ServiceName
    message: SentMessageOut


class ChatCreateResponse(_Out):
    chat: CreatedChatOut


class ChatListResponse(_Out):
    chats: list[ChatOut]
    next_cursor: str | None


class MessageOut(_Out):
    id: str
    chat_id: str
    created_at: datetime
    updated_at: datetime
    delivery_status: DeliveryStatusName
    is_delivered: bool
    is_from_me: bool = True
    is_read: bool
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    from_: str = Field(alias="from")
    from_handle: ChatHandleOut
    service: ServiceName
    parts: list[PartOut]
    error_code: int | None = Field(default=None, description="Set when delivery_status is failed (4001).")
    error_reason: str | None = None


class MessageListResponse(_Out):
    messages: list[MessageOut]
    next_cursor: str | None


class VoiceMemoAudioOut(_Out):
    id: str
    filename: str
    mime_type: str
    size_bytes: int
    url: str
    duration_ms: int


class VoiceMemoChatOut(_Out):
    id: str
    handles: list[ChatHandleOut]
    is_group: bool
    is_active: bool
    service: ServiceName


class VoiceMemoOut(_Out):
    id: str
    from_: str = Field(alias="from")
    to: list[str]
    status: DeliveryStatusName
    service: ServiceName
    created_at: datetime
    voice_memo: VoiceMemoAudioOut
    chat: VoiceMemoChatOut


class ChatSendVoicememoResponse(_Out):
    voice_memo: VoiceMemoOut


LineHealthName = Literal["HEALTHY", "AT_RISK", "CRITICAL"]


class ReputationOut(_Out):
    status: LineHealthName = "HEALTHY"
    doc_url: str


class LineHealthOut(_Out):
    """Deprecated in the SDKs, still required by the TypeScript SDK's types: the same state as reputation."""

    status: LineHealthName = "HEALTHY"
    doc_url: str
    updated_at: datetime


class PhoneNumberOut(_Out):
    id: str
    phone_number: str
    line_type: Literal["iMessage"] = "iMessage"
    reputation: ReputationOut
    health_status: LineHealthOut


class PhoneNumberListResponse(_Out):
    phone_numbers: list[PhoneNumberOut]


class HandleCheckResponse(_Out):
    address: str
    available: bool
    reason: Literal["not_supported"] | None = None
    selected_service: ServiceName | None = None


class AttachmentCreateResponse(_Out):
    attachment_id: str
    upload_url: str
    download_url: str
    http_method: Literal["PUT"] = "PUT"
    expires_at: datetime
    required_headers: dict[str, str]


class AttachmentOut(_Out):
    id: str
    filename: str
    content_type: str
    size_bytes: int
    status: Literal["pending", "complete", "failed"]
    created_at: datetime
    download_url: str | None
    duration_ms: int | None = Field(default=None, description="Exact length, once the upload is complete.")
    failure_reason: str | None = Field(default=None, description="Why the upload was refused, when it failed.")


class ParticipantChangeResponse(_Out):
    message: str
    status: str
    trace_id: str


class WebhookSubscriptionOut(_Out):
    id: str
    target_url: str
    subscribed_events: list[str]
    phone_numbers: list[str] | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


class WebhookSubscriptionCreateResponse(WebhookSubscriptionOut):
    signing_secret: str


class WebhookSubscriptionListResponse(_Out):
    subscriptions: list[WebhookSubscriptionOut]


class ErrorDetail(_Out):
    status: int
    code: int
    message: str
    doc_url: str
    retry_after: int | None = None


class ErrorResponse(_Out):
    success: Literal[False] = False
    error: ErrorDetail
    trace_id: str
