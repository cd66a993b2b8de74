"""Jobs that run every so often and keep themselves scheduled (line health, debris sweep, retention).

Each run enqueues its successor whatever its outcome; a starting worker makes sure one waits (a
second process starting finds it and adds none).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog

from voicememo.jobs.retry import RetryPolicy
from voicememo.services.context import ServiceContext
from voicememo.storage.repos.jobs import Job, JobRepo

log = structlog.get_logger(__name__)

#: a failed run is retried this often; its successor is scheduled whatever the outcome
PERIODIC_MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Periodic:
    kind: str
    interval_seconds: float
    action: Callable[[], Awaitable[object]]
    retry_base_seconds: float = 30.0


class PeriodicHandler:
    def __init__(self, ctx: ServiceContext, periodic: Periodic) -> None:
        self.ctx = ctx
        self.periodic = periodic
        self.policy = RetryPolicy(base_seconds=periodic.retry_base_seconds)

    async def run(self, job: Job) -> None:
        try:
            await self.periodic.action()
        finally:
            await schedule_periodic(self.ctx, self.periodic, first=False)

    async def give_up(self, job: Job, reason: str) -> None:
        log.warning(f"{self.periodic.kind}_dropped", action="gave_up", reason=reason)


async def schedule_periodic(ctx: ServiceContext, periodic: Periodic, *, first: bool) -> None:
    now = ctx.clock()
    run_at = now if first else now + timedelta(seconds=periodic.interval_seconds)
    async with ctx.db.write() as s:
        await JobRepo(s).ensure_one(
            periodic.kind, {}, now=now, run_at=run_at, max_attempts=PERIODIC_MAX_ATTEMPTS, count_running=first
        )
