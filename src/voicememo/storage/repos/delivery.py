"""Delivery bookkeeping: cached renditions and per-recipient receipts."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from voicememo.storage.prepared import selecting
from voicememo.storage.tables import AttachmentRow, ReceiptRow, RenditionRow

_RECEIPTS = cast(Table, ReceiptRow.__table__)
_RENDITIONS = cast(Table, RenditionRow.__table__)


@dataclass(frozen=True, slots=True)
class StoredRendition:
    id: str
    sha256: str
    profile: str
    blob_key: str
    mime_type: str
    filename: str
    size_bytes: int
    duration_ms: int
    details: dict[str, Any]


def _rendition(row: Any) -> StoredRendition:
    return StoredRendition(
        row.id,
        row.sha256,
        row.profile,
        row.blob_key,
        row.mime_type,
        row.filename,
        row.size_bytes,
        row.duration_ms,
        dict(row.details),
    )


class RenditionRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def get(self, sha256: str, profile: str) -> StoredRendition | None:
        stmt = selecting(_RENDITIONS, _RENDITIONS.c.sha256, _RENDITIONS.c.profile)
        row = (await self.s.execute(stmt, {"sha256": sha256, "profile": profile})).first()
        return _rendition(row) if row else None

    async def remove_orphans(self, sha256: str) -> list[str]:
        """Drop the renditions of audio that no live attachment has any more; returns their blob keys."""
        live = await self.s.scalar(
            select(AttachmentRow.id).where(AttachmentRow.sha256 == sha256, AttachmentRow.deleted_at.is_(None)).limit(1)
        )
        if live is not None:
            return []
        rows = list(await self.s.scalars(select(RenditionRow).where(RenditionRow.sha256 == sha256)))
        for row in rows:
            await self.s.delete(row)
        await self.s.flush()
        return [row.blob_key for row in rows]

    async def remove(self, rendition_id: str) -> None:
        """Forget one (its blob went missing: it is made again)."""
        await self.s.execute(delete(RenditionRow).where(RenditionRow.id == rendition_id))

    async def add(self, r: StoredRendition, now: datetime) -> bool:
        """False when another worker stored the same (sha256, profile) first."""
        try:
            async with self.s.begin_nested():
                self.s.add(
                    RenditionRow(
                        id=r.id,
                        sha256=r.sha256,
                        profile=r.profile,
                        blob_key=r.blob_key,
                        mime_type=r.mime_type,
                        filename=r.filename,
                        size_bytes=r.size_bytes,
                        duration_ms=r.duration_ms,
                        details=r.details,
                        created_at=now,
                    )
                )
                await self.s.flush()
        except IntegrityError:
            return False
        return True


_RECEIPT_COLUMNS = ("message_id", "handle", "delivered_at", "read_at")


@functools.cache
def _record_statement(dialect: str) -> ReturningInsert[Any]:
    """Built once per dialect (every receipt runs it): keep each recipient's first delivered/read time."""
    table = _RECEIPTS
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).values(
        {name: bindparam(name, type_=table.c[name].type) for name in _RECEIPT_COLUMNS}
    )
    return upsert.on_conflict_do_update(
        index_elements=[table.c.message_id, table.c.handle],
        set_={
            "delivered_at": func.coalesce(table.c.delivered_at, upsert.excluded.delivered_at),
            "read_at": func.coalesce(table.c.read_at, upsert.excluded.read_at),
        },
    ).returning(table.c.delivered_at, table.c.read_at)


class ReceiptRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def record(
        self, message_id: str, handle: str, kind: str, at: datetime
    ) -> tuple[datetime | None, datetime | None]:
        """Keep the first delivered/read time of one recipient (a read message was delivered too), in one
        upsert; returns the recipient's (delivered_at, read_at) as they now stand."""
        read_at = at if kind == "read" else None
        stmt = _record_statement(self.s.get_bind().dialect.name)
        params = {"message_id": message_id, "handle": handle, "delivered_at": at, "read_at": read_at}
        row = (await self.s.execute(stmt, params)).one()
        return row.delivered_at, row.read_at

    async def for_message(self, message_id: str) -> dict[str, tuple[datetime | None, datetime | None]]:
        rows = await self.s.scalars(select(ReceiptRow).where(ReceiptRow.message_id == message_id))
        return {r.handle: (r.delivered_at, r.read_at) for r in rows}
