"""``voicememo serve``: migrate, optionally bootstrap a dev partner, run uvicorn (one process or several).

With ``--workers N`` uvicorn's supervisor starts N processes on the one socket; each builds its own app
from ``VOICEMEMO_*`` variables (``app_factory``), so the settings go to them through the environment. What
they share lives outside them: the database (jobs, idempotency keys, memos), the data dir (blobs, the
signing key), PostgreSQL's notifications (wake-ups) and, when configured, Redis (rate limits).
"""

from __future__ import annotations

import asyncio
import json
import os

import typer
import uvicorn

from voicememo.container import Container
from voicememo.logs import configure_logging
from voicememo.metrics import share_metrics
from voicememo.server import create_app
from voicememo.services.console.admin_token import with_dev_admin_token
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
    share_metrics(settings, prune=True)
    upgrade(settings.database_url)
    note = asyncio.run(bootstrap_dev(settings)) if dev else ""
    admin_token = None
    if dev:  # the operator view needs an admin token: one is kept in the data dir unless configured
        settings, admin_token = with_dev_admin_token(settings)
    console = f"{settings.public_base_url}/console"
    if settings.log_format == "json":  # stdout too is one JSON object per line
        listening = {"event": "serving", "url": f"http://{settings.host}:{settings.port}"}
        typer.echo(json.dumps({**listening, "base_url": settings.public_base_url, "console": console}))
        if note:  # the dev key, shown once: printed here, never logged
            typer.echo(json.dumps({"event": "dev_partner", "note": note}))
        if admin_token:
            typer.echo(json.dumps({"event": "dev_operator", "url": f"{console}/operator", "admin_token": admin_token}))
    else:
        typer.echo(f"voicememo listening on http://{settings.host}:{settings.port}")
        typer.echo(f"  base URL: {settings.public_base_url}   (SDK: LinqAPIV3(base_url=..., api_key=...))")
        typer.echo(f"  console:  {console}   (sign in with an API key)")
        if note:
            typer.echo(note)
        if admin_token:
            typer.echo(f"  operator: {console}/operator   admin token: {admin_token}")
    if settings.api_processes == 1:
        app = create_app(settings)
        # log_config=None: uvicorn keeps the handlers configure_logging set (one format for every line)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False, log_config=None)
        return
    for warning in multiprocess_warnings(settings):
        typer.echo(f"  warning: {warning}", err=True)
    os.environ.update(settings.to_environ())
    uvicorn.run(
        "voicememo.server:app_factory",
        factory=True,
        workers=settings.api_processes,
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
        log_config=None,
    )


def multiprocess_warnings(settings: Settings) -> list[str]:
    """What several API processes do differently from one, where the configuration makes it matter."""
    n = settings.api_processes
    warnings = []
    if not settings.redis_url:
        warnings.append(
            f"no VOICEMEMO_REDIS_URL: each of the {n} processes counts rate limits in its own memory "
            f"(a recipient may get up to {n} times the limit); set it to share them"
        )
    if settings.is_sqlite and settings.workers_in_process:
        warnings.append(
            "SQLite: each process's in-process workers wake only for their own process's memos and poll "
            "for the others' (every VOICEMEMO_JOB_POLL_INTERVAL); PostgreSQL wakes them all at once"
        )
    return warnings
