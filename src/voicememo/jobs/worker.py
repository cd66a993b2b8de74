"""The worker: an explicit object with concurrency, a stop event, graceful shutdown and action logs.

It claims due jobs with a lease, keeps the lease alive with a heartbeat while a handler runs,
and settles each job with fencing (only the lease owner can finish it). A worker whose heartbeat
finds the lease taken (it stalled past the lease and another worker claimed the job) cancels its
handler and leaves the job to the new owner. A worker that dies
simply stops heart-beating; once its lease expires another worker claims the job again.
Wake-ups come from an in-process signal when a job is enqueued and, on PostgreSQL, from a LISTEN
on the jobs channel that every enqueue notifies (storage/notify.py), so a worker in another process
wakes too; polling is the fallback (and, on SQLite, the only signal across processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from voicememo.jobs.retry import RetryPolicy
from voicememo.storage.db import Database
from voicememo.storage.notify import JobListener, listens
from voicememo.storage.repos.jobs import Job, JobRepo
from voicememo.tracing import current_trace_id, set_trace_id

log = structlog.get_logger("voicememo.worker")
#: how long a worker with a single free slot waits for another to free before it claims
_GATHER_SECONDS = 0.01


class Handler(Protocol):
    policy: RetryPolicy

    async def run(self, job: Job) -> bool | None:
        """Do the job; raise to retry (back-off per ``policy``, up to the job's stored ``max_attempts``).
        Permanent outcomes are recorded, not raised.
        True: the handler already marked it done in its own transaction (``JobRepo.settle_done``)."""
        ...

    async def give_up(self, job: Job, reason: str) -> None:
        """Retries are exhausted: record the failure where the user will see it."""
        ...


class Wakeup:
    """An in-process doorbell: enqueuers ring it after commit, idle workers wake at once."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def ring(self) -> None:
        self._event.set()

    def answer(self) -> bool:
        """True (and silent again) if it rang since the last wait."""
        rung = self._event.is_set()
        self._event.clear()
        return rung

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()
        self._event.clear()


class Worker:
    def __init__(
        self,
        db: Database,
        handlers: dict[str, Handler],
        *,
        clock: Callable[[], datetime],
        wakeup: Wakeup | None = None,
        concurrency: int = 4,
        lease: timedelta = timedelta(seconds=30),
        poll_interval: float = 1.0,
        grace: float = 20.0,
        name: str | None = None,
        on_outcome: Callable[[str, str], None] | None = None,
    ) -> None:
        self.db = db
        self.handlers = handlers
        self.clock = clock
        self.wakeup = wakeup or Wakeup()
        self.concurrency = concurrency
        self.lease = lease
        self.poll_interval = poll_interval
        self.grace = grace
        self.draining = asyncio.Event()  # set once the worker stops claiming and drains
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._running: set[asyncio.Task[None]] = set()
        #: told (kind, "done" | "retried" | "dead") as each run ends: the metrics
        self.on_outcome = on_outcome or (lambda _kind, _outcome: None)
        #: claim when this many slots are free (or nothing runs, or after a short wait)
        self._refill = max(1, concurrency // 2)
        #: rings the doorbell on other processes' enqueues (None: SQLite, polling only)
        self.listener = JobListener(db.url, lambda _kind: self.wakeup.ring()) if listens(db.url) else None

    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker_started", action="started", worker=self.name, concurrency=self.concurrency)
        listening = None if self.listener is None else asyncio.create_task(self.listener.run(stop))
        try:
            while not stop.is_set():
                free = self.concurrency - len(self._running)
                if 0 < free < self._refill and self._running:
                    await self._gather_slots()
                    free = self.concurrency - len(self._running)
                try:
                    jobs = await self._claim(free) if free > 0 else []
                except Exception:  # a database hiccup must not end delivery: log, wait, try again
                    log.exception("claim_failed", action="error", worker=self.name)
                    await self._idle(stop, busy=True)
                    continue
                for job in jobs:
                    task = asyncio.create_task(self._execute(job))
                    self._running.add(task)
                    task.add_done_callback(self._done)
                # every slot taken: a freed slot rings, so when the next job is due does not matter yet;
                # fewer claimed than asked for: nothing else can run now, no need to claim again at once
                await self._idle(stop, busy=free <= len(jobs))
        finally:
            await self._drain()
            if listening is not None:
                listening.cancel()  # normally already ended by ``stop``; cancelled when run() itself was
                await asyncio.gather(listening, return_exceptions=True)
            log.info("worker_stopped", action="stopped", worker=self.name)

    async def _drain(self) -> None:
        """Let running jobs finish for ``grace`` seconds; hand the rest back for the next worker.

        An interrupted job is safe to run again: the sender's idempotency key is the message id.
        """
        self.draining.set()
        running = set(self._running)
        if not running:
            return
        log.info("worker_draining", action="draining", worker=self.name, jobs=len(running), grace=self.grace)
        _, late = await asyncio.wait(running, timeout=self.grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        if late:
            log.warning("worker_interrupted_jobs", action="released", worker=self.name, jobs=len(late))

    async def _gather_slots(self) -> None:
        """Under load jobs end one at a time, and a claim per freed slot cost as much as a small job:
        wait a moment (until another job ends, at most ``_GATHER_SECONDS``) so one claim refills several."""
        await asyncio.wait(set(self._running), timeout=_GATHER_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        await asyncio.sleep(0)  # let done-callbacks of tasks that just ended run

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self.wakeup.ring()  # a slot is free

    async def _idle(self, stop: asyncio.Event, *, busy: bool) -> None:
        if stop.is_set() or self.wakeup.answer():
            return  # rung meanwhile (a job queued, a slot freed): claim again, no need to look when the next is due
        timeout = self.poll_interval
        if not busy:
            async with self.db.read() as s:
                due = await JobRepo(s).next_due()
            ahead = None if due is None else (due - self.clock()).total_seconds()
            # a job already due that the claim just left waits behind an earlier job of its order key
            # (whose end rings here, or, in another process, is found by the poll): looping at once
            # would spin on claims until then
            if ahead is not None and ahead > 0:
                timeout = min(timeout, ahead)
        waiter = asyncio.create_task(self.wakeup.wait(timeout))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, stopper):
            task.cancel()

    async def _claim(self, limit: int) -> list[Job]:
        async with self.db.write() as s:
            return await JobRepo(s).claim(
                self.name, now=self.clock(), lease=self.lease, limit=limit, kinds=list(self.handlers)
            )

    async def _execute(self, job: Job) -> None:
        # the trace of the request (or job) that queued this one: its logs, events and jobs carry it on
        set_trace_id(str(job.payload.get("trace_id") or uuid.uuid4().hex))
        structlog.contextvars.bind_contextvars(trace_id=current_trace_id())
        handler = self.handlers[job.kind]
        bound = log.bind(job_id=job.id, kind=job.kind, attempt=job.attempts, worker=self.name)
        bound.info("job_started", action="started")
        work = asyncio.create_task(handler.run(job))
        lost = asyncio.Event()
        beat = asyncio.create_task(self._heartbeat(job, work, lost))
        try:
            await asyncio.wait({work})
        except asyncio.CancelledError:  # shutdown past its grace: the handler goes too, the job is handed back
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            if not lost.is_set():
                await asyncio.shield(self._release(job, bound))
            raise
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
        if lost.is_set():  # whatever the handler did once cancelled, the job's new owner settles it, not us
            bound.warning("job_abandoned", action="abandoned", reason="lease lost")
            return
        if work.cancelled():  # the handler cancelled itself: not a failure, hand it back
            await self._release(job, bound)
            return
        exc = work.exception()
        if exc is not None:  # any failure is retried per policy; the reason is kept
            await self._failed(job, handler, f"{type(exc).__name__}: {exc}", bound)
            return
        owned: bool | None = None  # settled by the handler in its own transaction
        if not work.result():
            async with self.db.write() as s:
                owned = await JobRepo(s).finish(job.id, self.name, now=self.clock())
        bound.info("job_finished", action="finished", lease_kept=owned)
        self.on_outcome(job.kind, "done")

    async def _release(self, job: Job, bound: structlog.typing.FilteringBoundLogger) -> None:
        async with self.db.write() as s:
            released = await JobRepo(s).release(job.id, self.name, now=self.clock())
        bound.warning("job_released", action="released", lease_kept=released)

    async def _failed(
        self, job: Job, handler: Handler, reason: str, bound: structlog.typing.FilteringBoundLogger
    ) -> None:
        now = self.clock()
        retry_at = handler.policy.next_run(job.attempts, now, job.created_at, max_attempts=job.max_attempts)
        async with self.db.write() as s:
            repo = JobRepo(s)
            if retry_at is None:
                await repo.bury(job.id, self.name, now=now, error=reason)
            else:
                await repo.retry(job.id, self.name, now=now, run_at=retry_at, error=reason)
        self.on_outcome(job.kind, "retried" if retry_at else "dead")
        if retry_at is None:
            bound.warning("job_gave_up", action="gave_up", error=reason)
            await handler.give_up(job, reason)
        else:
            bound.info("job_retry", action="retried", error=reason, retry_at=retry_at.isoformat())

    async def _heartbeat(self, job: Job, work: asyncio.Task[bool | None], lost: asyncio.Event) -> None:
        """Keep the lease; once it is lost, cancel the handler (the job's new owner runs it, twice would
        double-deliver). A heartbeat that fails on a database error is tried again on the next beat:
        the lease outlives two missed beats."""
        interval = max(0.05, self.lease.total_seconds() / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.db.write() as s:
                    kept = await JobRepo(s).heartbeat(job.id, self.name, until=self.clock() + self.lease)
            except Exception:
                log.exception("heartbeat_failed", action="error", job_id=job.id, worker=self.name)
                continue
            if not kept:
                log.warning("lease_lost", action="lease_lost", job_id=job.id, worker=self.name)
                lost.set()
                work.cancel()
                return
