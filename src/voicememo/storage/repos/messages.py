"""Messages and their parts."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Select, Table, Update, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.domain.models import DeliveryStatus, Message, MessagePart, Service
from voicememo.storage.prepared import inserting, selecting, updating
from voicememo.storage.repos.attachments import labelled, to_attachment
from voicememo.storage.repos.paging import older_than
from voicememo.storage.tables import AttachmentRow, MessagePartRow, MessageRow

_MESSAGES = cast(Table, MessageRow.__table__)
_PARTS = cast(Table, MessagePartRow.__table__)
_ATTACHMENTS = cast(Table, AttachmentRow.__table__)


@functools.cache
def _parts_statement() -> Select[Any]:
    """Built once: the parts of the listed messages, each with its attachment's columns (``a_<name>``),
    in one read (a message load was three statements: message, parts, attachments)."""
    return (
        select(*_PARTS.c, *labelled("a_"))
        .outerjoin(_ATTACHMENTS, _ATTACHMENTS.c.id == _PARTS.c.attachment_id)
        .where(_PARTS.c.message_id.in_(bindparam("message_id", expanding=True)))
    )


@functools.cache
def _move_statement(columns: tuple[str, ...]) -> Update:
    """A status move setting ``columns`` too, guarded by the statuses it may leave (parameter ``allowed``)."""
    guarded = updating(_MESSAGES, (_MESSAGES.c.id,), ("delivery_status", *columns))
    return guarded.where(_MESSAGES.c.delivery_status.in_(bindparam("allowed", expanding=True)))


class MessageRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, message: Message) -> None:
        """Core INSERTs built once (every accepted memo writes here); the parts in one executemany."""
        row = {
            "id": message.id,
            "partner_id": message.partner_id,
            "chat_id": message.chat_id,
            "from_number": message.from_number,
            "service": message.service.value,
            "kind": message.kind,
            "delivery_status": message.delivery_status.value,
            "created_at": message.created_at,
            "updated_at": message.updated_at,
            "sent_at": message.sent_at,
            "delivered_at": message.delivered_at,
            "read_at": message.read_at,
            "error_code": message.error_code,
            "error_reason": message.error_reason,
            "idempotency_key": message.idempotency_key,
        }
        await self.s.execute(inserting(_MESSAGES, tuple(row)), row)
        parts = [
            {
                "id": str(uuid.uuid4()),
                "message_id": message.id,
                "position": position,
                "type": part.type,
                "value": part.value,
                "attachment_id": part.attachment.id if part.attachment else None,
            }
            for position, part in enumerate(message.parts)
        ]
        if parts:
            await self.s.execute(inserting(_PARTS, tuple(parts[0])), parts)

    async def get(self, partner_id: str, message_id: str) -> Message | None:
        stmt = selecting(_MESSAGES, _MESSAGES.c.partner_id, _MESSAGES.c.id)
        rows = (await self.s.execute(stmt, {"partner_id": partner_id, "id": message_id})).all()
        messages = await self._assemble(rows)
        return messages[0] if messages else None

    async def list_for_chat(self, partner_id: str, chat_id: str, limit: int, cursor: str | None) -> list[Message]:
        stmt = select(MessageRow).where(MessageRow.partner_id == partner_id, MessageRow.chat_id == chat_id)
        after = older_than(MessageRow.created_at, MessageRow.id, cursor)
        if after is not None:
            stmt = stmt.where(after)
        return await self._load(stmt.order_by(MessageRow.created_at.desc(), MessageRow.id.desc()).limit(limit))

    async def lock(self, message_id: str) -> None:
        """Hold the message's row until the transaction ends, so that work on it is serialised.

        PostgreSQL (READ COMMITTED) would otherwise let two transactions read the same state and both
        act on it (two receipts of one message both inserting its receipt row, or each missing the
        other's); on SQLite the IMMEDIATE transaction serialises already, so no statement is issued there.
        """
        if self.s.get_bind().dialect.name == "sqlite":
            return
        await self.s.execute(select(MessageRow.id).where(MessageRow.id == message_id).with_for_update())

    async def move(
        self, message_id: str, status: DeliveryStatus, allowed_from: set[DeliveryStatus], **values: object
    ) -> bool:
        """Set the status (and ``values``) only if the message is still in one of ``allowed_from``."""
        params = {f"set_{name}": value for name, value in values.items()}
        params.update(set_delivery_status=status.value, where_id=message_id, allowed=[a.value for a in allowed_from])
        result = await self.s.execute(_move_statement(tuple(sorted(values))), params)
        return bool(getattr(result, "rowcount", 0))

    async def _load(self, stmt: object) -> list[Message]:
        return await self._assemble(list((await self.s.scalars(stmt)).all()))  # type: ignore[call-overload]

    async def _assemble(self, rows: Sequence[Any]) -> list[Message]:
        """Messages from their rows (ORM objects or Core rows: the same attribute names), with parts."""
        if not rows:
            return []
        part_rows = sorted(
            (await self.s.execute(_parts_statement(), {"message_id": [r.id for r in rows]})).all(),
            key=lambda p: (p.message_id, p.position),
        )
        parts: dict[str, list[MessagePart]] = {r.id: [] for r in rows}
        for p in part_rows:
            attachment = to_attachment(p, "a_") if p.a_id is not None else None
            parts[p.message_id].append(MessagePart(type=p.type, value=p.value, attachment=attachment))
        return [
            Message(
                id=r.id,
                partner_id=r.partner_id,
                chat_id=r.chat_id,
                from_number=r.from_number,
                service=Service(r.service),
                kind=r.kind,
                delivery_status=DeliveryStatus(r.delivery_status),
                created_at=r.created_at,
                updated_at=r.updated_at,
                parts=tuple(parts[r.id]),
                sent_at=r.sent_at,
                delivered_at=r.delivered_at,
                read_at=r.read_at,
                error_code=r.error_code,
                error_reason=r.error_reason,
                idempotency_key=r.idempotency_key,
            )
            for r in rows
        ]
