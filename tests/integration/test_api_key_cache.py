"""API keys are remembered for API_KEY_CACHE_SECONDS: a revocation elsewhere counts once that passes,
one through the same container at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from clocks import Clock
from voicememo.container import Container
from voicememo.errors import Unauthorized
from voicememo.services.admin import AdminService
from voicememo.services.api_keys import ApiKeyCache
from voicememo.settings import Settings

T0 = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def containers(settings: Settings) -> AsyncIterator[tuple[Container, Container]]:
    server, cli = Container(settings), Container(settings)
    try:
        yield server, cli
    finally:
        await server.aclose()
        await cli.aclose()


@pytest.mark.anyio
async def test_a_key_revoked_elsewhere_is_refused_once_the_cache_expires(
    containers: tuple[Container, Container],
) -> None:
    server, cli = containers
    clock = Clock(T0)
    admin = AdminService(server.ctx, server.lines, ApiKeyCache(5.0, clock))
    made = await cli.admin.create_partner("Acme", "+15550100001")
    assert (await admin.authenticate(made.api_key.secret)).id == made.partner.id
    await cli.admin.revoke_key(made.api_key.key.id)
    clock.now += timedelta(seconds=4.9)
    assert (await admin.authenticate(made.api_key.secret)).id == made.partner.id  # within the TTL
    clock.now += timedelta(seconds=0.1)
    with pytest.raises(Unauthorized):
        await admin.authenticate(made.api_key.secret)


@pytest.mark.anyio
async def test_a_revocation_through_the_same_container_counts_at_once(
    containers: tuple[Container, Container],
) -> None:
    server, _ = containers
    made = await server.admin.create_partner("Acme", "+15550100001")
    other = await server.admin.create_key(made.partner.id)
    assert (await server.admin.authenticate(made.api_key.secret)).id == made.partner.id
    assert (await server.admin.authenticate(other.secret)).id == made.partner.id
    await server.admin.revoke_key(made.api_key.key.id)
    with pytest.raises(Unauthorized):
        await server.admin.authenticate(made.api_key.secret)
    assert (await server.admin.authenticate(other.secret)).id == made.partner.id
