"""/v3/chats: create, read, list, participants, leave."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from voicememo.api import schemas as s
from voicememo.api.deps import ContainerDep, CurrentPartner, PresenterDep
from voicememo.api.guard import GuardedRoute
from voicememo.api.trace import current_trace_id

router = APIRouter(tags=["chats"], route_class=GuardedRoute)


@router.post("/chats", status_code=201, response_model=s.ChatCreateResponse, operation_id="chats_create")
async def create_chat(
    body: s.ChatCreateParams, partner: CurrentPartner, c: ContainerDep, p: PresenterDep
) -> s.ChatCreateResponse:
    created = await c.chats.create(partner.id, body.from_, body.to, body.message)
    return p.created_chat(created.chat, created.message)


@router.get("/chats", response_model=s.ChatListResponse, operation_id="chats_list_chats")
async def list_chats(
    partner: CurrentPartner,
    c: ContainerDep,
    p: PresenterDep,
    from_: Annotated[str | None, Query(alias="from", json_schema_extra={"pattern": s.E164_PATTERN})] = None,
    to: Annotated[str | None, Query(json_schema_extra={"pattern": s.HANDLE_PATTERN})] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> s.ChatListResponse:
    chats, next_cursor = await c.chats.search(partner.id, from_, to, limit, cursor)
    return s.ChatListResponse(chats=[p.chat(chat) for chat in chats], next_cursor=next_cursor)


@router.get("/chats/{chat_id}", response_model=s.ChatOut, operation_id="chats_retrieve")
async def get_chat(chat_id: str, partner: CurrentPartner, c: ContainerDep, p: PresenterDep) -> s.ChatOut:
    return p.chat(await c.chats.get(partner.id, chat_id))


@router.post(
    "/chats/{chat_id}/participants",
    status_code=202,
    response_model=s.ParticipantChangeResponse,
    operation_id="chats_participants_add",
)
async def add_participant(
    chat_id: str, body: s.ParticipantParams, partner: CurrentPartner, c: ContainerDep
) -> s.ParticipantChangeResponse:
    await c.chats.add_participant(partner.id, chat_id, body.handle)
    return s.ParticipantChangeResponse(
        message=f"{body.handle} was added to the chat.", status="accepted", trace_id=current_trace_id()
    )


@router.delete(
    "/chats/{chat_id}/participants",
    status_code=202,
    response_model=s.ParticipantChangeResponse,
    operation_id="chats_participants_remove",
)
async def remove_participant(
    chat_id: str, partner: CurrentPartner, c: ContainerDep, body: Annotated[s.ParticipantParams, Body()]
) -> s.ParticipantChangeResponse:
    await c.chats.remove_participant(partner.id, chat_id, body.handle)
    return s.ParticipantChangeResponse(
        message=f"{body.handle} was removed from the chat.", status="accepted", trace_id=current_trace_id()
    )


@router.post(
    "/chats/{chat_id}/leave",
    status_code=200,
    response_model=s.ParticipantChangeResponse,
    operation_id="chats_leave_chat",
)
async def leave_chat(chat_id: str, partner: CurrentPartner, c: ContainerDep) -> s.ParticipantChangeResponse:
    await c.chats.leave(partner.id, chat_id)
    return s.ParticipantChangeResponse(message="Your line left the chat.", status="left", trace_id=current_trace_id())


@router.post(
    "/chats/{chat_id}/voicememo",
    status_code=202,
    response_model=s.ChatSendVoicememoResponse,
    operation_id="chats_send_voicememo",
)
async def send_voicememo(
    chat_id: str, body: s.ChatSendVoicememoParams, partner: CurrentPartner, c: ContainerDep, p: PresenterDep
) -> s.ChatSendVoicememoResponse:
    sent = await c.voicememos.send(partner.id, chat_id, body.voice_memo_url, body.attachment_id)
    return p.voice_memo(sent)


@router.get("/chats/{chat_id}/messages", response_model=s.MessageListResponse, operation_id="chats_messages_list")
async def list_messages(
    chat_id: str,
    partner: CurrentPartner,
    c: ContainerDep,
    p: PresenterDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> s.MessageListResponse:
    chat = await c.chats.get(partner.id, chat_id)
    messages, next_cursor = await c.messages.list_for_chat(partner.id, chat_id, limit, cursor)
    return s.MessageListResponse(messages=[p.message(m, chat) for m in messages], next_cursor=next_cursor)
