"""Operator tasks: partners, API keys and lines (the CLI and the dev bootstrap use these)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from voicememo.domain.handles import require_e164
from voicememo.domain.models import ApiKey, Line, Partner
from voicememo.errors import InvalidParameter, NotFound, Unauthorized
from voicememo.services.api_keys import ApiKeyCache
from voicememo.services.context import ServiceContext
from voicememo.services.lines import LineService
from voicememo.storage.repos.partners import PartnerRepo

KEY_PREFIX = "vm_"


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str


@dataclass(frozen=True)
class NewPartner:
    partner: Partner
    line: Line
    api_key: NewKey


class AdminService:
    def __init__(self, ctx: ServiceContext, lines: LineService, keys: ApiKeyCache) -> None:
        self.ctx = ctx
        self.lines = lines
        self.keys = keys

    async def create_partner(self, name: str, line_number: str) -> NewPartner:
        """A partner with a sandbox line and an API key (connect a Mac with `voicememo lines add`)."""
        if not name.strip():
            raise InvalidParameter("partner name must not be empty.")
        require_e164(line_number, "line")
        now = self.ctx.clock()
        partner = Partner(str(uuid.uuid4()), name.strip(), now)
        line = Line(str(uuid.uuid4()), partner.id, line_number, "sandbox", now)
        async with self.ctx.db.write() as s:
            repo = PartnerRepo(s)
            await repo.add_partner(partner)
            await self.lines.add_in(s, line, None)
            key = await self._add_key(repo, partner.id)
        return NewPartner(partner, line, key)

    async def create_key(self, partner_id: str) -> NewKey:
        async with self.ctx.db.write() as s:
            repo = PartnerRepo(s)
            if await repo.get_partner(partner_id) is None:
                raise NotFound(f"No partner with id {partner_id}.")
            return await self._add_key(repo, partner_id)

    async def revoke_key(self, key_id: str) -> None:
        async with self.ctx.db.write() as s:
            if not await PartnerRepo(s).revoke_key(None, key_id, self.ctx.clock()):
                raise NotFound(f"No active API key with id {key_id}.")
        self.keys.forget_all()

    async def list_keys(self, partner_id: str) -> list[ApiKey]:
        async with self.ctx.db.read() as s:
            return await PartnerRepo(s).list_keys(partner_id)

    async def list_partners(self) -> list[Partner]:
        async with self.ctx.db.read() as s:
            return await PartnerRepo(s).list_partners()

    async def count_partners(self) -> int:
        async with self.ctx.db.read() as s:
            return await PartnerRepo(s).count_partners()

    async def authenticate(self, api_key: str | None) -> Partner:
        if not api_key:
            raise Unauthorized("Missing API key: send 'Authorization: Bearer <api_key>'.")
        key_hash = hash_key(api_key)
        partner = self.keys.get(key_hash)
        if partner is not None:
            return partner
        async with self.ctx.db.read() as s:
            partner = await PartnerRepo(s).partner_for_key_hash(key_hash)
        if partner is None:
            raise Unauthorized("Invalid or revoked API key.")
        self.keys.put(key_hash, partner)
        return partner

    async def _add_key(self, repo: PartnerRepo, partner_id: str) -> NewKey:
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(str(uuid.uuid4()), partner_id, secret[:10], self.ctx.clock(), None)
        await repo.add_key(key, hash_key(secret))
        return NewKey(key, secret)
