"""Webhook subscriptions (delivery itself comes with the job queue)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.domain.models import WebhookSubscription
from voicememo.storage.prepared import inserting, selecting
from voicememo.storage.tables import WebhookAttemptRow, WebhookSubscriptionRow

_SUBS = cast(Table, WebhookSubscriptionRow.__table__)
_ATTEMPTS = cast(Table, WebhookAttemptRow.__table__)


def _sub(row: Any) -> WebhookSubscription:
    """From a row of the subscriptions table (every delivery reads one: Core, not ORM objects)."""
    return WebhookSubscription(
        id=row.id,
        partner_id=row.partner_id,
        target_url=row.target_url,
        subscribed_events=tuple(row.subscribed_events),
        phone_numbers=tuple(row.phone_numbers) if row.phone_numbers is not None else None,
        is_active=row.is_active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


_CACHE_KEY = "webhook_subscriptions"


class WebhookRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, sub: WebhookSubscription, *, sealed_secret: str) -> None:
        self._forget()
        self.s.add(
            WebhookSubscriptionRow(
                id=sub.id,
                partner_id=sub.partner_id,
                target_url=sub.target_url,
                subscribed_events=list(sub.subscribed_events),
                phone_numbers=list(sub.phone_numbers) if sub.phone_numbers is not None else None,
                signing_secret=sealed_secret,
                is_active=sub.is_active,
                created_at=sub.created_at,
                updated_at=sub.updated_at,
            )
        )
        await self.s.flush()

    async def get(self, partner_id: str, sub_id: str) -> WebhookSubscription | None:
        row = await self._row(partner_id, sub_id)
        return _sub(row) if row else None

    async def for_delivery(self, partner_id: str, sub_id: str) -> tuple[WebhookSubscription, str] | None:
        """The subscription with its stored (sealed) signing secret; other reads never carry it."""
        row = await self._row(partner_id, sub_id)
        return (_sub(row), row.signing_secret) if row else None

    async def _row(self, partner_id: str, sub_id: str) -> Any:
        stmt = selecting(_SUBS, _SUBS.c.partner_id, _SUBS.c.id)
        return (await self.s.execute(stmt, {"partner_id": partner_id, "id": sub_id})).first()

    async def list_all(self, partner_id: str) -> list[WebhookSubscription]:
        """Read once per transaction: a delivery that moves a message twice (sent, then a receipt given
        at once) emits two events from the same read. Kept on the session's transaction, so another
        transaction (or process) never sees a stale list; writes here forget it."""
        cache = self._cache()
        if partner_id not in cache:
            stmt = selecting(_SUBS, _SUBS.c.partner_id, order_by=(_SUBS.c.created_at, _SUBS.c.id))
            rows = await self.s.execute(stmt, {"partner_id": partner_id})
            cache[partner_id] = [_sub(r) for r in rows]
        return list(cache[partner_id])

    def _cache(self) -> dict[str, list[WebhookSubscription]]:
        """Per transaction: keyed by the session's current transaction, dropped with it."""
        transaction = self.s.sync_session.get_transaction()
        held = self.s.info.get(_CACHE_KEY)
        if held is None or held[0] is not transaction:
            held = (transaction, {})
            self.s.info[_CACHE_KEY] = held
        cache: dict[str, list[WebhookSubscription]] = held[1]
        return cache

    def _forget(self) -> None:
        self.s.info.pop(_CACHE_KEY, None)

    async def update(self, partner_id: str, sub_id: str, **values: object) -> None:
        self._forget()
        await self.s.execute(
            update(WebhookSubscriptionRow)
            .where(WebhookSubscriptionRow.partner_id == partner_id, WebhookSubscriptionRow.id == sub_id)
            .values(**values)
        )

    async def delete(self, partner_id: str, sub_id: str) -> bool:
        self._forget()
        result = await self.s.execute(
            delete(WebhookSubscriptionRow).where(
                WebhookSubscriptionRow.partner_id == partner_id, WebhookSubscriptionRow.id == sub_id
            )
        )
        return bool(getattr(result, "rowcount", 0))


class AttemptRepo:
    """Every webhook delivery attempt, for operators (`voicememo webhooks attempts`)."""

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add(self, **values: object) -> None:
        """One per webhook attempt: a Core INSERT built once per set of columns."""
        values["id"] = str(uuid.uuid4())
        await self.s.execute(inserting(_ATTEMPTS, tuple(sorted(values))), values)

    async def purge_older_than(self, cutoff: datetime) -> int:
        result = await self.s.execute(delete(WebhookAttemptRow).where(WebhookAttemptRow.created_at < cutoff))
        return int(getattr(result, "rowcount", 0))

    async def list_recent(self, limit: int = 200, partner_id: str | None = None) -> list[dict[str, object]]:
        stmt = select(WebhookAttemptRow).order_by(WebhookAttemptRow.created_at.desc()).limit(limit)
        if partner_id:
            stmt = stmt.where(WebhookAttemptRow.partner_id == partner_id)
        rows = await self.s.scalars(stmt)
        return [
            {
                "event_id": r.event_id,
                "event_type": r.event_type,
                "subscription_id": r.subscription_id,
                "attempt": r.attempt,
                "status_code": r.status_code,
                "outcome": r.outcome,
                "error": r.error,
                "duration_ms": r.duration_ms,
                "created_at": r.created_at.isoformat(),
                "partner_id": r.partner_id,
            }
            for r in rows
        ]
