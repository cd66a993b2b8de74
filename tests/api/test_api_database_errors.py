"""A database that fails under a request: the contract's 500 at once, with its trace id, and nothing stuck.

Found on PostgreSQL: such a request never answered. The servers under test logged through structlog's
default configuration, whose rich tracebacks render every frame's local variables; for an asyncpg
error that took longer than the client waited (and would have printed secrets held in locals). The
product's logging renders plain tracebacks; the test servers now log exactly as ``serve`` does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from apiserver import running_server
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from voicememo.settings import Settings


def _execute(settings: Settings, statement: str) -> None:
    async def go() -> None:
        engine = create_async_engine(settings.database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(go())


def test_a_failing_query_answers_500_promptly_and_the_server_recovers(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        made = server.new_partner()
        chat = (
            server.client(made.api_key.secret)
            .chats.create(
                from_=made.line.phone_number, to=["+15550001234"], message={"parts": [{"type": "text", "value": "hi"}]}
            )
            .chat
        )
        headers = {"Authorization": f"Bearer {made.api_key.secret}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as http:
            assert http.get(f"/v3/chats/{chat.id}").status_code == 200
            _execute(server.settings, "ALTER TABLE chats RENAME TO chats_gone")
            try:
                failed = http.get(f"/v3/chats/{chat.id}")
            finally:
                _execute(server.settings, "ALTER TABLE chats_gone RENAME TO chats")
            body = failed.json()
            assert (failed.status_code, body["error"]["code"]) == (500, 3006), failed.text
            assert body["trace_id"] == failed.headers["x-trace-id"]
            assert "chats_gone" not in failed.text and "SELECT" not in failed.text  # the log has it, not the caller
            again = http.get(f"/v3/chats/{chat.id}")  # the pool's connection and the keep-alive one both survive
            assert (again.status_code, again.json()["id"]) == (200, chat.id)
