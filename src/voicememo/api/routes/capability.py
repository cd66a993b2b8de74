"""/v3/capability: can a handle be reached over iMessage (or RCS) from a line, as its sender answers."""

from __future__ import annotations

from fastapi import APIRouter

from voicememo.api import schemas as s
from voicememo.api.deps import Call
from voicememo.api.guard import GuardedRoute
from voicememo.domain.models import Service

router = APIRouter(tags=["capability"], route_class=GuardedRoute)


@router.post(
    "/capability/check_imessage", response_model=s.HandleCheckResponse, operation_id="capability_check_imessage"
)
async def check_imessage(body: s.CapabilityCheckParams, call: Call) -> s.HandleCheckResponse:
    return call.p.handle_check(await call.c.reach.check(call.partner_id, body.address, body.from_, Service.IMESSAGE))


@router.post("/capability/check_rcs", response_model=s.HandleCheckResponse, operation_id="capability_check_rcs")
async def check_rcs(body: s.CapabilityCheckRcsParams, call: Call) -> s.HandleCheckResponse:
    return call.p.handle_check(await call.c.reach.check(call.partner_id, body.address, body.from_, Service.RCS))
