"""Webhooks: subscriptions, their recent events with every attempt, redeliver and send a test event."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from voicememo.console.web import ConsoleRoute, CsrfChecked, SignedIn, console_of, render, see_other

router = APIRouter(route_class=ConsoleRoute)

EVENTS_SHOWN = 20


@router.get("/console/webhooks")
async def webhooks_page(request: Request, viewer: SignedIn, note: str | None = None) -> Response:
    hooks = console_of(request).container.webhook_console
    subscriptions = await hooks.subscriptions(viewer.partner.id)
    events = {s.id: await hooks.events(viewer.partner.id, s.id, limit=EVENTS_SHOWN) for s in subscriptions}
    return render(
        request,
        "webhooks.html",
        title="Webhooks",
        nav="webhooks",
        partner=viewer.partner,
        subscriptions=subscriptions,
        events=events,
        note=note,
    )


@router.post("/console/webhooks/{subscription_id}/events/{event_id}/redeliver", dependencies=[CsrfChecked])
async def redeliver(request: Request, viewer: SignedIn, subscription_id: str, event_id: str) -> Response:
    hooks = console_of(request).container.webhook_console
    await hooks.redeliver(viewer.partner.id, event_id, subscription_id)
    return see_other(f"/console/webhooks?note=Event+{event_id}+queued+for+redelivery.#sub-{subscription_id}")


@router.post("/console/webhooks/{subscription_id}/test", dependencies=[CsrfChecked])
async def send_test(request: Request, viewer: SignedIn, subscription_id: str) -> Response:
    hooks = console_of(request).container.webhook_console
    event_id = await hooks.send_test_event(viewer.partner.id, subscription_id)
    return see_other(f"/console/webhooks?note=Test+event+{event_id}+queued.#sub-{subscription_id}")
