"""What every CLI command shares: run one service call against the configured data dir, print."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from voicememo.container import Container
from voicememo.errors import VoicememoError
from voicememo.logs import configure_logging
from voicememo.settings import Settings
from voicememo.storage.migrate import upgrade

T = TypeVar("T")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def run_admin(action: Callable[[Container], Awaitable[T]]) -> T:
    """Migrate, run one service call against the configured data dir, report user errors plainly."""
    settings = Settings()
    configure_logging(settings.log_format, logging.WARNING)  # stderr: stdout is the command's answer
    settings.ensure_dirs()
    upgrade(settings.database_url)

    async def go() -> T:
        container = Container(settings)
        try:
            return await action(container)
        finally:
            await container.aclose()

    try:
        return asyncio.run(go())
    except VoicememoError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc


def emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    typer.echo(json.dumps(data) if as_json else text)
