"""Domain objects → wire schemas (the only place that knows both)."""

from __future__ import annotations

from voicememo.api import schemas as s
from voicememo.audio.formats import sdk_content_type
from voicememo.domain.models import (
    Attachment,
    AttachmentStatus,
    Chat,
    ChatHandle,
    DeliveryStatus,
    Line,
    Message,
    MessagePart,
    WebhookSubscription,
)
from voicememo.services.attachments import UploadSlot
from voicememo.services.context import Urls
from voicememo.services.reach import HandleCheck
from voicememo.services.voicememos import VoiceMemoSent

_DELIVERED = (DeliveryStatus.DELIVERED, DeliveryStatus.READ)


class Presenter:
    def __init__(self, urls: Urls) -> None:
        self.urls = urls

    def handle(self, h: ChatHandle) -> s.ChatHandleOut:
        return s.ChatHandleOut(
            id=h.id,
            handle=h.handle,
            service=h.service.value,
            joined_at=h.joined_at,
            is_me=h.is_me,
            left_at=h.left_at,
            status=h.status.value,
        )

    def health(self, chat: Chat) -> s.HealthStatusOut:
        return s.HealthStatusOut(doc_url=f"{self.urls.base}/docs/health", updated_at=chat.updated_at)

    def chat(self, chat: Chat) -> s.ChatOut:
        return s.ChatOut(
            id=chat.id,
            created_at=chat.created_at,
            updated_at=chat.updated_at,
            display_name=chat.display_name,
            handles=[self.handle(h) for h in chat.handles],
            health_status=self.health(chat),
            is_group=chat.is_group,
            service=chat.service.value,
        )

    def part(self, part: MessagePart) -> s.PartOut:
        if part.type == "text":
            return s.TextPartOut(value=part.value or "")
        a = part.attachment
        assert a is not None, "a media part always refers to an attachment"
        return s.MediaPartOut(
            id=a.id,
            url=self.urls.media(a),
            filename=a.filename,
            mime_type=a.mime_type or a.content_type,
            size_bytes=a.size_bytes,
        )

    def sent_message(self, m: Message, chat: Chat) -> s.SentMessageOut:
        return s.SentMessageOut(
            id=m.id,
            created_at=m.created_at,
            delivery_status=m.delivery_status.value,
            is_read=m.delivery_status is DeliveryStatus.READ,
            parts=[self.part(p) for p in m.parts],
            sent_at=m.sent_at,
            delivered_at=m.delivered_at,
            from_handle=self.handle(chat.me),
            service=m.service.value,
        )

    def created_chat(self, chat: Chat, m: Message) -> s.ChatCreateResponse:
        return s.ChatCreateResponse(
            chat=s.CreatedChatOut(
                id=chat.id,
                display_name=chat.display_name,
                handles=[self.handle(h) for h in chat.handles],
                health_status=self.health(chat),
                is_group=chat.is_group,
                service=chat.service.value,
                message=self.sent_message(m, chat),
            )
        )

    def message(self, m: Message, chat: Chat) -> s.MessageOut:
        return s.MessageOut(
            id=m.id,
            chat_id=m.chat_id,
            created_at=m.created_at,
            updated_at=m.updated_at,
            delivery_status=m.delivery_status.value,
            is_delivered=m.delivery_status in _DELIVERED,
            is_read=m.delivery_status is DeliveryStatus.READ,
            sent_at=m.sent_at,
            delivered_at=m.delivered_at,
            read_at=m.read_at,
            from_=m.from_number,
            from_handle=self.handle(chat.me),
            service=m.service.value,
            parts=[self.part(p) for p in m.parts],
            error_code=m.error_code,
            error_reason=m.error_reason,
        )

    def voice_memo(self, sent: VoiceMemoSent) -> s.ChatSendVoicememoResponse:
        m, chat, a = sent.message, sent.chat, sent.attachment
        assert a.duration_ms is not None
        return s.ChatSendVoicememoResponse(
            voice_memo=s.VoiceMemoOut(
                id=m.id,
                from_=m.from_number,
                to=[h.handle for h in chat.recipients],
                status=m.delivery_status.value,
                service=m.service.value,
                created_at=m.created_at,
                voice_memo=s.VoiceMemoAudioOut(
                    id=a.id,
                    filename=a.filename,
                    mime_type=a.mime_type or a.content_type,
                    size_bytes=a.size_bytes,
                    url=self.urls.media(a),
                    duration_ms=a.duration_ms,
                ),
                chat=s.VoiceMemoChatOut(
                    id=chat.id,
                    handles=[self.handle(h) for h in chat.handles],
                    is_group=chat.is_group,
                    is_active=chat.is_active,
                    service=chat.service.value,
                ),
            )
        )

    def line(self, line: Line) -> s.PhoneNumberOut:
        status = line.health_status if line.health_status in ("HEALTHY", "AT_RISK", "CRITICAL") else "HEALTHY"
        return s.PhoneNumberOut(
            id=line.id,
            phone_number=line.phone_number,
            reputation=s.ReputationOut(status=status, doc_url=f"{self.urls.base}/docs/reputation"),
            health_status=s.LineHealthOut(
                status=status,
                doc_url=f"{self.urls.base}/docs/health",
                updated_at=line.health_checked_at or line.created_at,
            ),
        )

    def handle_check(self, check: HandleCheck) -> s.HandleCheckResponse:
        return s.HandleCheckResponse(
            address=check.address,
            available=check.available,
            reason=None if check.available else "not_supported",
            selected_service=check.selected_service.value if check.selected_service else None,
        )

    def upload_slot(self, slot: UploadSlot) -> s.AttachmentCreateResponse:
        return s.AttachmentCreateResponse(
            attachment_id=slot.attachment.id,
            upload_url=slot.upload_url,
            download_url=self.urls.media(slot.attachment),
            expires_at=slot.expires_at,
            required_headers=slot.required_headers,
        )

    def attachment(self, a: Attachment) -> s.AttachmentOut:
        return s.AttachmentOut(
            id=a.id,
            filename=a.filename,
            content_type=sdk_content_type(a.content_type),
            size_bytes=a.size_bytes,
            status=a.status.value,
            created_at=a.created_at,
            download_url=self.urls.media(a),
            duration_ms=a.duration_ms if a.status is AttachmentStatus.COMPLETE else None,
            failure_reason=a.failure_reason if a.status is AttachmentStatus.FAILED else None,
        )

    def subscription(self, sub: WebhookSubscription) -> s.WebhookSubscriptionOut:
        return s.WebhookSubscriptionOut(
            id=sub.id,
            target_url=sub.target_url,
            subscribed_events=list(sub.subscribed_events),
            phone_numbers=list(sub.phone_numbers) if sub.phone_numbers is not None else None,
            is_active=sub.is_active,
            created_at=sub.created_at,
            updated_at=sub.updated_at,
        )

    def created_subscription(self, sub: WebhookSubscription) -> s.WebhookSubscriptionCreateResponse:
        return s.WebhookSubscriptionCreateResponse(
            **self.subscription(sub).model_dump(), signing_secret=sub.signing_secret
        )
