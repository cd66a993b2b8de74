"""Lines: the numbers partners send from, each bound to a sender with its settings and health."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.domain.models import Line
from voicememo.storage.prepared import selecting
from voicememo.storage.tables import ChatRow, LineRow

_LINES = cast(Table, LineRow.__table__)


def _line(row: Any) -> Line:
    """From an ORM row or a Core row of the lines table (same attribute names)."""
    return Line(
        id=row.id,
        partner_id=row.partner_id,
        phone_number=row.phone_number,
        sender_kind=row.sender_kind,
        created_at=row.created_at,
        sender_config=dict(row.sender_config or {}),
        health_status=row.health_status,
        health=dict(row.health) if row.health is not None else None,
        health_checked_at=row.health_checked_at,
    )


class LineRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, line: Line, *, sealed_secret: str | None = None) -> None:
        self.s.add(
            LineRow(
                id=line.id,
                partner_id=line.partner_id,
                phone_number=line.phone_number,
                sender_kind=line.sender_kind,
                created_at=line.created_at,
                sender_config=dict(line.sender_config),
                sender_secret=sealed_secret,
            )
        )
        await self.s.flush()

    async def by_number(self, phone_number: str) -> Line | None:
        row = await self.s.scalar(select(LineRow).where(LineRow.phone_number == phone_number))
        return _line(row) if row else None

    async def get(self, partner_id: str, line_id: str) -> Line | None:
        row = await self.s.scalar(select(LineRow).where(LineRow.id == line_id, LineRow.partner_id == partner_id))
        return _line(row) if row else None

    async def by_id(self, line_id: str) -> Line | None:
        """Unscoped: for operators and for provider callbacks, which are addressed by line."""
        row = await self.s.get(LineRow, line_id)
        return _line(row) if row else None

    async def list(self, partner_id: str | None = None) -> list[Line]:
        stmt = select(LineRow).order_by(LineRow.created_at, LineRow.phone_number)
        if partner_id is not None:
            stmt = stmt.where(LineRow.partner_id == partner_id)
        return [_line(r) for r in await self.s.scalars(stmt)]

    async def with_secret(self, line_id: str) -> tuple[Line, str | None] | None:
        """The line and its sealed sender secret, in one query (what a send needs)."""
        row = (await self.s.execute(selecting(_LINES, _LINES.c.id), {"id": line_id})).first()
        return (_line(row), row.sender_secret) if row else None

    async def hook_token_hash(self, line_id: str) -> str | None:
        return await self.s.scalar(select(LineRow.hook_token_hash).where(LineRow.id == line_id))

    async def set_sender(self, line_id: str, kind: str, config: dict[str, Any], sealed_secret: str | None) -> None:
        await self.s.execute(
            update(LineRow)
            .where(LineRow.id == line_id)
            .values(sender_kind=kind, sender_config=config, sender_secret=sealed_secret)
        )

    async def set_hook_token_hash(self, line_id: str, token_hash: str | None) -> None:
        await self.s.execute(update(LineRow).where(LineRow.id == line_id).values(hook_token_hash=token_hash))

    async def set_health(self, line_id: str, status: str, health: dict[str, Any], checked_at: datetime) -> None:
        await self.s.execute(
            update(LineRow)
            .where(LineRow.id == line_id)
            .values(health_status=status, health=health, health_checked_at=checked_at)
        )

    async def chat_count(self, line_id: str) -> int:
        return int(
            await self.s.scalar(select(func.count()).select_from(ChatRow).where(ChatRow.line_id == line_id)) or 0
        )

    async def remove(self, line_id: str) -> None:
        """The line and its chats (their messages, handles and receipts go with them)."""
        await self.s.execute(delete(ChatRow).where(ChatRow.line_id == line_id))
        await self.s.execute(delete(LineRow).where(LineRow.id == line_id))
