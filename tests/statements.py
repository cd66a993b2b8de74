"""SQL statements per accepted and per delivered memo, counted in-process (a cursor-execute listener).

Used by the statement-count test (a ceiling that fails on regression) and by
benchmarks/throughput.py (which prints the figures). The app runs in this process behind httpx's
ASGI transport; delivery runs the container's own worker until every memo's ``message.delivered``
webhook has arrived.
"""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, event

from receiver import Receiver
from voicememo.container import Container
from voicememo.server import create_app
from voicememo.settings import Settings
from voicememo.storage.migrate import upgrade

LINE = "+15550600001"


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0
        self.sql: list[str] = []

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.count += 1
        self.sql.append(statement)

    def take(self) -> int:
        n = self.count
        self.count = 0
        self.sql = []
        return n


@contextmanager
def counting(engine: Engine) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(engine, "before_cursor_execute", counter._on_execute)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter._on_execute)


@dataclass(frozen=True)
class Counts:
    per_accepted: float
    per_delivered: float | None
    accepted_sql: list[str]
    delivered_sql: list[str] | None = None


def count_statements(
    settings: Settings, audio: Path, memos: int, receiver: Receiver | None, *, idempotency_keys: bool = False
) -> Counts:
    """Accept ``memos`` by attachment_id (one chat per 25), then, given a receiver, deliver them."""
    upgrade(settings.database_url)
    return asyncio.run(_count(settings, audio.name, audio.read_bytes(), memos, receiver, idempotency_keys))


async def _count(
    settings: Settings, name: str, data: bytes, memos: int, receiver: Receiver | None, idempotency_keys: bool
) -> Counts:
    container = Container(settings)
    made = await container.admin.create_partner("Count", LINE)
    app = create_app(container=container)
    headers = {"Authorization": f"Bearer {made.api_key.secret}"}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_base_url, headers=headers) as http:
            slot = (
                await http.post(
                    "/v3/attachments",
                    json={"filename": name, "content_type": "audio/mpeg", "size_bytes": len(data)},
                )
            ).json()
            (await http.put(slot["upload_url"], content=data, headers=slot["required_headers"])).raise_for_status()
            if receiver is not None:
                (
                    await http.post(
                        "/v3/webhook-subscriptions",
                        json={"target_url": receiver.url, "subscribed_events": ["message.delivered"]},
                    )
                ).raise_for_status()
            chats = []
            for i in range((memos + 24) // 25):
                created = await http.post(
                    "/v3/chats",
                    json={
                        "from": LINE,
                        "to": [f"+1778{i:07d}"],
                        "message": {"parts": [{"type": "text", "value": "hi"}]},
                    },
                )
                chats.append(created.json()["chat"]["id"])
            ids: list[str] = []
            with counting(container.ctx.db.statement_engine) as counter:
                for n in range(memos):
                    extra = {"Idempotency-Key": f"count-{n}"} if idempotency_keys else {}
                    response = await http.post(
                        f"/v3/chats/{chats[n // 25]}/voicememo",
                        json={"attachment_id": slot["attachment_id"]},
                        headers=extra,
                    )
                    assert response.status_code == 202, response.text
                    ids.append(response.json()["voice_memo"]["id"])
                sql = list(counter.sql)
                per_accepted = counter.take() / memos
                if receiver is None:
                    return Counts(per_accepted, None, sql)
                stop = asyncio.Event()
                worker = asyncio.create_task(container.worker().run(stop))
                wanted = set(ids)
                deadline = time.monotonic() + 120
                while wanted and time.monotonic() < deadline:
                    try:
                        wanted.discard(receiver.accepted.get_nowait().event["data"]["id"])
                    except queue.Empty:
                        await asyncio.sleep(0.01)
                stop.set()
                await worker
                assert not wanted, f"{len(wanted)} memos not delivered"
                delivered_sql = list(counter.sql)
                return Counts(per_accepted, counter.take() / memos, sql, delivered_sql)
    finally:
        await container.aclose()
