"""Request dependencies as ``Annotated`` aliases: the container, the authenticated partner."""

from __future__ import annotations

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


async def get_presenter(container: ContainerDep) -> Presenter:
    return Presenter(container.ctx.urls)


PresenterDep = Annotated[Presenter, Depends(get_presenter)]


async def get_partner(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Partner:
    return await container.admin.authenticate(credentials.credentials if credentials else None)


CurrentPartner = Annotated[Partner, Depends(get_partner)]
