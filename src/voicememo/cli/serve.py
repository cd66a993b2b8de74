"""``voicememo serve``: migrate, optionally bootstrap a dev partner, run uvicorn."""

from __future__ import annotations

import asyncio

import typer
import uvicorn

from voicememo.api.app import create_app
from voicememo.container import Container
from voicememo.logs import configure_logging
from voicememo.settings import Settings
from voicememo.storage.migrate import upgrade

DEV_LINE = "+15550100001"


async def bootstrap_dev(settings: Settings) -> str:
    """On an empty database: a dev partner with a sandbox line; returns what to print."""
    container = Container(settings)
    try:
        if await container.admin.count_partners():
            return (
                "Using the existing data dir; API keys are shown only when created.\n"
                "  new key:  .venv/bin/voicememo keys create --partner <id>   (ids: voicememo partners list)"
            )
        made = await container.admin.create_partner("Development", DEV_LINE)
        return (
            f"Created a development partner with the sandbox line {made.line.phone_number}.\n"
            f"  API key:  {made.api_key.secret}   (shown once)"
        )
    finally:
        await container.aclose()


def run_server(settings: Settings, *, dev: bool) -> None:
    configure_logging(settings.log_format)
    settings.ensure_dirs()
    upgrade(settings.database_url)
    note = asyncio.run(bootstrap_dev(settings)) if dev else ""
    typer.echo(f"voicememo listening on http://{settings.host}:{settings.port}")
    typer.echo(f"  base URL: {settings.public_base_url}   (SDK: LinqAPIV3(base_url=..., api_key=...))")
    if note:
        typer.echo(note)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
