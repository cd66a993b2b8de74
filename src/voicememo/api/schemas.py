"""Wire schemas, named after the Linq operations and using their exact field names.

``from`` is a Python keyword, so it is ``from_`` here with the wire alias ``from``.
Requests ignore unknown fields (older clients send a stray ``from`` to the memo call).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from voicememo.services.attachments import AUDIO_CONTENT_TYPES
from voicememo.services.webhooks import EVENTS

ServiceName = Literal["iMessage", "SMS", "RCS"]
DeliveryStatusName = Literal["pending", "queued", "sent", "delivered", "read", "failed", "received"]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


# ---- requests -------------------------------------------------------------------------------


E164_PATTERN = r"^\+[1-9][0-9]{1,14}$"
#: HTTPS (plain HTTP only on a server configured for its LAN); the service says what else is wrong
URL_PATTERN = r"^https?://[^/?#@\s]+"
_ADDR = r"[^@\s\u0000-\u001f\u007f-\u009f]"
HANDLE_PATTERN = (
    rf"^(\+[1-9][0-9]{{1,14}}|{_ADDR}{{1,64}}@{_ADDR}{{1,255}}\.[^@\s.\u0000-\u001f\u007f-\u009f]{{2,63}})$"
)

# The documented shape of ``message`` in POST /v3/chats. The service checks it (and says which part is
# wrong, with the contract's codes: 1001 for a missing part or empty text); this tells clients up front.
MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["parts"],
    "properties": {
        "parts": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["type", "value"],
                        "properties": {
                            "type": {"const": "text"},
                            "value": {"type": "string", "minLength": 1, "pattern": r"\S"},
                        },
                    },
                    {
                        "type": "object",
                        "required": ["type", "attachment_id"],
                        "properties": {
                            "type": {"const": "media"},
                            "attachment_id": {"type": "string", "minLength": 1},
                        },
                    },
                ]
            },
        },
        "idempotency_key": {"type": "string"},
    },
    "examples": [{"parts": [{"type": "text", "value": "Hello!"}]}],
}


def when_given(constraints: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """``json_schema_extra`` for an optional field: the constraints go on its non-null branch."""

    def apply(schema: dict[str, Any]) -> None:
        for branch in schema.get("anyOf", [schema]):
            if branch.get("type") != "null":
                branch.update(constraints)

    return apply


class ChatCreateParams(_In):
    from_: str = Field(
        alias="from",
        description="One of your lines, E.164.",
        json_schema_extra={"pattern": E164_PATTERN, "examples": ["+15550100001"]},
    )
    to: list[str] = Field(
        description="1 to 31 handles: E.164 numbers or e-mail addresses.",
        json_schema_extra={
            "minItems": 1,
            "maxItems": 31,
            "items": {"type": "string", "pattern": HANDLE_PATTERN},
            "examples": [["+15557654320"]],
        },
    )
    message: dict[str, Any] = Field(
        description="{parts: [{type: text, value} | {type: media, attachment_id}]}",
        json_schema_extra=MESSAGE_SCHEMA,
    )
    override_optout: StrictBool | None = None


class ChatSendVoicememoParams(_In):
    voice_memo_url: str | None = Field(
        default=None,
        description="A public HTTPS URL of the audio (≤ 10 MB). Exactly one of voice_memo_url and attachment_id.",
        json_schema_extra=when_given({"pattern": URL_PATTERN}),
    )
    attachment_id: str | None = Field(
        default=None, description="A completed pre-upload (≤ 100 MB).", json_schema_extra=when_given({"minLength": 1})
    )
    override_optout: StrictBool | None = None


class ParticipantParams(_In):
    handle: str = Field(json_schema_extra={"pattern": HANDLE_PATTERN, "examples": ["+15557654322"]})


_AUDIO_TYPES: dict[str, Any] = {"enum": AUDIO_CONTENT_TYPES}


class AttachmentCreateParams(_In):
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(
        description="The audio's MIME type; sent back as the Content-Type the upload must carry.",
        json_schema_extra=_AUDIO_TYPES,
    )
    size_bytes: int = Field(
        description="The exact size of the file; at most 104857600 (100 MB) by default, else 413.",
        json_schema_extra={"minimum": 1},
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


_EVENTS_SCHEMA: dict[str, Any] = {
    "minItems": 1,
    "items": {"type": "string", "enum": list(EVENTS)},
    "examples": [["message.sent", "message.failed"]],
}
_TARGET_URL: dict[str, Any] = {"pattern": URL_PATTERN, "examples": ["https://hooks.example.com/voicememo"]}
_LINES: dict[str, Any] = {"items": {"type": "string", "pattern": E164_PATTERN}}


class WebhookSubscriptionCreateParams(_In):
    target_url: str = Field(description="An HTTPS URL on a public host.", json_schema_extra=_TARGET_URL)
    subscribed_events: list[str] = Field(description="One or more events.", json_schema_extra=_EVENTS_SCHEMA)
    phone_numbers: list[str] | None = Field(
        default=None,
        description="Only events of these lines of yours; all when absent.",
        json_schema_extra=when_given(_LINES),
    )


class WebhookSubscriptionUpdateParams(_In):
    target_url: str | None = Field(default=None, json_schema_extra=when_given(_TARGET_URL))
    subscribed_events: list[str] | None = Field(
        default=None,
        description="One or more events; replaces the list.",
        json_schema_extra=when_given(_EVENTS_SCHEMA),
    )
    phone_numbers: list[str] | None = Field(default=None, json_schema_extra=when_given(_LINES))
    is_active: StrictBool | None = None


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


class UploadOut(_Out):
    attachment_id: str
    status: Literal["pending", "complete", "failed"]
    size_bytes: int
    duration_ms: int | None


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
