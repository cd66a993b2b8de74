"""The jobs table: enqueue inside the caller's transaction, claim with a lease, finish with fencing.

Jobs sharing an order key run one after another, in id order: every job but its key's head waits
``held``, and the database's triggers (migration 0008) release the next one as the head ends. A
claim therefore takes unheld queued jobs that are due and running jobs whose lease expired (their
worker died), reading them from an index in run_at order and stopping at its limit, whatever the
backlog. On PostgreSQL the same query runs with FOR UPDATE SKIP LOCKED, so concurrent claimers take
disjoint jobs and never wait on each other; on SQLite the IMMEDIATE transaction already serialises
claimers (SQLAlchemy renders no FOR UPDATE there). On PostgreSQL an enqueue also notifies listening
workers (storage/notify.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Insert, Subquery, Table, Update, and_, bindparam, func, select, text, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.storage.notify import notify_enqueued
from voicememo.storage.prepared import inserting
from voicememo.storage.tables import JobRow
from voicememo.tracing import trace_id_if_any

QUEUED, RUNNING, DONE, DEAD = "queued", "running", "done", "dead"
_JOBS = cast(Table, JobRow.__table__)


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    created_at: datetime
    order_key: str | None
    #: the worker holding the lease (a handler that settles the job in its own transaction fences with it)
    owner: str = ""


@functools.lru_cache(maxsize=64)
def _claim_statement(limit: int, kinds: tuple[str, ...]) -> Update:
    """Built once per (limit, kinds) with bound parameters: the worker claims after every job, and
    building the statement anew each time (and its cache key) cost more CPU than running it. A Core
    UPDATE … RETURNING of the table's columns skips loading ORM objects that are only read once."""
    jobs = _JOBS
    now = bindparam("claim_now", type_=jobs.c.run_at.type)

    def first(status: str) -> Subquery:
        # each part reads its index in (run_at, id) order and stops at the limit: an OR of the two
        # made SQLite gather and sort every unheld due job (each message's webhook job is its key's head)
        c = jobs.alias().c
        due = and_(c.held.is_(False), c.run_at <= now) if status == QUEUED else c.lease_until < now
        part = select(c.id, c.run_at).where(c.status == status, due)
        if kinds:
            part = part.where(c.kind.in_(kinds))
        return part.order_by(c.run_at, c.id).limit(limit).with_for_update(skip_locked=True).subquery()

    queued, expired = first(QUEUED), first(RUNNING)
    either = union_all(select(queued), select(expired)).subquery()
    chosen = select(either.c.id).order_by(either.c.run_at, either.c.id).limit(limit)
    return (
        update(jobs)
        .where(jobs.c.id.in_(chosen.scalar_subquery()))
        .values(
            status=RUNNING,
            lease_owner=bindparam("claim_owner", type_=jobs.c.lease_owner.type),
            lease_until=bindparam("claim_until", type_=jobs.c.lease_until.type),
            attempts=jobs.c.attempts + 1,
            updated_at=now,
        )
        .returning(*jobs.c)
    )


_ENQUEUED = ("kind", "payload", "status", "attempts", "max_attempts", "run_at", "order_key", "created_at", "updated_at")


@functools.cache
def _enqueue_statement() -> Insert:
    """Built once: constructing an INSERT and its cache key cost more CPU than SQLite running it."""
    return inserting(_JOBS, _ENQUEUED).returning(_JOBS.c.id)


@functools.cache
def _done_statement() -> Update:
    """Built once: every job ends here (``finish``); the other settlements are rarer and built per call."""
    jobs = _JOBS
    return (
        update(jobs)
        .where(jobs.c.id == bindparam("job_id"), jobs.c.lease_owner == bindparam("owner"), jobs.c.status == RUNNING)
        .values(
            status=DONE,
            lease_owner=None,
            lease_until=None,
            last_error=None,
            updated_at=bindparam("done_at", type_=jobs.c.updated_at.type),
        )
    )


def _job(row: Any) -> Job:
    """From a JobRow or a row of the jobs table's columns."""
    return Job(
        row.id, row.kind, dict(row.payload), row.attempts, row.max_attempts, row.created_at, row.order_key,
        row.lease_owner or "",
    )  # fmt: skip


class JobRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        now: datetime,
        run_at: datetime | None = None,
        order_key: str | None = None,
        max_attempts: int,
    ) -> int:
        """Queue a job in the caller's transaction; ``max_attempts`` is its cap (the worker gives up there)."""
        # a Core INSERT: the unit of work's bookkeeping for an object nobody reads again cost more CPU
        # than the insert; flushing first keeps pending objects written before the job, as before
        await self.s.flush()
        trace_id = trace_id_if_any()  # the request's (or running job's) trace follows into this job
        if trace_id and "trace_id" not in payload:
            payload = {**payload, "trace_id": trace_id}
        values = {
            "kind": kind,
            "payload": payload,
            "status": QUEUED,
            "attempts": 0,
            "max_attempts": max_attempts,
            "run_at": run_at or now,
            "order_key": order_key,
            "created_at": now,
            "updated_at": now,
        }
        result = await self.s.execute(_enqueue_statement(), values)
        job_id = int(result.scalar_one())
        await notify_enqueued(self.s, kind)  # delivered to other processes' workers at commit, not on rollback
        return job_id

    async def ensure_one(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        now: datetime,
        run_at: datetime,
        max_attempts: int,
        count_running: bool = True,
    ) -> bool:
        """Enqueue a periodic job unless one of its kind already waits (or runs: a periodic job enqueueing
        its own successor passes ``count_running=False``)."""
        statuses = (QUEUED, RUNNING) if count_running else (QUEUED,)
        if self.s.get_bind().dialect.name == "postgresql":
            # READ COMMITTED lets two processes both find none and both insert: serialise the check
            # per kind with a lock held to the end of this transaction (SQLite's BEGIN IMMEDIATE does it).
            await self.s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:kind))"), {"kind": f"jobs:{kind}"})
        waiting = await self.s.scalar(
            select(JobRow.id).where(JobRow.kind == kind, JobRow.status.in_(statuses)).limit(1)
        )
        if waiting is not None:
            return False
        await self.enqueue(kind, payload, now=now, run_at=run_at, max_attempts=max_attempts)
        return True

    async def claim(
        self, worker: str, *, now: datetime, lease: timedelta, limit: int, kinds: list[str] | None = None
    ) -> list[Job]:
        """Lease up to ``limit`` due jobs in one statement (UPDATE … RETURNING over the chosen ids; on
        PostgreSQL those rows are locked with SKIP LOCKED, so concurrent claimers take different jobs)."""
        stmt = _claim_statement(limit, tuple(kinds or ()))
        params = {"claim_now": now, "claim_owner": worker, "claim_until": now + lease}
        rows = list((await self.s.execute(stmt, params)).all())
        rows.sort(key=lambda r: (r.run_at, r.id))
        return [_job(r) for r in rows]

    async def heartbeat(self, job_id: int, worker: str, *, until: datetime) -> bool:
        result = await self.s.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.lease_owner == worker, JobRow.status == RUNNING)
            .values(lease_until=until)
        )
        return bool(getattr(result, "rowcount", 0))

    async def settle_done(self, job: Job, *, now: datetime) -> bool:
        """Mark the job done inside the handler's own transaction (one commit for its effect and its end)."""
        return await self.finish(job.id, job.owner, now=now)

    async def finish(self, job_id: int, worker: str, *, now: datetime) -> bool:
        """Mark done; False when the lease was lost (another worker owns the job now)."""
        result = await self.s.execute(_done_statement(), {"job_id": job_id, "owner": worker, "done_at": now})
        return bool(getattr(result, "rowcount", 0))

    async def retry(self, job_id: int, worker: str, *, now: datetime, run_at: datetime, error: str) -> bool:
        return await self._settle(job_id, worker, now, status=QUEUED, run_at=run_at, last_error=error[:2000])

    async def release(self, job_id: int, worker: str, *, now: datetime) -> bool:
        """Hand an interrupted job back, due now, its attempt not counted (a shutdown is not a failure)."""
        return await self._settle(job_id, worker, now, status=QUEUED, run_at=now, attempts=_JOBS.c.attempts - 1)

    async def bury(self, job_id: int, worker: str, *, now: datetime, error: str) -> bool:
        return await self._settle(job_id, worker, now, status=DEAD, last_error=error[:2000])

    async def _settle(self, job_id: int, worker: str, now: datetime, **values: Any) -> bool:
        # Core, not an ORM bulk UPDATE: no JobRow is kept in a session to synchronise, and the ORM path
        # cost more CPU than the statement on every settled job
        jobs = _JOBS.c
        result = await self.s.execute(
            update(_JOBS)
            .where(jobs.id == job_id, jobs.lease_owner == worker, jobs.status == RUNNING)
            .values(lease_owner=None, lease_until=None, updated_at=now, **values)
        )
        return bool(getattr(result, "rowcount", 0))

    async def next_due(self) -> datetime | None:
        """When the next job a claim could take is due (a held job waits for its head's end, not a time)."""
        return await self.s.scalar(
            select(func.min(JobRow.run_at)).where(JobRow.status == QUEUED, JobRow.held.is_(False))
        )

    async def counts(self) -> dict[str, int]:
        rows = await self.s.execute(select(JobRow.status, func.count()).group_by(JobRow.status))
        return {status: int(n) for status, n in rows}
