"""Partners and their API keys (lines: repos/lines.py)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.domain.models import ApiKey, Partner
from voicememo.storage.tables import ApiKeyRow, PartnerRow


def _partner(row: PartnerRow) -> Partner:
    return Partner(row.id, row.name, row.created_at)


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(row.id, row.partner_id, row.prefix, row.created_at, row.revoked_at)


class PartnerRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def add_partner(self, partner: Partner) -> None:
        self.s.add(PartnerRow(id=partner.id, name=partner.name, created_at=partner.created_at))
        await self.s.flush()

    async def get_partner(self, partner_id: str) -> Partner | None:
        row = await self.s.get(PartnerRow, partner_id)
        return _partner(row) if row else None

    async def list_partners(self) -> list[Partner]:
        rows = await self.s.scalars(select(PartnerRow).order_by(PartnerRow.created_at))
        return [_partner(r) for r in rows]

    async def count_partners(self) -> int:
        return int(await self.s.scalar(select(func.count()).select_from(PartnerRow)) or 0)

    async def add_key(self, key: ApiKey, key_hash: str) -> None:
        self.s.add(
            ApiKeyRow(
                id=key.id,
                partner_id=key.partner_id,
                prefix=key.prefix,
                key_hash=key_hash,
                created_at=key.created_at,
                revoked_at=None,
            )
        )
        await self.s.flush()

    async def partner_for_key_hash(self, key_hash: str) -> Partner | None:
        row = await self.s.scalar(
            select(PartnerRow)
            .join(ApiKeyRow, ApiKeyRow.partner_id == PartnerRow.id)
            .where(ApiKeyRow.key_hash == key_hash, ApiKeyRow.revoked_at.is_(None))
        )
        return _partner(row) if row else None

    async def list_keys(self, partner_id: str) -> list[ApiKey]:
        rows = await self.s.scalars(
            select(ApiKeyRow).where(ApiKeyRow.partner_id == partner_id).order_by(ApiKeyRow.created_at)
        )
        return [_key(r) for r in rows]

    async def revoke_key(self, partner_id: str | None, key_id: str, when: object) -> bool:
        stmt = update(ApiKeyRow).where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
        if partner_id is not None:
            stmt = stmt.where(ApiKeyRow.partner_id == partner_id)
        result = await self.s.execute(stmt.values(revoked_at=when))
        return bool(getattr(result, "rowcount", 0))

    async def active_key_for_hash(self, key_hash: str) -> tuple[ApiKey, Partner] | None:
        """The key (not revoked) with this hash and its partner: the console's sign-in."""
        return await self._active_key(ApiKeyRow.key_hash == key_hash)

    async def active_key(self, key_id: str) -> tuple[ApiKey, Partner] | None:
        """The key with this id if it is still active, and its partner: each console request."""
        return await self._active_key(ApiKeyRow.id == key_id)

    async def _active_key(self, where: ColumnElement[bool]) -> tuple[ApiKey, Partner] | None:
        row = (
            await self.s.execute(
                select(ApiKeyRow, PartnerRow)
                .join(PartnerRow, ApiKeyRow.partner_id == PartnerRow.id)
                .where(where, ApiKeyRow.revoked_at.is_(None))
            )
        ).first()
        return (_key(row[0]), _partner(row[1])) if row else None
