"""The API's ASGI app: one app per container, nothing built at import time.

The whole server (the API plus the console beside it) is assembled in ``voicememo.server``.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from voicememo import __version__
from voicememo.api import errors
from voicememo.api.idempotency import IdempotencyMiddleware
from voicememo.api.last_resort import LastResortMiddleware
from voicememo.api.metrics import MetricsMiddleware
from voicememo.api.metrics import router as metrics_router
from voicememo.api.routes import attachments, capability, chats, messages, public, webhooks
from voicememo.api.schemas import ErrorResponse
from voicememo.api.trace import TraceMiddleware
from voicememo.api.turns import TurnTakingMiddleware
from voicememo.container import Container
from voicememo.settings import Settings


def settle_heap() -> None:
    """Start-up's objects (modules, routes, the ORM's and pydantic's tables: ~180,000) move out of the
    garbage collector's sight. Each full collection walked them all again: 108 ms with the loop
    stopped, in the middle of a 1,000-memo run with the workers on, and every request in flight
    waited for it (p99 186-245 ms at 32 clients; 129 ms without it). What is frozen is never freed,
    so start-up's own garbage is collected first."""
    gc.collect()
    gc.freeze()


#: the v3 API's routers, each included straight into the app under both prefixes
_V3 = (chats, messages, attachments, webhooks, capability)


def create_app(
    settings: Settings | None = None,
    container: Container | None = None,
    extend: Callable[[FastAPI, Container], None] | None = None,
) -> FastAPI:
    """``extend`` adds what sits beside the API (the console) before the error handlers and middlewares."""
    owned = container is None
    the_container = container or Container(settings or Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = None
        warming = asyncio.create_task(the_container.audio.warm())
        if the_container.settings.workers_in_process:
            await the_container.sweep_at_start()
            task = asyncio.create_task(the_container.run_worker(stop))
        settle_heap()
        try:
            yield
        finally:
            await warming
            stop.set()
            if task is not None:
                await task
            if owned:
                await the_container.aclose()

    app = FastAPI(
        title="voicememo",
        version=__version__,
        description="Send audio as native iMessage voice-memo bubbles; Linq Partner API v3 compatible.",
        lifespan=lifespan,
        responses={code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 413, 422, 429, 503)},
    )
    app.state.container = the_container
    # The SDKs' default base URL ends in /api/partner; serve both spellings, document one.
    for module in _V3:
        app.include_router(module.router, prefix="/v3")
    for module in _V3:
        app.include_router(module.router, prefix="/api/partner/v3", include_in_schema=False)
    app.include_router(public.router)
    app.include_router(metrics_router)
    if extend is not None:
        extend(app, the_container)
    errors.install(app, the_container.settings.public_base_url)
    # innermost: an exception no handler maps becomes a 500 response the other middlewares can see
    app.add_middleware(LastResortMiddleware, doc_base=the_container.settings.public_base_url)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(TurnTakingMiddleware)  # requests start in arrival order; a loop turn starts 20 ms of them
    app.add_middleware(MetricsMiddleware, metrics=the_container.metrics)  # sees the 500s LastResort makes
    app.add_middleware(TraceMiddleware)  # added last = outermost: every response carries the trace id
    return app
