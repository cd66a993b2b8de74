"""A chat as the console shows it: its messages oldest first, each with what its bubble needs."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from voicememo.console.formatting import Tick, ticks
from voicememo.console.web import Console
from voicememo.domain.models import Attachment, Chat, DeliveryStatus, Message

#: the newest messages a page shows
SHOWN = 50


@dataclass(frozen=True)
class Item:
    message: Message
    ticks: list[Tick]
    attachment: Attachment | None
    text: str

    @property
    def original_url(self) -> str:
        return f"/console/audio/{self.attachment.id}/original.ogg" if self.attachment else ""

    @property
    def rendition_url(self) -> str:
        return f"/console/audio/{self.attachment.id}/imessage.ogg" if self.attachment else ""

    @property
    def waveform(self) -> Markup:
        return Markup("")  # noqa: S704

    @property
    def failed(self) -> bool:
        return self.message.delivery_status is DeliveryStatus.FAILED

    @property
    def state(self) -> str:
        """Changes whenever what the bubble shows of its progress changes (the poll compares it)."""
        m = self.message
        stamps = (m.sent_at, m.delivered_at, m.read_at)
        return f"{m.delivery_status}|" + "|".join(t.isoformat() if t else "" for t in stamps)


@dataclass(frozen=True)
class Conversation:
    chat: Chat
    items: list[Item]

    @property
    def title(self) -> str:
        return self.chat.display_name or ", ".join(h.handle for h in self.chat.recipients) or "Chat"


def item(message: Message) -> Item:
    media = next((p.attachment for p in message.parts if p.type == "media" and p.attachment), None)
    text = "\n".join(p.value for p in message.parts if p.type == "text" and p.value)
    return Item(message, ticks(message), media, text)


async def load_conversation(console: Console, partner_id: str, chat_id: str) -> Conversation:
    c = console.container
    chat = await c.chats.get(partner_id, chat_id)
    messages, _ = await c.messages.list_for_chat(partner_id, chat_id, SHOWN, None)
    return Conversation(chat, [item(m) for m in reversed(messages)])
