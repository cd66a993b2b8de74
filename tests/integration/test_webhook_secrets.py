"""A subscription's secret never sits in the database in the clear; a secret the server can no
longer open gives a recorded, final 'gave up' with the reason, not endless retries; an attempt that
fails in a way nobody foresaw is still recorded, with the reason, and retried."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

import testdb
from voicememo.container import Container
from voicememo.net.addresses import IPAddress
from voicememo.services.events import WEBHOOK_JOB
from voicememo.services.webhook_delivery import WebhookFailed, WebhookHandler
from voicememo.settings import Settings
from voicememo.storage.db import Database
from voicememo.storage.repos.jobs import Job
from voicememo.storage.repos.webhooks import AttemptRepo


async def stored_secret(settings: Settings, sub_id: str) -> str:
    """The column as stored, read with plain SQL on a connection of its own."""
    db = Database(settings.database_url)
    try:
        async with db.read() as s:
            query = text("SELECT signing_secret FROM webhook_subscriptions WHERE id = :id")
            return str((await s.execute(query, {"id": sub_id})).scalar_one())
    finally:
        await db.dispose()


def test_secret_is_sealed_at_rest_and_a_broken_seal_gives_up_with_the_reason(tmp_path: Path) -> None:
    settings = testdb.migrated_settings(tmp_path, secret_key="first server key")
    asyncio.run(_scenario(settings))


async def _scenario(settings: Settings) -> None:
    container = Container(settings)
    try:
        made = await container.admin.create_partner("p", "+15550100001")
        sub = await container.webhooks.create(made.partner.id, "https://hooks.example.com/x", ["message.sent"], None)
        at_rest = await stored_secret(settings, sub.id)
        assert sub.signing_secret.startswith("whsec_") and sub.signing_secret not in at_rest
        assert container.ctx.sealer.open(at_rest) == sub.signing_secret
        assert (await container.webhooks.get(made.partner.id, sub.id)).signing_secret == ""  # never read back
    finally:
        await container.aclose()

    moved = Container(
        Settings(
            data_dir=settings.data_dir,
            database_url=testdb.database_url(settings.data_dir),
            secret_key="another server key",
        )
    )
    try:
        await WebhookHandler(moved.ctx).run(_job(made.partner.id, sub.id))  # returns: nothing to retry
        async with moved.ctx.db.read() as s:
            [attempt] = await AttemptRepo(s).list_recent()
        assert attempt["outcome"] == "gave_up" and attempt["status_code"] is None
        assert "recreate the subscription" in str(attempt["error"])
    finally:
        await moved.aclose()


def _job(partner_id: str, sub_id: str) -> Job:
    payload = {
        "partner_id": partner_id,
        "subscription_id": sub_id,
        "event_id": "evt-1",
        "event_type": "message.sent",
        "body": "{}",
    }
    return Job(1, WEBHOOK_JOB, payload, 1, 1000, datetime.now(UTC), None)


def test_an_attempt_that_fails_unexpectedly_is_recorded_and_retried(tmp_path: Path) -> None:
    settings = testdb.migrated_settings(tmp_path)

    async def resolver_bug(host: str, port: int) -> list[IPAddress]:
        raise RuntimeError("a resolver bug nobody foresaw")

    async def go() -> None:
        container = Container(settings)
        try:
            made = await container.admin.create_partner("p", "+15550100002")
            sub = await container.webhooks.create(
                made.partner.id, "https://hooks.example.com/x", ["message.sent"], None
            )
            container.ctx.fetcher.resolver = resolver_bug
            with pytest.raises(WebhookFailed, match="internal error while sending: RuntimeError"):
                await WebhookHandler(container.ctx).run(_job(made.partner.id, sub.id))
            async with container.ctx.db.read() as s:
                [attempt] = await AttemptRepo(s).list_recent()
            assert attempt["outcome"] == "retry" and attempt["error"] == "internal error while sending: RuntimeError"
        finally:
            await container.aclose()

    asyncio.run(go())
