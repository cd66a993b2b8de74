"""Attachments: pre-uploads and fetched voice memo audio."""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.domain.models import Attachment, AttachmentStatus
from voicememo.storage.prepared import selecting
from voicememo.storage.tables import AttachmentRow, RenditionRow

_ATTACHMENTS = cast(Table, AttachmentRow.__table__)
_FIELDS = [f.name for f in dataclasses.fields(Attachment)]


def to_attachment(row: Any, prefix: str = "") -> Attachment:
    """From an ORM row or a Core row of the attachments table (same attribute names), or from a joined
    row whose attachment columns are labelled ``<prefix><name>`` (``labelled``)."""
    values = {name: getattr(row, prefix + name) for name in _FIELDS}
    values["status"] = AttachmentStatus(values["status"])
    return Attachment(**values)


def labelled(prefix: str) -> list[Any]:
    """The attachments table's columns labelled ``<prefix><name>``, to join into another table's read."""
    return [c.label(prefix + c.name) for c in _ATTACHMENTS.c]


@functools.cache
def _exists_statement() -> Select[tuple[str]]:
    table = _ATTACHMENTS
    return select(table.c.id).where(
        table.c.partner_id == bindparam("partner_id"), table.c.id == bindparam("id"), table.c.deleted_at.is_(None)
    )


class AttachmentRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, attachment: Attachment) -> None:
        values = {name: getattr(attachment, name) for name in _FIELDS}
        values["status"] = attachment.status.value
        self.s.add(AttachmentRow(**values))
        await self.s.flush()

    async def get(self, partner_id: str, attachment_id: str, *, include_deleted: bool = False) -> Attachment | None:
        stmt = selecting(_ATTACHMENTS, _ATTACHMENTS.c.partner_id, _ATTACHMENTS.c.id)
        row = (await self.s.execute(stmt, {"partner_id": partner_id, "id": attachment_id})).first()
        if row is None or (row.deleted_at is not None and not include_deleted):
            return None
        return to_attachment(row)

    async def exists(self, partner_id: str, attachment_id: str) -> bool:
        """Whether the attachment is there and not deleted (a check inside a write, no row to load)."""
        params = {"partner_id": partner_id, "id": attachment_id}
        return (await self.s.execute(_exists_statement(), params)).first() is not None

    async def get_public(self, attachment_id: str) -> Attachment | None:
        """For the download route: the id itself is the capability, no partner in the request."""
        row = await self.s.scalar(
            select(AttachmentRow).where(AttachmentRow.id == attachment_id, AttachmentRow.deleted_at.is_(None))
        )
        return to_attachment(row) if row else None

    async def update(self, partner_id: str, attachment_id: str, **values: object) -> bool:
        if "status" in values and isinstance(values["status"], AttachmentStatus):
            values["status"] = values["status"].value
        result = await self.s.execute(
            update(AttachmentRow)
            .where(AttachmentRow.partner_id == partner_id, AttachmentRow.id == attachment_id)
            .values(**values)
        )
        return bool(getattr(result, "rowcount", 0))

    async def update_unless_complete(self, partner_id: str, attachment_id: str, **values: object) -> bool:
        """Move an unfinished upload on, exactly once even when two uploads race."""
        status = values.get("status")
        if isinstance(status, AttachmentStatus):
            values["status"] = status.value
        result = await self.s.execute(
            update(AttachmentRow)
            .where(
                AttachmentRow.partner_id == partner_id,
                AttachmentRow.id == attachment_id,
                AttachmentRow.status != AttachmentStatus.COMPLETE.value,
                AttachmentRow.deleted_at.is_(None),
            )
            .values(**values)
        )
        return bool(getattr(result, "rowcount", 0))


class AttachmentSweepRepo:
    """What a crash can leave in the attachment tables, across partners (the operator's sweep only)."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def live_blob_keys(self) -> set[str]:
        attachments = select(AttachmentRow.blob_key).where(
            AttachmentRow.blob_key.is_not(None), AttachmentRow.deleted_at.is_(None)
        )
        renditions = select(RenditionRow.blob_key)
        return {str(k) for k in await self.s.scalars(attachments.union(renditions))}

    async def pending_created_before(self, cutoff: datetime) -> list[str]:
        stmt = select(AttachmentRow.id).where(
            AttachmentRow.status == AttachmentStatus.PENDING.value,
            AttachmentRow.created_at < cutoff,
            AttachmentRow.deleted_at.is_(None),
        )
        return list(await self.s.scalars(stmt))

    async def fail_pending(self, ids: list[str], reason: str) -> int:
        if not ids:
            return 0
        result = await self.s.execute(
            update(AttachmentRow)
            .where(AttachmentRow.id.in_(ids), AttachmentRow.status == AttachmentStatus.PENDING.value)
            .values(status=AttachmentStatus.FAILED.value, failure_reason=reason)
        )
        return int(getattr(result, "rowcount", 0))
