"""GET /metrics and the request-latency middleware.

/metrics is off unless METRICS_ENABLED, and then answers only to ``Authorization: Bearer
<METRICS_TOKEN>``: one port for everything, so every API process behind ``serve --workers N`` can
answer a scrape (they add up one shared directory of counts; see voicememo/metrics.py).
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voicememo.api.deps import ContainerDep
from voicememo.errors import NotFound, Unauthorized
from voicememo.metrics import CONTENT_TYPE, Metrics

router = APIRouter()
_bearer = HTTPBearer(auto_error=False)


@router.get("/metrics", include_in_schema=False)
async def metrics(
    c: ContainerDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Response:
    settings = c.settings
    if not settings.metrics_enabled or settings.metrics_token is None:
        raise NotFound("Metrics are off: set VOICEMEMO_METRICS_ENABLED and VOICEMEMO_METRICS_TOKEN.")
    given = credentials.credentials.encode() if credentials else b""
    if not hmac.compare_digest(given, settings.metrics_token.get_secret_value().encode()):
        raise Unauthorized("Scraping /metrics needs Authorization: Bearer <VOICEMEMO_METRICS_TOKEN>.")
    return Response(await c.scrape(), media_type=CONTENT_TYPE)


class MetricsMiddleware:
    """Times every request, labelled by the route's template (``/v3/chats/{chat_id}``), never the raw path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, seen)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.http.labels(route_template(scope), scope["method"], str(status)).observe(elapsed)


def route_template(scope: Scope) -> str:
    """The matched route's template with its router's prefix (``/v3/chats/{chat_id}``); "unmatched" for a 404
    no route matched. FastAPI keeps an included router's routes unprefixed and records the full template
    in its per-request context (the test of this module fails should a FastAPI upgrade move it)."""
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    template = getattr(context, "path_format", None) or getattr(scope.get("route"), "path_format", None)
    return str(template) if template else "unmatched"
