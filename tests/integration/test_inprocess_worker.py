"""The server's in-process worker (WORKERS_IN_PROCESS, the embedded default): started by the app's
lifespan on the API's event loop, it delivers what the API accepts, and it stops with the lifespan,
leaving no job leased behind."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import httpx
from sqlalchemy import select

import testdb
from logwatch import LogWatch, watched_logs
from voicememo.container import Container
from voicememo.server import create_app
from voicememo.settings import Settings
from voicememo.storage.repos.jobs import RUNNING
from voicememo.storage.tables import JobRow, MessageRow

LINE = "+15550600001"


async def delivered(logs: LogWatch, message_id: str) -> None:
    while True:  # each wait blocks on the log queue (off the loop, which runs the worker)
        event = await asyncio.to_thread(logs.wait_for, "message_status")
        if event["message_id"] == message_id and event["action"] == "delivered":
            return


def test_the_in_process_worker_delivers_and_stops_with_the_lifespan(tmp_path: Path) -> None:
    settings = testdb.migrated_settings(
        tmp_path, sandbox_delivered_delay=0, sandbox_read_delay=-1, job_poll_interval=0.2
    )
    assert settings.workers_in_process
    asyncio.run(serve_one_chat(settings))


async def serve_one_chat(settings: Settings) -> None:
    container = Container(settings)
    try:
        made = await container.admin.create_partner("In process", LINE)
        app = create_app(container=container)
        headers = {"Authorization": f"Bearer {made.api_key.secret}"}
        frozen_before = gc.get_freeze_count()
        with watched_logs() as logs:
            async with app.router.lifespan_context(app):
                # start-up's objects are out of the collector's sight: a full collection no longer walks them
                assert gc.get_freeze_count() > frozen_before
                assert not any(seen is app.router for seen in gc.get_objects())
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as http:
                    created = await http.post(
                        "/v3/chats",
                        json={
                            "from": LINE,
                            "to": ["+17770000001"],
                            "message": {"parts": [{"type": "text", "value": "hi"}]},
                        },
                    )
                    assert created.status_code == 201, created.text
                    message_id = created.json()["chat"]["message"]["id"]
                    await delivered(logs, message_id)
            assert len(logs.named("worker_stopped")) == 1
            assert not logs.named("worker_interrupted_jobs")
        async with container.ctx.db.read() as s:
            leased = (
                await s.execute(select(JobRow.id).where(JobRow.lease_owner.is_not(None), JobRow.status == RUNNING))
            ).all()
        assert leased == []
        # the sandbox answered with the receipt (delay 0): applied in the send's own transaction, not as a
        # job, and the message, delivered at once, needs no poll of the provider later (no reconcile job)
        async with container.ctx.db.read() as s:
            kinds = set((await s.scalars(select(JobRow.kind))).all())
            status = await s.scalar(select(MessageRow.delivery_status).where(MessageRow.id == message_id))
        assert "receipt" not in kinds and "reconcile" not in kinds and "deliver" in kinds, kinds
        assert status == "delivered"
    finally:
        await container.aclose()
