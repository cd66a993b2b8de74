"""Which service reaches a handle from a line: asked of the line's sender before any write, cached.

An answer is reused for SERVICE_LOOKUP_TTL_SECONDS, so chat creation does not wait on a round
trip to a Mac for every recipient it has seen before, and a round trip never happens inside
a write transaction (on SQLite that would hold the one write lock).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from voicememo.domain.handles import normalize_handle, require_e164
from voicememo.domain.models import Line, Service
from voicememo.errors import HandleUnreachable, InvalidParameter, LineNotOwned, LineUnavailable
from voicememo.senders.base import SenderError
from voicememo.services.context import ServiceContext
from voicememo.services.lines import LineService
from voicememo.storage.repos.lines import LineRepo
from voicememo.storage.repos.sends import HandleServiceRepo

_LOOKUPS_AT_ONCE = 8


@dataclass(frozen=True)
class HandleCheck:
    address: str
    available: bool
    selected_service: Service | None


class ReachService:
    def __init__(self, ctx: ServiceContext, lines: LineService) -> None:
        self.ctx = ctx
        self.lines = lines

    async def lookup(self, line: Line, handles: Sequence[str]) -> dict[str, Service | None]:
        """Every handle's service from the line (None: unreachable); LineUnavailable if the sender can't say."""
        now = self.ctx.clock()
        since = now - timedelta(seconds=self.ctx.settings.service_lookup_ttl_seconds)
        async with self.ctx.db.read() as s:
            known = await HandleServiceRepo(s).fresh(line.id, handles, since)
        missing = [h for h in handles if h not in known]
        if not missing:
            return known
        try:
            _line, sender = await self.lines.sender_for(line.id)
            gate = asyncio.Semaphore(_LOOKUPS_AT_ONCE)

            async def one(handle: str) -> Service | None:
                async with gate:
                    return await sender.lookup(handle)

            answers = dict(zip(missing, await asyncio.gather(*(one(h) for h in missing)), strict=True))
        except SenderError as exc:
            raise LineUnavailable(
                f"Could not learn which service reaches the recipients from {line.phone_number}: {exc.message}",
                retry=exc.retryable,
            ) from exc
        async with self.ctx.db.write() as s:
            await HandleServiceRepo(s).put(line.id, answers, now)
        return {**known, **answers}

    async def services_for(self, line: Line, handles: Sequence[str]) -> dict[str, Service]:
        """Like :meth:`lookup`, refusing the request when a handle cannot be reached at all."""
        found = await self.lookup(line, handles)
        unreachable = [h for h in handles if found[h] is None]
        if unreachable:
            raise HandleUnreachable(
                f"{', '.join(unreachable)} cannot be reached from {line.phone_number}: not on iMessage, and this "
                "line does not send SMS."
            )
        return {h: s for h, s in found.items() if s is not None}

    async def check(self, partner_id: str, address: str, from_number: str | None, wanted: Service) -> HandleCheck:
        """The capability check (``/v3/capability/check_imessage`` and ``check_rcs``)."""
        if not address:
            raise InvalidParameter("address is required: an E.164 phone number or an e-mail address.")
        handle = normalize_handle(address)
        if wanted is Service.RCS and "@" in handle:
            raise InvalidParameter("check_rcs takes an E.164 phone number: RCS has no e-mail addressing.")
        line = await self._line(partner_id, from_number)
        service = (await self.lookup(line, [handle]))[handle]
        return HandleCheck(handle, service is wanted, service)

    async def _line(self, partner_id: str, from_number: str | None) -> Line:
        async with self.ctx.db.read() as s:
            if from_number is not None:
                require_e164(from_number, "from")
                line = await LineRepo(s).by_number(from_number)
                if line is None or line.partner_id != partner_id:
                    raise LineNotOwned(f"from {from_number} is not a line of this API key.")
                return line
            lines = await LineRepo(s).list(partner_id)
        if not lines:
            raise LineNotOwned("This API key has no lines to check from.")
        healthy = [x for x in lines if x.health_status in (None, "HEALTHY")]
        return (healthy or lines)[0]
