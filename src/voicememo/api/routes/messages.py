"""/v3/messages/{id} and /v3/phone_numbers."""

from __future__ import annotations

from fastapi import APIRouter

from voicememo.api import schemas as s
from voicememo.api.deps import ContainerDep, CurrentPartner, PresenterDep
from voicememo.api.guard import GuardedRoute

router = APIRouter(route_class=GuardedRoute)


@router.get("/messages/{message_id}", response_model=s.MessageOut, operation_id="messages_retrieve", tags=["messages"])
async def get_message(message_id: str, partner: CurrentPartner, c: ContainerDep, p: PresenterDep) -> s.MessageOut:
    message = await c.messages.get(partner.id, message_id)
    chat = await c.chats.get(partner.id, message.chat_id)
    return p.message(message, chat)


@router.get(
    "/phone_numbers",
    response_model=s.PhoneNumberListResponse,
    operation_id="phone_numbers_list",
    tags=["phone_numbers"],
)
async def list_phone_numbers(partner: CurrentPartner, c: ContainerDep, p: PresenterDep) -> s.PhoneNumberListResponse:
    return s.PhoneNumberListResponse(phone_numbers=[p.line(line) for line in await c.lines.all(partner.id)])
