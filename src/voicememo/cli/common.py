"""What every CLI command shares: run one service call against the configured data dir, print.

The server (settings, database, services) is imported inside the functions, when a command
runs: `voicememo --help` and `voicememo audio probe` never pay for it
(tests/integration/test_import_hygiene.py).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from voicememo.container import Container
    from voicememo.settings import Settings

T = TypeVar("T")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def run_admin(action: Callable[[Container], Awaitable[T]]) -> T:
    """Migrate, run one service call against the configured data dir, report user errors plainly."""
    import asyncio
    import logging

    from voicememo.container import Container
    from voicememo.errors import VoicememoError
    from voicememo.logs import configure_logging
    from voicememo.settings import Settings

    settings = Settings()
    configure_logging(settings.log_format, logging.WARNING)  # stderr: stdout is the command's answer
    migrate_data_dir(settings)

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


def migrate_data_dir(settings: Settings) -> None:
    """Make the data dir and bring the database schema up to date."""
    from voicememo.storage.migrate import upgrade

    settings.ensure_dirs()
    upgrade(settings.database_url)


def emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    typer.echo(json.dumps(data) if as_json else text)
