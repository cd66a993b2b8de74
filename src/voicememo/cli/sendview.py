"""What `voicememo send` shows: live progress and status on stderr, the outcome on stdout.

The live parts (rich) appear only on a terminal, or when forced (``--progress``, or rich's own
``TTY_COMPATIBLE=1`` / ``FORCE_COLOR``), and never in ``--json`` mode unless ``--progress`` asks:
a script gets exactly one JSON object on stdout and nothing drawn on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import typer
from rich.console import Console


class View:
    def __init__(self, as_json: bool, progress: bool | None) -> None:
        self.as_json = as_json
        self.console = Console(stderr=True, force_terminal=True if progress else None)
        self.live = progress is True or (progress is None and not as_json and self.console.is_terminal)
        #: what --json prints at the end; filled in as the steps happen
        self.result: dict[str, Any] = {}

    def say(self, text: str) -> None:
        if not self.as_json:
            typer.echo(text)

    def transition(self, status: str, at: str) -> None:
        self.result.setdefault("transitions", []).append({"status": status, "at": at})
        if not self.as_json:
            local = datetime.fromisoformat(at).astimezone()
            typer.echo(f"{local:%H:%M:%S}.{local.microsecond // 1000:03d}  {status}")

    @contextmanager
    def uploading(self, name: str, size: int) -> Iterator[Callable[[int], None]]:
        """A progress bar of the bytes handed to the connection; ``advance(n)`` per chunk."""
        if not self.live:
            yield lambda n: None
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns = (TextColumn("uploading {task.description}"), BarColumn(), DownloadColumn())
        with Progress(
            *columns,
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            redirect_stdout=sys.stdout.isatty(),
            redirect_stderr=False,
        ) as bar:
            task = bar.add_task(name, total=size)
            yield lambda n: bar.advance(task, n)

    @contextmanager
    def waiting(self) -> Iterator[Callable[[str], None]]:
        """A live status line (spinner and text) while --wait polls; ``show(text)`` updates it."""
        if not self.live:
            yield lambda text: None
            return
        from rich.live import Live
        from rich.spinner import Spinner

        spinner = Spinner("dots", "waiting for delivery")
        with Live(
            spinner,
            console=self.console,
            transient=True,
            refresh_per_second=8,
            redirect_stdout=sys.stdout.isatty(),
            redirect_stderr=False,
        ):
            yield lambda text: spinner.update(text=text)

    def done(self, code: int) -> int:
        if self.as_json:
            typer.echo(json.dumps({"ok": True, "exit_code": code, **self.result}))
        return code

    def fail(self, code: int, message: str, **fields: Any) -> int:
        typer.echo(f"error: {message}", err=True)
        if self.as_json:
            answer = {"ok": False, "exit_code": code, **self.result, "error": message}
            answer.update({k: v for k, v in fields.items() if v is not None})
            answer.setdefault("error_code", None)
            answer.setdefault("error_reason", message)
            typer.echo(json.dumps(answer))
        return code
