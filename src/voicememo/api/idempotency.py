"""``Idempotency-Key`` on POSTs: the same key and body within 24 h replay the first response.

The SDKs retry POSTs on 408/409/429/5xx without a key of their own; a client that passes one
gets exactly-once behaviour, crashes included:

- A key is claimed by this process, with a deadline, before the request runs; a concurrent
  duplicate gets a retryable 409 instead of running twice.
- The request's effect links itself to the key in the effect's own transaction
  (``record_effect``), and only while the claim is still its own.
- A retry that finds a claim whose process is gone (or whose deadline passed) either rebuilds the
  answer from the linked effect, or, when nothing was committed, takes the claim over and runs.

Responses that say "try again" (401, 409, 429, 5xx) are not stored: the retry must act.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voicememo import failpoints
from voicememo.api.errors import error_response
from voicememo.api.present import Presenter
from voicememo.api.replay import REBUILDERS
from voicememo.errors import (
    IdempotencyMismatch,
    InvalidParameter,
    PayloadTooLarge,
    RequestInProgress,
    Unauthorized,
    VoicememoError,
)
from voicememo.processes import ProcessId
from voicememo.storage.repos.idempotency import WINDOW, Claim, IdempotencyRecord, IdempotencyRepo, claimed

if TYPE_CHECKING:
    from voicememo.container import Container

_NOT_STORED = {401, 409, 429}
log = structlog.get_logger(__name__)


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.me = ProcessId.current()
        self._running: set[tuple[str, str]] = set()

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
        auth = _header(scope, b"authorization") or ""
        try:
            partner = await container.admin.authenticate(_bearer(auth))
        except Unauthorized:
            # Keys are kept for callers we know: an unauthenticated request answers for itself (401)
            # and leaves no record behind.
            await self.app(scope, receive, send)
            return
        limit = container.settings.json_body_max_bytes
        try:
            body = await _read_body(receive, limit)
        except ClientDisconnect:
            log.info("client_disconnected", action="abandoned", method="POST", path=scope["path"])
            return  # a cut body must not run (nor be stored as this key's answer)
        if body is None:
            error = PayloadTooLarge(f"The request body is larger than {limit:,} bytes, the limit for JSON bodies.")
            await error_response(error, doc_base)(scope, receive, send)
            return
        claim = Claim(hashlib.sha256(auth.encode()).hexdigest(), key, str(self.me))
        request_hash = hashlib.sha256(scope["path"].encode() + b"\n" + body).hexdigest()
        record = await self._claim(container, claim, request_hash)
        if record is not None:
            await self._answer_existing(container, claim, record, request_hash, partner.id, scope, send)
            return
        failpoints.hit(container.settings.failpoints, "idempotency.claimed")
        messages = await self._run(container, claim, scope, body)
        await self._store(container, claim, partner.id, messages)
        failpoints.hit(container.settings.failpoints, "idempotency.stored")
        for message in messages:
            await send(message)

    async def _claim(self, c: Container, claim: Claim, request_hash: str) -> IdempotencyRecord | None:
        """None when this request now owns the key; else the record that answers it."""
        now = c.ctx.clock()
        deadline = now + timedelta(seconds=c.settings.idempotency_deadline_seconds)
        async with c.ctx.db.write() as s:
            repo = IdempotencyRepo(s)
            record = await repo.get(claim.scope, claim.key)
            if record is not None and record.created_at < now - WINDOW:
                await repo.forget(claim.scope, claim.key)
                record = None
            if record is None:
                if await repo.claim(claim, request_hash, now, deadline):
                    return None
                return await repo.get(claim.scope, claim.key)  # a concurrent duplicate claimed it first
            if (
                record.request_hash == request_hash
                and record.status_code is None
                and record.effect is None
                and self._gone(claim, record, now)
                and await repo.take_over(claim, record.owner, deadline)
            ):
                log.warning("idempotency_taken_over", action="retry", previous_owner=record.owner)
                return None
            return record

    def _gone(self, claim: Claim, record: IdempotencyRecord, now: datetime) -> bool:
        """Whether the request holding this claim can no longer be running."""
        if record.deadline is None or record.deadline < now or record.owner is None:
            return True
        owner = ProcessId.parse(record.owner)
        if owner is None:
            return True
        if owner == self.me:
            return (claim.scope, claim.key) not in self._running
        return self.me.knows_gone(owner)

    async def _answer_existing(
        self,
        c: Container,
        claim: Claim,
        record: IdempotencyRecord,
        request_hash: str,
        partner_id: str,
        scope: Scope,
        send: Send,
    ) -> None:
        doc_base = c.settings.public_base_url
        if record.request_hash != request_hash:
            error = IdempotencyMismatch(
                "This Idempotency-Key was already used with a different request; use a new key."
            )
            await error_response(error, doc_base)(scope, _no_body, send)
        elif record.status_code is not None:
            await _replay(send, record.status_code, record.body or "", record.content_type)
        elif record.effect is not None:
            # Committed, answer not stored (the process died in between, or is storing it now).
            status, body = await self._rebuild(c, partner_id, record.effect)
            if status < 400 and self._gone(claim, record, c.ctx.clock()):
                async with c.ctx.db.write() as s:
                    await IdempotencyRepo(s).complete(claim.scope, claim.key, status, body, "application/json")
            await _replay(send, status, body, "application/json")
        else:
            await error_response(
                RequestInProgress("A request with this Idempotency-Key is still running; retry shortly."), doc_base
            )(scope, _no_body, send)

    async def _run(self, c: Container, claim: Claim, scope: Scope, body: bytes) -> list[Message]:
        # The response is held back until its record is stored: a retry that arrives the moment the
        # client has the first answer must already find it.
        messages: list[Message] = []

        async def replay_receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            messages.append(message)

        self._running.add((claim.scope, claim.key))
        try:
            with claimed(claim):
                await self.app(scope, replay_receive, capture)
        except BaseException:
            async with c.ctx.db.write() as s:
                await IdempotencyRepo(s).release(claim)
            raise
        finally:
            self._running.discard((claim.scope, claim.key))
        return messages

    async def _store(self, c: Container, claim: Claim, partner_id: str, messages: list[Message]) -> None:
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        status = int(start["status"]) if start else 500
        failpoints.hit(c.settings.failpoints, "idempotency.before_store")
        if status >= 500 or status in _NOT_STORED:
            async with c.ctx.db.read() as s:
                record = await IdempotencyRepo(s).get(claim.scope, claim.key)
            effect = record.effect if record is not None else None
            if effect is None:  # nothing was done: the key is free for the retry
                async with c.ctx.db.write() as s:
                    await IdempotencyRepo(s).release(claim)  # only if still unlinked and ours
                return
            # The effect committed but something after it failed: answer what was done (rebuilt
            # before the write transaction, which holds SQLite's write lock).
            status, text = await self._rebuild(c, partner_id, effect)
            messages[:] = _messages(status, text, "application/json")
            async with c.ctx.db.write() as s:
                await IdempotencyRepo(s).complete(claim.scope, claim.key, status, text, "application/json")
            return
        content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        content_type = next(
            (v.decode("latin-1") for k, v in (start or {}).get("headers", []) if k.lower() == b"content-type"), None
        )
        async with c.ctx.db.write() as s:
            await IdempotencyRepo(s).complete(
                claim.scope, claim.key, status, content.decode("utf-8", "replace"), content_type
            )

    async def _rebuild(self, c: Container, partner_id: str, effect: tuple[str, str]) -> tuple[int, str]:
        kind, resource_id = effect
        try:
            status, model = await REBUILDERS[kind](c, Presenter(c.ctx.urls), partner_id, resource_id)
        except VoicememoError as exc:
            response = error_response(exc, c.settings.public_base_url)
            return response.status_code, bytes(response.body).decode()
        return status, model.model_dump_json(by_alias=True)


def _bearer(auth: str) -> str | None:
    scheme, _, token = auth.partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k.lower() == name:
            return str(v.decode("latin-1"))
    return None


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None past ``limit``; raises ClientDisconnect when the client hangs up first."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


def _messages(status: int, body: str, content_type: str | None, *extra: tuple[bytes, bytes]) -> list[Message]:
    data = body.encode()
    headers = [(b"content-length", str(len(data)).encode()), *extra]
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    return [
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": data},
    ]


async def _replay(send: Send, status: int, body: str, content_type: str | None) -> None:
    for message in _messages(status, body, content_type, (b"idempotent-replayed", b"true")):
        await send(message)
