"""The exactly-once records of provider sends, and the handle-service cache."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, Update, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.domain.models import Service
from voicememo.storage.prepared import inserting, selecting
from voicememo.storage.tables import HandleServiceRow, MessageRow, SendRow

ATTEMPTING, ACCEPTED, REFUSED = "attempting", "accepted", "refused"
_SENDS = cast(Table, SendRow.__table__)


@dataclass(frozen=True, slots=True)
class SendRecord:
    message_id: str
    seq: int
    state: str
    provider_message_id: str | None
    attempts: int
    first_attempt_at: datetime


@functools.cache
def _accepted_statement() -> Update:
    sends = _SENDS.c
    return (
        update(_SENDS)
        .where(sends.message_id == bindparam("where_message_id"), sends.seq == bindparam("where_seq"))
        .values(
            state=ACCEPTED,
            provider_message_id=bindparam("accepted_id", type_=sends.provider_message_id.type),
            accepted_at=func.coalesce(sends.accepted_at, bindparam("now", type_=sends.accepted_at.type)),
            error=None,
        )
    )


_FIRST_ATTEMPT = (
    "message_id", "seq", "chat_id", "line_id", "provider", "state", "attempts", "first_attempt_at", "last_attempt_at",
)  # fmt: skip


def _record(row: Any) -> SendRecord:
    return SendRecord(row.message_id, row.seq, row.state, row.provider_message_id, row.attempts, row.first_attempt_at)


class SendRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def for_message(self, message_id: str) -> dict[int, SendRecord]:
        rows = await self.s.execute(selecting(_SENDS, _SENDS.c.message_id), {"message_id": message_id})
        return {r.seq: _record(r) for r in rows}

    async def attempting(
        self,
        *,
        message_id: str,
        seq: int,
        chat_id: str,
        line_id: str,
        provider: str,
        now: datetime,
        first: bool = False,
    ) -> SendRecord:
        """Record an attempt before the provider call (the first one, or one more). ``first``: the caller
        has just seen no record of this item (the job loaded them), so none is read before the insert."""
        if first:  # every memo's first attempt: one Core INSERT, no ORM object to flush
            values = {
                "message_id": message_id,
                "seq": seq,
                "chat_id": chat_id,
                "line_id": line_id,
                "provider": provider,
                "state": ATTEMPTING,
                "attempts": 1,
                "first_attempt_at": now,
                "last_attempt_at": now,
            }
            await self.s.execute(inserting(_SENDS, _FIRST_ATTEMPT), values)
            return SendRecord(message_id, seq, ATTEMPTING, None, 1, now)
        row = await self.s.get(SendRow, (message_id, seq))
        if row is None:
            row = SendRow(
                message_id=message_id,
                seq=seq,
                chat_id=chat_id,
                line_id=line_id,
                provider=provider,
                state=ATTEMPTING,
                attempts=0,
                first_attempt_at=now,
                last_attempt_at=now,
            )
            self.s.add(row)
        row.attempts += 1
        row.last_attempt_at = now
        await self.s.flush()
        return _record(row)

    async def accepted(self, message_id: str, seq: int, provider_message_id: str, now: datetime) -> None:
        # one Core UPDATE built once, no read first: every delivered item passes here
        params = {"where_message_id": message_id, "where_seq": seq, "accepted_id": provider_message_id, "now": now}
        result = await self.s.execute(_accepted_statement(), params)
        assert getattr(result, "rowcount", 0) == 1, "an attempt is recorded before its provider call"

    async def refused(self, message_id: str, seq: int, error: str) -> None:
        row = await self.s.get(SendRow, (message_id, seq))
        if row is not None:
            row.state = REFUSED
            row.error = error[:2000]
            await self.s.flush()

    async def known_for_chat(self, chat_id: str, since: datetime) -> frozenset[str]:
        """Provider ids of this chat's items accepted since ``since``: never the match for another item."""
        rows = await self.s.scalars(
            select(SendRow.provider_message_id).where(
                SendRow.chat_id == chat_id,
                SendRow.provider_message_id.is_not(None),
                SendRow.first_attempt_at >= since,
            )
        )
        return frozenset(str(r) for r in rows)

    async def message_for(self, line_id: str, provider_message_id: str) -> tuple[str, str] | None:
        """(partner id, message id) of a provider message sent from this line."""
        found = (
            await self.s.execute(
                select(MessageRow.partner_id, MessageRow.id)
                .join(SendRow, SendRow.message_id == MessageRow.id)
                .where(SendRow.line_id == line_id, SendRow.provider_message_id == provider_message_id)
            )
        ).first()
        return (str(found[0]), str(found[1])) if found else None

    async def provider_ids(self, message_id: str) -> list[str]:
        rows = await self.s.scalars(
            select(SendRow.provider_message_id)
            .where(SendRow.message_id == message_id, SendRow.provider_message_id.is_not(None))
            .order_by(SendRow.seq)
        )
        return [str(r) for r in rows]


class HandleServiceRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def fresh(self, line_id: str, handles: Iterable[str], since: datetime) -> dict[str, Service | None]:
        """Cached answers checked at or after ``since``; a handle with no entry is not in the result."""
        rows = await self.s.scalars(
            select(HandleServiceRow).where(
                HandleServiceRow.line_id == line_id,
                HandleServiceRow.handle.in_(list(handles)),
                HandleServiceRow.checked_at >= since,
            )
        )
        return {r.handle: Service(r.service) if r.service else None for r in rows}

    async def put(self, line_id: str, answers: dict[str, Service | None], now: datetime) -> None:
        for handle, service in answers.items():
            row = await self.s.get(HandleServiceRow, (line_id, handle))
            if row is None:
                row = HandleServiceRow(line_id=line_id, handle=handle)
                self.s.add(row)
            row.service = service.value if service else None
            row.checked_at = now
        await self.s.flush()
