"""Chats and their handles; every read is scoped by partner."""

from __future__ import annotations

import functools
from collections import defaultdict
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.domain.models import Chat, ChatHandle, HandleStatus, Service
from voicememo.storage.repos.paging import older_than
from voicememo.storage.tables import ChatHandleRow, ChatRow, LineRow


def _handle(row: Any, prefix: str = "") -> ChatHandle:
    """From a handle row, or from a joined row whose handle columns are labelled ``<prefix><name>``."""
    field = {name: getattr(row, prefix + name) for name in _HANDLE_FIELDS}
    field.update(service=Service(field["service"]), status=HandleStatus(field["status"]))
    return ChatHandle(**field)


_HANDLE_FIELDS = ("id", "handle", "service", "joined_at", "is_me", "left_at", "status")


_CHATS = cast(Table, ChatRow.__table__)
_HANDLES = cast(Table, ChatHandleRow.__table__)

# Core (table) expressions, not mapped attributes: a statement made only of these runs on the
# connection without the ORM (storage/loop_session.py), and they serve ORM queries just as well.
#: the chat's line number, as a column of the chat's own row (no join that a caller's join could clash with)
_LINE = cast(Table, LineRow.__table__).alias("chat_line")
_LINE_NUMBER = select(_LINE.c.phone_number).where(_LINE.c.id == _CHATS.c.line_id).correlate(_CHATS).scalar_subquery()
_HANDLE_ORDER = (_HANDLES.c.is_me.desc(), _HANDLES.c.joined_at, _HANDLES.c.handle)


@functools.cache
def _get_statement() -> Select[Any]:
    """Built once (every accept and every delivery reads a chat): the chat's columns, its line's number
    and, one row per handle, the handle's columns labelled ``h_<name>``."""
    chats, handles = _CHATS, _HANDLES
    return (
        select(*chats.c, _LINE_NUMBER.label("line_number"), *(c.label(f"h_{c.name}") for c in handles.c))
        .outerjoin(handles, handles.c.chat_id == chats.c.id)
        .where(chats.c.partner_id == bindparam("partner_id"), chats.c.id == bindparam("id"))
        .order_by(*_HANDLE_ORDER)
    )


def _chat(r: Any, line_number: str, handles: list[ChatHandle]) -> Chat:
    return Chat(
        id=r.id,
        partner_id=r.partner_id,
        line_id=r.line_id,
        line_number=line_number,
        display_name=r.display_name,
        is_group=r.is_group,
        service=Service(r.service),
        created_at=r.created_at,
        updated_at=r.updated_at,
        handles=tuple(handles),
        provider_chat_id=r.provider_chat_id,
    )


class ChatRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, chat: Chat, participants_key: str) -> None:
        self.s.add(
            ChatRow(
                id=chat.id,
                partner_id=chat.partner_id,
                line_id=chat.line_id,
                participants_key=participants_key,
                display_name=chat.display_name,
                is_group=chat.is_group,
                service=chat.service.value,
                created_at=chat.created_at,
                updated_at=chat.updated_at,
            )
        )
        await self.s.flush()
        for h in chat.handles:
            await self.add_handle(chat.id, h)

    async def add_handle(self, chat_id: str, h: ChatHandle) -> None:
        self.s.add(
            ChatHandleRow(
                id=h.id,
                chat_id=chat_id,
                handle=h.handle,
                service=h.service.value,
                is_me=h.is_me,
                status=h.status.value,
                joined_at=h.joined_at,
                left_at=h.left_at,
            )
        )
        await self.s.flush()

    async def find_by_participants(self, partner_id: str, line_id: str, participants_key: str) -> Chat | None:
        chat_id = await self.s.scalar(
            select(ChatRow.id).where(
                ChatRow.partner_id == partner_id,
                ChatRow.line_id == line_id,
                ChatRow.participants_key == participants_key,
            )
        )
        return await self.get(partner_id, chat_id) if chat_id else None

    async def get(self, partner_id: str, chat_id: str) -> Chat | None:
        """One statement: the chat, its line's number and its handles (one row per handle)."""
        rows = (await self.s.execute(_get_statement(), {"partner_id": partner_id, "id": chat_id})).all()
        if not rows:
            return None
        return _chat(rows[0], rows[0].line_number, [_handle(r, "h_") for r in rows if r.h_id is not None])

    async def search(
        self, partner_id: str, *, from_number: str | None, to_handle: str | None, limit: int, cursor: str | None
    ) -> list[Chat]:
        stmt = select(ChatRow).where(ChatRow.partner_id == partner_id)
        if from_number:
            stmt = stmt.join(LineRow, LineRow.id == ChatRow.line_id).where(LineRow.phone_number == from_number)
        if to_handle:
            stmt = stmt.where(
                exists().where(
                    ChatHandleRow.chat_id == ChatRow.id,
                    ChatHandleRow.handle == to_handle,
                    ChatHandleRow.is_me.is_(False),
                )
            )
        after = older_than(ChatRow.created_at, ChatRow.id, cursor)
        if after is not None:
            stmt = stmt.where(after)
        stmt = stmt.order_by(ChatRow.created_at.desc(), ChatRow.id.desc()).limit(limit)
        return await self._load(stmt)

    async def _load(self, stmt: Select[ChatRow]) -> list[Chat]:
        rows = (await self.s.execute(stmt.add_columns(_LINE_NUMBER))).all()
        if not rows:
            return []
        ids = [r.id for r, _ in rows]
        handle_rows = await self.s.scalars(
            select(ChatHandleRow).where(ChatHandleRow.chat_id.in_(ids)).order_by(*_HANDLE_ORDER)
        )
        by_chat: dict[str, list[ChatHandle]] = defaultdict(list)
        for h in handle_rows:
            by_chat[h.chat_id].append(_handle(h))
        return [_chat(r, number, by_chat[r.id]) for r, number in rows]

    async def set_handle_status(self, chat_id: str, handle: str, status: HandleStatus, when: object) -> None:
        await self.s.execute(
            update(ChatHandleRow)
            .where(ChatHandleRow.chat_id == chat_id, ChatHandleRow.handle == handle)
            .values(status=status.value, left_at=None if status is HandleStatus.ACTIVE else when)
        )

    async def update_chat(self, chat_id: str, **values: object) -> None:
        await self.s.execute(update(ChatRow).where(ChatRow.id == chat_id).values(**values))
