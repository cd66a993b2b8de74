"""Idempotency records: the first response to a key, replayed to later requests with that key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.storage.tables import IdempotencyRow


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    request_hash: str
    status_code: int | None
    body: str | None
    content_type: str | None
    created_at: datetime


class IdempotencyRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get(self, scope: str, key: str) -> IdempotencyRecord | None:
        row = await self.s.scalar(
            select(IdempotencyRow).where(IdempotencyRow.scope == scope, IdempotencyRow.key == key)
        )
        if row is None:
            return None
        return IdempotencyRecord(row.request_hash, row.status_code, row.response_body, row.content_type, row.created_at)

    async def claim(self, scope: str, key: str, request_hash: str, now: datetime) -> bool:
        """Insert the in-flight marker; False when the key is already taken."""
        try:
            async with self.s.begin_nested():
                self.s.add(IdempotencyRow(scope=scope, key=key, request_hash=request_hash, created_at=now))
                await self.s.flush()
        except IntegrityError:
            return False
        return True

    async def complete(self, scope: str, key: str, status_code: int, body: str, content_type: str | None) -> None:
        await self.s.execute(
            update(IdempotencyRow)
            .where(IdempotencyRow.scope == scope, IdempotencyRow.key == key)
            .values(status_code=status_code, response_body=body, content_type=content_type)
        )

    async def release(self, scope: str, key: str) -> None:
        await self.s.execute(delete(IdempotencyRow).where(IdempotencyRow.scope == scope, IdempotencyRow.key == key))

    async def purge_older_than(self, cutoff: datetime) -> None:
        await self.s.execute(delete(IdempotencyRow).where(IdempotencyRow.created_at < cutoff))
