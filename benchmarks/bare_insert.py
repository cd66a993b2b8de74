"""The peer for benchmarks/throughput.py: a bare FastAPI endpoint doing one SQLite insert.

    .venv/bin/python benchmarks/bare_insert.py DATA_DIR PORT

Same route shape, JSON body and uvicorn settings as `voicememo serve`; SQLite in WAL mode through
SQLAlchemy and aiosqlite, one INSERT per request in its own transaction, answered 202 with the row id.
What the server does beyond this (authentication, checks, the job, idempotency) is what the ratio costs.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, MetaData, String, Table, event
from sqlalchemy.ext.asyncio import create_async_engine

metadata = MetaData()
memos = Table(
    "memos",
    metadata,
    Column("id", String, primary_key=True),
    Column("chat_id", String),
    Column("attachment_id", String),
)


class Body(BaseModel):
    attachment_id: str


def create_bare_app(db_path: Path) -> FastAPI:
    engine = create_async_engine(f"sqlite+aiosqlite:///{db_path}")

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v3/chats/{chat_id}/voicememo", status_code=202)
    async def send(chat_id: str, body: Body) -> dict[str, Any]:
        memo_id = str(uuid.uuid4())
        async with engine.begin() as conn:
            await conn.execute(memos.insert().values(id=memo_id, chat_id=chat_id, attachment_id=body.attachment_id))
        return {"voice_memo": {"id": memo_id, "status": "queued"}}

    return app


if __name__ == "__main__":
    data_dir, port = Path(sys.argv[1]), int(sys.argv[2])
    data_dir.mkdir(parents=True, exist_ok=True)
    uvicorn.run(create_bare_app(data_dir / "bare.db"), host="127.0.0.1", port=port, log_level="info", access_log=False)
