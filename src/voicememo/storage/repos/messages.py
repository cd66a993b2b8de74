"""Messages and their parts."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.domain.models import DeliveryStatus, Message, MessagePart, Service
from voicememo.storage.repos.attachments import AttachmentRepo
from voicememo.storage.repos.paging import older_than
from voicememo.storage.tables import MessagePartRow, MessageRow


class MessageRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, message: Message) -> None:
        self.s.add(
            MessageRow(
                id=message.id,
                partner_id=message.partner_id,
                chat_id=message.chat_id,
                from_number=message.from_number,
                service=message.service.value,
                kind=message.kind,
                delivery_status=message.delivery_status.value,
                created_at=message.created_at,
                updated_at=message.updated_at,
                sent_at=message.sent_at,
                delivered_at=message.delivered_at,
                read_at=message.read_at,
                error_code=message.error_code,
                error_reason=message.error_reason,
                idempotency_key=message.idempotency_key,
            )
        )
        await self.s.flush()
        for position, part in enumerate(message.parts):
            self.s.add(
                MessagePartRow(
                    id=str(uuid.uuid4()),
                    message_id=message.id,
                    position=position,
                    type=part.type,
                    value=part.value,
                    attachment_id=part.attachment.id if part.attachment else None,
                )
            )
        await self.s.flush()

    async def get(self, partner_id: str, message_id: str) -> Message | None:
        rows = await self._load(
            select(MessageRow).where(MessageRow.partner_id == partner_id, MessageRow.id == message_id)
        )
        return rows[0] if rows else None

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
        result = await self.s.execute(
            update(MessageRow)
            .where(MessageRow.id == message_id, MessageRow.delivery_status.in_([a.value for a in allowed_from]))
            .values(delivery_status=status.value, **values)
        )
        return bool(getattr(result, "rowcount", 0))

    async def _load(self, stmt: object) -> list[Message]:
        rows = list((await self.s.scalars(stmt)).all())  # type: ignore[call-overload]
        if not rows:
            return []
        part_rows = list(
            await self.s.scalars(
                select(MessagePartRow)
                .where(MessagePartRow.message_id.in_([r.id for r in rows]))
                .order_by(MessagePartRow.message_id, MessagePartRow.position)
            )
        )
        attachments = await AttachmentRepo(self.s).get_many(p.attachment_id for p in part_rows if p.attachment_id)
        parts: dict[str, list[MessagePart]] = {r.id: [] for r in rows}
        for p in part_rows:
            attachment = attachments.get(p.attachment_id) if p.attachment_id else None
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
