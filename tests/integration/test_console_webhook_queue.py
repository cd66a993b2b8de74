"""Webhook events not tried yet (no worker runs here): listed as queued with their body stored, and
redelivered from the job's payload alone (as for attempts recorded before migration 0007)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

import testdb
from voicememo.container import Container
from voicememo.errors import NotFound
from voicememo.settings import Settings
from voicememo.storage.tables import JobRow


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The subscription's target is on loopback."""
    return testdb.migrated_settings(tmp_path / "data", fetch_allow_private_networks=True)


@pytest.mark.anyio
async def test_a_queued_event_is_listed_and_redelivered_from_its_job(container: Container) -> None:
    made = await container.admin.create_partner("p", "+15550001234")
    other = await container.admin.create_partner("q", "+15550001235")
    pid = made.partner.id
    sub = await container.webhooks.create(pid, "http://127.0.0.1:9/hooks", ["message.sent"], None)
    event_id = await container.webhook_console.send_test_event(pid, sub.id)

    events = await container.webhook_console.events(pid, sub.id)
    assert [(e.event_id, e.event_type, e.outcome, e.attempts, e.redeliverable) for e in events] == [
        (event_id, "webhook.test", "queued", (), True)
    ]
    assert await container.webhook_console.redeliver(pid, event_id) == 1
    async with container.ctx.db.read() as s:
        bodies = list(await s.scalars(select(JobRow.payload).where(JobRow.kind == "webhook").order_by(JobRow.id)))
        assert len(bodies) == 2 and bodies[0] == bodies[1]  # the same event id and bytes, queued twice
    assert [e.event_id for e in await container.webhook_console.events(pid, sub.id)] == [event_id]

    with pytest.raises(NotFound):
        await container.webhook_console.events(other.partner.id, sub.id)
    async with container.ctx.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(JobRow).where(JobRow.kind == "webhook")) == 2
