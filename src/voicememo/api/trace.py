"""A trace id for every request: the X-Trace-ID header, error bodies and logs share it."""

from __future__ import annotations

import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voicememo.tracing import current_trace_id, reset_trace_id, set_trace_id

__all__ = ["TraceMiddleware", "current_trace_id"]


class TraceMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace_id = uuid.uuid4().hex
        token = set_trace_id(trace_id)
        structlog.contextvars.bind_contextvars(trace_id=trace_id)

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-trace-id"]
                headers.append((b"x-trace-id", trace_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_trace)
        finally:
            structlog.contextvars.unbind_contextvars("trace_id")
            reset_trace_id(token)
