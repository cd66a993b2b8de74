"""Webhooks in the console: each attempt with status, latency and the receiver's answer; redelivery of
the same event (same webhook-id and body); a signed test event the SDK accepts; tenant isolation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apiserver import Server, Tenant
from consoles import eventually, with_container
from helpers import new_chat

from receiver import Receiver, webhook_receiver
from voicememo.container import Container
from voicememo.errors import NotFound
from voicememo.services.console.webhooks import EventView


@pytest.fixture
def flaky() -> Iterator[Receiver]:
    """Fails the first try with an explanation, then accepts with a long JSON answer."""
    answer = b'{"ok":true,"padding":"' + b"x" * 1000 + b'"}'
    with webhook_receiver(fail_first=1, fail_body=b"database down, try later", ok_body=answer) as r:
        yield r


def events_of(server: Server, partner_id: str, sub_id: str) -> list[EventView]:
    return with_container(server, lambda c: c.webhook_console.events(partner_id, sub_id))


def settled(server: Server, partner_id: str, sub_id: str, attempts: int) -> list[EventView] | None:
    events = events_of(server, partner_id, sub_id)
    done = events and len(events[0].attempts) >= attempts and events[0].outcome == "delivered"
    return events if done else None


def test_attempts_show_status_latency_and_the_answer_and_redelivery_sends_the_same_event(
    server: Server, tenant: Tenant, flaky: Receiver
) -> None:
    pid = tenant.partner.partner.id
    sub = tenant.client.webhook_subscriptions.create(target_url=flaky.url, subscribed_events=["chat.created"])
    new_chat(tenant.client, tenant.line)
    first = flaky.wait_for(lambda e: e["event_type"] == "chat.created")[0]
    events = eventually(lambda: settled(server, pid, sub.id, 2), what="two recorded attempts")
    event = events[0]
    assert (event.event_id, event.event_type, event.redeliverable) == (first.event["event_id"], "chat.created", True)
    failed, ok = event.attempts
    assert (failed.attempt, failed.status_code, failed.outcome) == (1, 500, "retry")
    assert failed.response_excerpt == "database down, try later"
    assert (ok.attempt, ok.status_code, ok.outcome) == (2, 200, "delivered")
    assert ok.response_excerpt is not None and len(ok.response_excerpt) == 512
    assert ok.response_excerpt.startswith('{"ok":true,"padding":"xxx')
    assert failed.at <= ok.at and failed.duration_ms >= 0 and ok.duration_ms >= 0

    queued = with_container(server, lambda c: c.webhook_console.redeliver(pid, event.event_id))
    assert queued == 1
    again = flaky.wait_for(lambda e: e["event_id"] == event.event_id)[-1]
    assert again.body == first.body and again.headers["webhook-id"] == first.headers["webhook-id"]
    assert again.headers["webhook-signature"]  # signed anew, for its own timestamp
    events = eventually(lambda: settled(server, pid, sub.id, 3), what="the redelivery's attempt")
    assert [a.outcome for a in events[0].attempts] == ["retry", "delivered", "delivered"]


def test_a_test_event_is_signed_and_the_sdk_unwraps_it(server: Server, tenant: Tenant) -> None:
    pid = tenant.partner.partner.id
    with webhook_receiver() as receiver:
        sub = tenant.client.webhook_subscriptions.create(target_url=receiver.url, subscribed_events=["message.read"])
        event_id = with_container(server, lambda c: c.webhook_console.send_test_event(pid, sub.id))
        delivery = receiver.wait_for(lambda e: e["event_id"] == event_id)[-1]
    unwrapped = tenant.client.webhooks.unwrap(delivery.body, headers=delivery.headers, key=sub.signing_secret)  # type: ignore[attr-defined]
    assert unwrapped.event_type == "webhook.test"
    assert delivery.event["partner_id"] == pid and delivery.event["data"]["subscription_id"] == sub.id
    assert delivery.headers["webhook-id"] == event_id and delivery.headers["x-webhook-event"] == "webhook.test"
    events = eventually(lambda: settled(server, pid, sub.id, 1), what="the test event's attempt")
    assert (events[0].event_type, events[0].attempts[0].status_code) == ("webhook.test", 204)


def test_another_partner_cannot_see_or_redeliver_a_partners_webhooks(
    server: Server, tenant: Tenant, other_tenant: Tenant
) -> None:
    pid, intruder = tenant.partner.partner.id, other_tenant.partner.partner.id
    with webhook_receiver() as receiver:
        sub = tenant.client.webhook_subscriptions.create(target_url=receiver.url, subscribed_events=["chat.created"])
        new_chat(tenant.client, tenant.line)
        event_id = receiver.wait_for(lambda e: e["event_type"] == "chat.created")[0].event["event_id"]
        eventually(lambda: settled(server, pid, sub.id, 1), what="the attempt")

        async def go(c: Container) -> None:
            console = c.webhook_console
            assert [s.id for s in await console.subscriptions(intruder)] == []
            with pytest.raises(NotFound):
                await console.events(intruder, sub.id)
            with pytest.raises(NotFound):
                await console.redeliver(intruder, event_id)
            with pytest.raises(NotFound):
                await console.send_test_event(intruder, sub.id)
            assert [e.event_id for e in await console.events(pid, sub.id)] == [event_id]

        with_container(server, go)
        assert len(receiver.attempts) == 1  # nothing was sent on the intruder's behalf
