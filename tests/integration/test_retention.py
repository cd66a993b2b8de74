"""Retention on a real SQLite database and a real outbox folder, with the clock injected."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from voicememo.container import Container
from voicememo.services.context import ServiceContext
from voicememo.services.periodic import Periodic, PeriodicHandler, schedule_periodic
from voicememo.services.retention import RETENTION_JOB, RetentionService
from voicememo.storage.repos.jobs import DEAD, DONE, QUEUED, JobRepo
from voicememo.storage.repos.webhooks import AttemptRepo
from voicememo.storage.tables import IdempotencyRow, JobRow, WebhookAttemptRow

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def ctx(container: Container) -> ServiceContext:
    """The container's services, on the fixed clock."""
    return replace(container.ctx, clock=lambda: NOW)


async def add_job(ctx: ServiceContext, status: str, changed: datetime) -> int:
    async with ctx.db.write() as s:
        job_id = await JobRepo(s).enqueue("deliver", {}, now=changed, max_attempts=3)
        row = await s.get(JobRow, job_id)
        assert row is not None
        row.status, row.updated_at = status, changed
    return job_id


async def add_idempotency(ctx: ServiceContext, key: str, created: datetime) -> None:
    async with ctx.db.write() as s:
        s.add(IdempotencyRow(scope="p", key=key, request_hash="h", status_code=200, created_at=created))


async def add_attempt(ctx: ServiceContext, event_id: str, created: datetime) -> None:
    async with ctx.db.write() as s:
        await AttemptRepo(s).add(
            partner_id="p", subscription_id="s", event_id=event_id, event_type="message.sent", attempt=1,
            status_code=204, error=None, outcome="delivered", duration_ms=3, created_at=created,
        )  # fmt: skip


def add_outbox_entry(outbox: Path, name: str, written: datetime) -> Path:
    entry = outbox / name
    entry.mkdir(parents=True)
    (entry / "message.json").write_text("{}")
    os.utime(entry, (written.timestamp(), written.timestamp()))
    return entry


@pytest.mark.anyio
async def test_prune_keeps_what_is_young_or_unfinished(ctx: ServiceContext) -> None:
    old_done = await add_job(ctx, DONE, NOW - 8 * DAY)
    young_done = await add_job(ctx, DONE, NOW - 6 * DAY)
    old_dead = await add_job(ctx, DEAD, NOW - 60 * DAY)
    old_queued = await add_job(ctx, QUEUED, NOW - 60 * DAY)
    await add_idempotency(ctx, "stale", NOW - timedelta(hours=25))
    await add_idempotency(ctx, "live", NOW - timedelta(hours=23))
    await add_attempt(ctx, "old", NOW - 8 * DAY)
    await add_attempt(ctx, "young", NOW - 6 * DAY)
    outbox = ctx.settings.outbox_dir
    old_entry = add_outbox_entry(outbox, "send-old", NOW - 31 * DAY)
    young_entry = add_outbox_entry(outbox, "send-young", NOW - 29 * DAY)
    staging = add_outbox_entry(outbox, ".send-staging.1.abc", NOW - 31 * DAY)  # the debris sweep's

    pruned = await RetentionService(ctx).prune()

    assert (pruned.done_jobs, pruned.idempotency_records, pruned.webhook_attempts, pruned.outbox_entries) == (
        1, 1, 1, 1,
    )  # fmt: skip
    async with ctx.db.read() as s:
        jobs = set(await s.scalars(select(JobRow.id)))
        keys = set(await s.scalars(select(IdempotencyRow.key)))
        attempts = set(await s.scalars(select(WebhookAttemptRow.event_id)))
    assert old_done not in jobs and {young_done, old_dead, old_queued} <= jobs
    assert keys == {"live"}
    assert attempts == {"young"}
    assert not old_entry.exists() and young_entry.exists() and staging.exists()


@pytest.mark.anyio
async def test_retention_settings_decide_the_ages(ctx: ServiceContext) -> None:
    settings = ctx.settings.model_copy(
        update={"retention_done_jobs_days": 1.0, "retention_webhook_attempts_days": 30.0, "retention_outbox_days": 1.0}
    )
    ctx = replace(ctx, settings=settings)
    await add_job(ctx, DONE, NOW - 2 * DAY)
    await add_attempt(ctx, "eight-days", NOW - 8 * DAY)
    add_outbox_entry(settings.outbox_dir, "send-2d", NOW - 2 * DAY)
    pruned = await RetentionService(ctx).prune()
    assert (pruned.done_jobs, pruned.webhook_attempts, pruned.outbox_entries) == (1, 0, 1)


@pytest.mark.anyio
async def test_the_periodic_job_prunes_and_schedules_its_successor(ctx: ServiceContext) -> None:
    await add_job(ctx, DONE, NOW - 8 * DAY)
    periodic = Periodic(RETENTION_JOB, ctx.settings.retention_interval_seconds, RetentionService(ctx).prune)
    await schedule_periodic(ctx, periodic, first=True)
    await schedule_periodic(ctx, periodic, first=True)  # a second process starting: still one job
    async with ctx.db.write() as s:
        claimed = await JobRepo(s).claim("w", now=NOW, lease=timedelta(seconds=30), limit=10, kinds=[RETENTION_JOB])
    assert len(claimed) == 1

    await PeriodicHandler(ctx, periodic).run(claimed[0])

    async with ctx.db.read() as s:
        rows = (await s.execute(select(JobRow.kind, JobRow.status, JobRow.run_at))).all()
    assert [kind for kind, status, _ in rows if status == DONE] == [], "the old done job is gone"
    successor = [run_at for kind, status, run_at in rows if status == QUEUED and kind == RETENTION_JOB]
    assert successor == [NOW + timedelta(seconds=ctx.settings.retention_interval_seconds)]
