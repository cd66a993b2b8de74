"""``Idempotency-Key`` on POSTs: the same key and body within 24 h replay the first response.

The SDKs retry POSTs on 408/409/429/5xx without a key of their own; a client that
passes one gets exactly-once behaviour. A key is claimed before the request runs,
so a concurrent duplicate gets a retryable 409 instead of running twice. Responses
that say "try again" (401, 409, 429, 5xx) are not stored: the retry must act.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voicememo.api.errors import error_response
from voicememo.errors import IdempotencyMismatch, InvalidParameter, PayloadTooLarge, RequestInProgress
from voicememo.storage.repos.idempotency import IdempotencyRepo

if TYPE_CHECKING:
    from voicememo.container import Container

WINDOW = timedelta(hours=24)
MAX_BODY = 1024 * 1024
_NOT_STORED = {401, 409, 429}


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key")
        if scope["type"] != "http" or scope["method"] != "POST" or key is None:
            await self.app(scope, receive, send)
            return
        container: Container = scope["app"].state.container
        doc_base = container.settings.public_base_url
        if not 1 <= len(key) <= 255:
            await error_response(InvalidParameter("Idempotency-Key must be 1 to 255 characters."), doc_base)(
                scope, receive, send
            )
            return
        body = await _read_body(receive)
        if body is None:
            await error_response(PayloadTooLarge("Request body too large."), doc_base)(scope, receive, send)
            return
        auth = _header(scope, b"authorization") or ""
        scope_id = hashlib.sha256(auth.encode()).hexdigest()
        request_hash = hashlib.sha256(scope["path"].encode() + b"\n" + body).hexdigest()
        db, now = container.ctx.db, container.ctx.clock()

        async with db.write() as s:
            repo = IdempotencyRepo(s)
            record = await repo.get(scope_id, key)
            if record is not None and record.created_at < now - WINDOW:
                await repo.release(scope_id, key)
                record = None
            if record is None and not await repo.claim(scope_id, key, request_hash, now):
                record = await repo.get(scope_id, key)  # a concurrent duplicate claimed it first
        if record is not None:
            if record.request_hash != request_hash:
                error = IdempotencyMismatch(
                    "This Idempotency-Key was already used with a different request; use a new key."
                )
                await error_response(error, doc_base)(scope, receive, send)
            elif record.status_code is None:
                await error_response(
                    RequestInProgress("A request with this Idempotency-Key is still running; retry shortly."),
                    doc_base,
                )(scope, receive, send)
            else:
                await _replay(send, record.status_code, record.body or "", record.content_type)
            return

        # The response is held back until its record is stored: a retry that arrives the moment the
        # client has the first answer must already find it.
        messages: list[Message] = []

        async def replay_receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, replay_receive, capture)
        except BaseException:
            async with db.write() as s:
                await IdempotencyRepo(s).release(scope_id, key)
            raise
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        status = int(start["status"]) if start else 500
        async with db.write() as s:
            repo = IdempotencyRepo(s)
            if status >= 500 or status in _NOT_STORED:
                await repo.release(scope_id, key)
            else:
                content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
                content_type = next(
                    (v.decode("latin-1") for k, v in (start or {}).get("headers", []) if k.lower() == b"content-type"),
                    None,
                )
                await repo.complete(scope_id, key, status, content.decode("utf-8", "replace"), content_type)
        for message in messages:
            await send(message)


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k.lower() == name:
            return str(v.decode("latin-1"))
    return None


async def _read_body(receive: Receive) -> bytes | None:
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


async def _replay(send: Send, status: int, body: str, content_type: str | None) -> None:
    data = body.encode()
    headers = [(b"content-length", str(len(data)).encode()), (b"idempotent-replayed", b"true")]
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
