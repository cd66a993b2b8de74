"""A chat as the console shows it: the backend's read model (``c.console.conversation``) plus what a
bubble needs to draw itself (ticks, waveform markup, preview URLs)."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from voicememo.console.web import Console
from voicememo.domain.models import Chat
from voicememo.domain.waveform import Waveform, render_svg
from voicememo.services.console.views import MemoView, MessageView, StatusStep

#: the newest messages a page shows
SHOWN = 50
#: the ticks of a memo that goes well, in order
STEPS = ("queued", "sent", "delivered", "read")


@dataclass(frozen=True)
class Tick:
    step: str
    at: object
    done: bool


@dataclass(frozen=True)
class Item:
    message: MessageView

    @property
    def memo(self) -> MemoView | None:
        return next((p.memo for p in self.message.parts if p.type == "media" and p.memo), None)

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.message.parts if p.type == "text" and p.text)

    @property
    def failure(self) -> StatusStep | None:
        return next((s for s in self.message.steps if s.status == "failed"), None)

    @property
    def ticks(self) -> list[Tick]:
        reached = {s.status: s.at for s in self.message.steps}
        return [Tick(step, reached.get(step), step in reached) for step in STEPS]

    @property
    def state(self) -> str:
        """Changes whenever what the bubble shows of its progress changes (the page's poll compares it)."""
        return "|".join(f"{s.status}@{s.at.isoformat() if s.at else ''}" for s in self.message.steps)

    @property
    def waveform(self) -> Markup:
        memo = self.memo
        if memo is None or memo.peaks is None:
            return Markup("")
        # render_svg draws bars from numbers only: no user text reaches the markup
        return Markup(render_svg(Waveform(memo.peaks), memo.duration_ms))  # noqa: S704

    def audio_url(self, source: str) -> str:
        memo = self.memo
        return f"/console/audio/{memo.attachment_id}/{source}.ogg" if memo else ""


@dataclass(frozen=True)
class Conversation:
    chat: Chat
    items: list[Item]
    older_cursor: str | None

    @property
    def title(self) -> str:
        return self.chat.display_name or ", ".join(h.handle for h in self.chat.recipients) or "Chat"


async def load_conversation(console: Console, partner_id: str, chat_id: str) -> Conversation:
    read = await console.container.console.conversation(partner_id, chat_id, limit=SHOWN)
    return Conversation(read.chat, [Item(m) for m in read.messages], read.older_cursor)
