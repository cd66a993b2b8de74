"""/v3/chats: create, read, list, participants, leave."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from voicememo.api import schemas as s
from voicememo.api.deps import Call
from voicememo.api.guard import GuardedRoute
from voicememo.api.trace import current_trace_id

router = APIRouter(tags=["chats"], route_class=GuardedRoute)


@router.post("/chats", status_code=201, response_model=s.ChatCreateResponse, operation_id="chats_create")
async def create_chat(body: s.ChatCreateParams, call: Call) -> s.ChatCreateResponse:
    created = await call.c.chats.create(call.partner_id, body.from_, body.to, body.message)
    return call.p.created_chat(created.chat, created.message)


@router.get("/chats", response_model=s.ChatListResponse, operation_id="chats_list_chats")
async def list_chats(
    call: Call,
    from_: Annotated[str | None, Query(alias="from", json_schema_extra={"pattern": s.E164_PATTERN})] = None,
    to: Annotated[str | None, Query(json_schema_extra={"pattern": s.HANDLE_PATTERN})] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> s.ChatListResponse:
    chats, next_cursor = await call.c.chats.search(call.partner_id, from_, to, limit, cursor)
    return s.ChatListResponse(chats=[call.p.chat(chat) for chat in chats], next_cursor=next_cursor)


@router.get("/chats/{chat_id}", response_model=s.ChatOut, operation_id="chats_retrieve")
async def get_chat(chat_id: str, call: Call) -> s.ChatOut:
    return call.p.chat(await call.c.chats.get(call.partner_id, chat_id))


@router.post(
    "/chats/{chat_id}/participants",
    status_code=202,
    response_model=s.ParticipantChangeResponse,
    operation_id="chats_participants_add",
)
async def add_participant(chat_id: str, body: s.ParticipantParams, call: Call) -> s.ParticipantChangeResponse:
    await call.c.chats.add_participant(call.partner_id, chat_id, body.handle)
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
    chat_id: str, call: Call, body: Annotated[s.ParticipantParams, Body()]
) -> s.ParticipantChangeResponse:
    await call.c.chats.remove_participant(call.partner_id, chat_id, body.handle)
    return s.ParticipantChangeResponse(
        message=f"{body.handle} was removed from the chat.", status="accepted", trace_id=current_trace_id()
    )


@router.post(
    "/chats/{chat_id}/leave",
    status_code=200,
    response_model=s.ParticipantChangeResponse,
    operation_id="chats_leave_chat",
)
async def leave_chat(chat_id: str, call: Call) -> s.ParticipantChangeResponse:
    await call.c.chats.leave(call.partner_id, chat_id)
    return s.ParticipantChangeResponse(message="Your line left the chat.", status="left", trace_id=current_trace_id())


@router.post(
    "/chats/{chat_id}/voicememo",
    status_code=202,
    response_model=s.ChatSendVoicememoResponse,
    operation_id="chats_send_voicememo",
)
async def send_voicememo(chat_id: str, body: s.ChatSendVoicememoParams, call: Call) -> s.ChatSendVoicememoResponse:
    sent = await call.c.voicememos.send(call.partner_id, chat_id, body.voice_memo_url, body.attachment_id)
    return call.p.voice_memo(sent)


@router.get("/chats/{chat_id}/messages", response_model=s.MessageListResponse, operation_id="chats_messages_list")
async def list_messages(
    chat_id: str,
    call: Call,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> s.MessageListResponse:
    chat = await call.c.chats.get(call.partner_id, chat_id)
    messages, next_cursor = await call.c.messages.list_for_chat(call.partner_id, chat_id, limit, cursor)
    return s.MessageListResponse(messages=[call.p.message(m, chat) for m in messages], next_cursor=next_cursor)
