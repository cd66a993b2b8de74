"""/v3/messages/{id} and /v3/phone_numbers."""

from __future__ import annotations

from fastapi import APIRouter

from voicememo.api import schemas as s
from voicememo.api.deps import Call
from voicememo.api.guard import GuardedRoute

router = APIRouter(route_class=GuardedRoute)


@router.get("/messages/{message_id}", response_model=s.MessageOut, operation_id="messages_retrieve", tags=["messages"])
async def get_message(message_id: str, call: Call) -> s.MessageOut:
    message = await call.c.messages.get(call.partner_id, message_id)
    chat = await call.c.chats.get(call.partner_id, message.chat_id)
    return call.p.message(message, chat)


@router.get(
    "/phone_numbers",
    response_model=s.PhoneNumberListResponse,
    operation_id="phone_numbers_list",
    tags=["phone_numbers"],
)
async def list_phone_numbers(call: Call) -> s.PhoneNumberListResponse:
    return s.PhoneNumberListResponse(
        phone_numbers=[call.p.line(line) for line in await call.c.lines.all(call.partner_id)]
    )
