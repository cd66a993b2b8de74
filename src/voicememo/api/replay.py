"""Rebuilding a request's answer from the effect it committed (an Idempotency-Key whose response was lost).

The effect and its link to the key commit in one transaction; the response is stored a moment
later. A crash in between leaves the effect with no stored answer: a retry rebuilds the answer
here, from the object the first request created, as the first request would have given it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel

from voicememo.api.present import Presenter
from voicememo.services.voicememos import VoiceMemoSent

if TYPE_CHECKING:
    from voicememo.container import Container

Rebuild = Callable[["Container", Presenter, str, str], Awaitable[tuple[int, BaseModel]]]


async def _voice_memo(c: Container, p: Presenter, partner_id: str, message_id: str) -> tuple[int, BaseModel]:
    message = await c.messages.get(partner_id, message_id)
    chat = await c.chats.get(partner_id, message.chat_id)
    attachment = message.parts[0].attachment
    assert attachment is not None
    return 202, p.voice_memo(VoiceMemoSent(message, chat, attachment))


async def _chat(c: Container, p: Presenter, partner_id: str, message_id: str) -> tuple[int, BaseModel]:
    message = await c.messages.get(partner_id, message_id)
    return 201, p.created_chat(await c.chats.get(partner_id, message.chat_id), message)


async def _attachment(c: Container, p: Presenter, partner_id: str, attachment_id: str) -> tuple[int, BaseModel]:
    return 200, p.upload_slot(await c.attachments.upload_slot(partner_id, attachment_id))


async def _subscription(c: Container, p: Presenter, partner_id: str, sub_id: str) -> tuple[int, BaseModel]:
    return 201, p.created_subscription(await c.webhooks.with_secret(partner_id, sub_id))


REBUILDERS: dict[str, Rebuild] = {
    "voice_memo": _voice_memo,
    "chat": _chat,
    "attachment": _attachment,
    "webhook_subscription": _subscription,
}
