"""Webhooks for the console: recent events per subscription with every attempt, redeliver, test event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from voicememo.domain.models import WebhookSubscription
from voicememo.services.context import ServiceContext

#: the test event's type: one the SDKs' ``webhooks.unwrap`` parses (see send_test_event)
TEST_EVENT_TYPE = "message.sent"


@dataclass(frozen=True, slots=True)
class AttemptView:
    attempt: int
    at: datetime
    status_code: int | None
    duration_ms: int
    outcome: str  # delivered, retry, gave_up
    error: str | None
    #: the first ≤ 512 characters of the response body (None: no answer, or recorded before 0007)
    response_excerpt: str | None


@dataclass(frozen=True, slots=True)
class EventView:
    event_id: str
    event_type: str
    subscription_id: str
    first_at: datetime
    #: the last attempt's outcome, or "queued" when none was made yet
    outcome: str
    attempts: tuple[AttemptView, ...]
    #: whether the event's body is still stored (redeliver needs it)
    redeliverable: bool


class WebhookConsole:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def subscriptions(self, partner_id: str) -> list[WebhookSubscription]:
        raise NotImplementedError

    async def events(self, partner_id: str, subscription_id: str, *, limit: int = 50) -> list[EventView]:
        """The subscription's newest ``limit`` events, each with all its attempts (oldest first).
        NotFound when the subscription is not the partner's."""
        raise NotImplementedError

    async def redeliver(self, partner_id: str, event_id: str, subscription_id: str | None = None) -> int:
        """Queue the same event again (same body, same webhook-id, new attempts) to its subscription(s);
        returns how many deliveries were queued. NotFound when the event is not the partner's or its
        body is gone (retention)."""
        raise NotImplementedError

    async def send_test_event(self, partner_id: str, subscription_id: str) -> str:
        """Queue a signed test event to the subscription now (even if it does not subscribe to the
        type); returns its event id."""
        raise NotImplementedError
