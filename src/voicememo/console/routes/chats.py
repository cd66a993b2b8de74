"""Chats: the list (search by handle), one chat as a conversation, and its live status fragment."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from voicememo.console.conversation import Conversation, load_conversation
from voicememo.console.web import ConsoleRoute, SignedIn, console_of, render

router = APIRouter(route_class=ConsoleRoute)

PAGE = 25


@router.get("/console/chats")
async def chat_list(request: Request, viewer: SignedIn, q: str = "", cursor: str | None = None) -> Response:
    page = await console_of(request).container.console.chats(
        viewer.partner.id, query=q.strip() or None, limit=PAGE, cursor=cursor or None
    )
    return render(request, "chats.html", title="Chats", nav="chats", partner=viewer.partner, page=page, q=q)


@router.get("/console/chats/{chat_id}")
async def chat_page(request: Request, viewer: SignedIn, chat_id: str) -> Response:
    conversation = await load_conversation(console_of(request), viewer.partner.id, chat_id)
    return render(
        request, "chat.html", title=conversation.title, nav="chats", partner=viewer.partner, conversation=conversation
    )


@router.get("/console/chats/{chat_id}/updates")
async def chat_updates(request: Request, viewer: SignedIn, chat_id: str) -> Response:
    """What the page polls: each message's state and its HTML (bubble and ticks), oldest first."""
    conversation = await load_conversation(console_of(request), viewer.partner.id, chat_id)
    return JSONResponse({"messages": fragments(request, conversation)}, headers={"Cache-Control": "no-store"})


def fragments(request: Request, conversation: Conversation) -> list[dict[str, Any]]:
    env = console_of(request).templates.env
    bubble, ticks = env.get_template("_bubble.html"), env.get_template("_ticks.html")
    return [
        {
            "id": item.message.id,
            "state": item.state,
            "bubble": bubble.render(item=item),
            "ticks": ticks.render(item=item),
        }
        for item in conversation.items
    ]
