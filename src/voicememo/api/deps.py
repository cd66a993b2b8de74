"""Request dependencies as ``Annotated`` aliases: the container, and for the partner API one ``Call``.

FastAPI solves every dependency of a route on every request, sub-dependencies included; the
partner routes used three (container, partner, presenter), which cost ~6% of an accepted memo's
instructions. ``Call`` is one dependency (with the bearer scheme, so the OpenAPI security stays).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from voicememo.api.present import Presenter
from voicememo.container import Container
from voicememo.domain.models import Partner

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <api_key>")


# Dependencies are ``async def``: FastAPI runs a plain ``def`` one on its thread pool, a hand-off per
# request each.
async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


@dataclass(frozen=True, slots=True)
class PartnerCall:
    """A partner API request: who made it (authenticated), the services, and the wire presenter."""

    partner: Partner
    c: Container
    p: Presenter

    @property
    def partner_id(self) -> str:
        return self.partner.id


async def get_call(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> PartnerCall:
    container = await get_container(request)
    partner = await container.admin.authenticate(credentials.credentials if credentials else None)
    return PartnerCall(partner, container, Presenter(container.ctx.urls))


Call = Annotated[PartnerCall, Depends(get_call)]
