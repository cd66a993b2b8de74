"""Events for webhooks: built when the change commits, one delivery job per (event, subscription).

The envelope and ``data`` follow api.md §5 and the SDK's event models. The body is
serialised once, here, so every retry sends the same bytes under the same webhook-id.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.domain.models import Chat, ChatHandle, Message
from voicememo.services.context import ServiceContext
from voicememo.storage.repos.jobs import JobRepo
from voicememo.storage.repos.webhooks import WebhookRepo
from voicememo.tracing import current_trace_id

API_VERSION = "v3"
WEBHOOK_VERSION = "2026-02-03"
WEBHOOK_JOB = "webhook"
#: stored with each webhook job; in practice the 30-minute deadline (WEBHOOK_GIVE_UP_AFTER_SECONDS) ends it first
WEBHOOK_MAX_ATTEMPTS = 1000


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def handle_data(h: ChatHandle) -> dict[str, Any]:
    return {
        "id": h.id,
        "handle": h.handle,
        "service": h.service.value,
        "joined_at": _iso(h.joined_at),
        "is_me": h.is_me,
        "left_at": _iso(h.left_at),
        "status": h.status.value,
    }


def health_data(ctx: ServiceContext, chat: Chat) -> dict[str, Any]:
    return {"status": "HEALTHY", "doc_url": f"{ctx.urls.base}/docs/health", "updated_at": _iso(chat.updated_at)}


def message_data(ctx: ServiceContext, m: Message, chat: Chat) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    for p in m.parts:
        if p.type == "text":
            parts.append({"type": "text", "value": p.value})
        elif p.attachment is not None:
            a = p.attachment
            parts.append(
                {
                    "type": "media",
                    "id": a.id,
                    "url": ctx.urls.media(a),
                    "filename": a.filename,
                    "mime_type": a.mime_type or a.content_type,
                    "size_bytes": a.size_bytes,
                }
            )
    return {
        "id": m.id,
        "chat": {
            "id": chat.id,
            "is_group": chat.is_group,
            "owner_handle": handle_data(chat.me),
            "health_status": health_data(ctx, chat),
        },
        "direction": "outbound",
        "parts": parts,
        "sender_handle": handle_data(chat.me),
        "service": m.service.value,
        "sent_at": _iso(m.sent_at),
        "delivered_at": _iso(m.delivered_at),
        "read_at": _iso(m.read_at),
    }


def failed_data(m: Message) -> dict[str, Any]:
    return {
        "message_id": m.id,
        "chat_id": m.chat_id,
        "code": m.error_code,
        "reason": m.error_reason,
        "failed_at": _iso(m.updated_at),
        "service": m.service.value,
    }


def chat_data(ctx: ServiceContext, chat: Chat) -> dict[str, Any]:
    return {
        "id": chat.id,
        "created_at": _iso(chat.created_at),
        "updated_at": _iso(chat.updated_at),
        "display_name": chat.display_name,
        "handles": [handle_data(h) for h in chat.handles],
        "health_status": health_data(ctx, chat),
        "is_group": chat.is_group,
        "service": chat.service.value,
    }


def envelope(ctx: ServiceContext, *, partner_id: str, event_type: str, data: dict[str, Any]) -> tuple[str, str]:
    """A new event's id and its body, serialised once (every try and every redelivery sends these bytes)."""
    event_id = str(uuid.uuid4())
    body = json.dumps(
        {
            "api_version": API_VERSION,
            "webhook_version": WEBHOOK_VERSION,
            "event_type": event_type,
            "event_id": event_id,
            "created_at": ctx.clock().isoformat(),
            "trace_id": current_trace_id(),
            "partner_id": partner_id,
            "data": data,
        },
        separators=(",", ":"),
    )
    return event_id, body


async def queue_delivery(ctx: ServiceContext, jobs: JobRepo, payload: dict[str, Any], *, order_key: str | None) -> int:
    """One delivery job (``payload``: subscription_id, partner_id, event_id, event_type, body)."""
    return await jobs.enqueue(
        WEBHOOK_JOB, payload, now=ctx.clock(), order_key=order_key, max_attempts=WEBHOOK_MAX_ATTEMPTS
    )


async def emit(
    ctx: ServiceContext,
    s: AsyncSession,
    *,
    partner_id: str,
    event_type: str,
    data: dict[str, Any],
    line_number: str,
    subject_id: str,
) -> int:
    """Queue the event for every matching subscription, in the caller's transaction; returns how many."""
    event_id, body = envelope(ctx, partner_id=partner_id, event_type=event_type, data=data)
    jobs = JobRepo(s)
    queued = 0
    for sub in await WebhookRepo(s).list_all(partner_id):
        if not sub.is_active or event_type not in sub.subscribed_events:
            continue
        if sub.phone_numbers is not None and line_number not in sub.phone_numbers:
            continue
        payload = {
            "subscription_id": sub.id,
            "partner_id": partner_id,
            "event_id": event_id,
            "event_type": event_type,
            "body": body,
        }
        await queue_delivery(ctx, jobs, payload, order_key=f"wh:{sub.id}:{subject_id}")
        queued += 1
    return queued
