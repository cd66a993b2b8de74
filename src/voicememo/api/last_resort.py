"""The last resort for an exception no handler mapped: the contract's 500, logged once, connection kept.

Starlette's outermost error handler sends its 500 and then re-raises, and the server closes the
keep-alive connection without saying so: a client's next, unrelated request on it fails. This
guard sits inside the other middlewares, so the idempotency layer sees an ordinary 500 response
(and keeps no key in flight), and the connection stays usable. A response that already started
cannot be replaced; that one still ends the connection.
"""

from __future__ import annotations

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voicememo.api.errors import error_response
from voicememo.errors import InternalError

log = structlog.get_logger(__name__)


class LastResortMiddleware:
    def __init__(self, app: ASGIApp, doc_base: str) -> None:
        self.app = app
        self.doc_base = doc_base

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if started:
                raise
            log.exception("unexpected_error", action="error", method=scope["method"], path=scope["path"])
            error = InternalError("Internal error; it has been logged with this trace_id.")
            await error_response(error, self.doc_base)(scope, receive, send)
