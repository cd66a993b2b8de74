"""Idempotency records: the first response to a key, replayed to later requests with that key.

A record is claimed by one process (``owner``) until its ``deadline``. The request's effect links
itself to the record in the effect's own transaction (:func:`record_effect`), and only while the
claim is still that request's: so either the effect and the link commit together, or neither does,
and a retry that takes over a dead claim can never make the effect happen twice.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.errors import RequestInProgress
from voicememo.storage.tables import IdempotencyRow

#: the same key and body within this long replay the first response; older records are pruned
WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    request_hash: str
    status_code: int | None
    body: str | None
    content_type: str | None
    created_at: datetime
    owner: str | None = None
    deadline: datetime | None = None
    resource_kind: str | None = None
    resource_id: str | None = None

    @property
    def effect(self) -> tuple[str, str] | None:
        if self.resource_kind is None or self.resource_id is None:
            return None
        return self.resource_kind, self.resource_id


@dataclass(frozen=True, slots=True)
class Claim:
    scope: str
    key: str
    owner: str


_claim: contextvars.ContextVar[Claim | None] = contextvars.ContextVar("idempotency_claim", default=None)


@contextmanager
def claimed(claim: Claim) -> Iterator[None]:
    """Run a request under its claim: effects it commits link themselves to it."""
    token = _claim.set(claim)
    try:
        yield
    finally:
        _claim.reset(token)


async def record_effect(session: AsyncSession, kind: str, resource_id: str) -> None:
    """Link what this request created to its Idempotency-Key, inside the transaction that creates it.

    Raises RequestInProgress (rolling the effect back) when a retry has taken the key over: the
    retry, not this request, now owns the outcome.
    """
    claim = _claim.get()
    if claim is None:
        return
    result = await session.execute(
        update(IdempotencyRow)
        .where(
            IdempotencyRow.scope == claim.scope,
            IdempotencyRow.key == claim.key,
            IdempotencyRow.owner == claim.owner,
            IdempotencyRow.resource_kind.is_(None),
        )
        .values(resource_kind=kind, resource_id=resource_id)
    )
    if _rowcount(result) != 1:
        raise RequestInProgress("A retry with this Idempotency-Key took over this request; use the retry's answer.")


class IdempotencyRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get(self, scope: str, key: str) -> IdempotencyRecord | None:
        row = await self.s.scalar(
            select(IdempotencyRow).where(IdempotencyRow.scope == scope, IdempotencyRow.key == key)
        )
        if row is None:
            return None
        return IdempotencyRecord(
            row.request_hash,
            row.status_code,
            row.response_body,
            row.content_type,
            row.created_at,
            row.owner,
            row.deadline,
            row.resource_kind,
            row.resource_id,
        )

    async def claim(self, claim: Claim, request_hash: str, now: datetime, deadline: datetime) -> bool:
        """Insert the in-flight marker; False when the key is already taken."""
        try:
            async with self.s.begin_nested():
                self.s.add(
                    IdempotencyRow(
                        scope=claim.scope,
                        key=claim.key,
                        request_hash=request_hash,
                        created_at=now,
                        owner=claim.owner,
                        deadline=deadline,
                    )
                )
                await self.s.flush()
        except IntegrityError:
            return False
        return True

    async def take_over(self, claim: Claim, previous_owner: str | None, deadline: datetime) -> bool:
        """Move a dead request's claim (no effect committed) to this request."""
        owner_is = IdempotencyRow.owner.is_(None) if previous_owner is None else IdempotencyRow.owner == previous_owner
        result = await self.s.execute(
            update(IdempotencyRow)
            .where(
                IdempotencyRow.scope == claim.scope,
                IdempotencyRow.key == claim.key,
                owner_is,
                IdempotencyRow.status_code.is_(None),
                IdempotencyRow.resource_kind.is_(None),
            )
            .values(owner=claim.owner, deadline=deadline)
        )
        return _rowcount(result) == 1

    async def complete(self, scope: str, key: str, status_code: int, body: str, content_type: str | None) -> None:
        """Store the response; the first stored response stays (a replay never changes)."""
        await self.s.execute(
            update(IdempotencyRow)
            .where(IdempotencyRow.scope == scope, IdempotencyRow.key == key, IdempotencyRow.status_code.is_(None))
            .values(status_code=status_code, response_body=body, content_type=content_type, owner=None)
        )

    async def release(self, claim: Claim) -> None:
        """Give the key back after a failure that changed nothing, unless another request holds it now."""
        await self.s.execute(
            delete(IdempotencyRow).where(
                IdempotencyRow.scope == claim.scope,
                IdempotencyRow.key == claim.key,
                IdempotencyRow.owner == claim.owner,
                IdempotencyRow.status_code.is_(None),
                IdempotencyRow.resource_kind.is_(None),
            )
        )

    async def forget(self, scope: str, key: str) -> None:
        """Drop a record past its window."""
        await self.s.execute(delete(IdempotencyRow).where(IdempotencyRow.scope == scope, IdempotencyRow.key == key))

    async def purge_older_than(self, cutoff: datetime) -> int:
        return _rowcount(await self.s.execute(delete(IdempotencyRow).where(IdempotencyRow.created_at < cutoff)))


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0))
