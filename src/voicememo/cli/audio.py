"""``voicememo audio probe``: the same check and measurement the server applies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from voicememo.audio.probe import probe_file
from voicememo.errors import UnsupportedAudio

audio_app = typer.Typer(help="Audio tools.", no_args_is_help=True)


@audio_app.command("probe")
def probe(
    files: Annotated[list[Path], typer.Argument(help="Audio files to check.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Format, MIME type, codec, sample rate, channels and exact duration — or why the file is refused."""
    failed = False
    for path in files:
        try:
            if not path.is_file():
                raise UnsupportedAudio("No such file.")
            info = probe_file(path)
        except UnsupportedAudio as exc:
            failed = True
            if as_json:
                typer.echo(json.dumps({"file": str(path), "ok": False, "error": exc.message}))
            else:
                typer.echo(f"{path}: REJECTED: {exc.message}")
            continue
        if as_json:
            typer.echo(json.dumps({"file": str(path), "ok": True, **info.as_dict()}))
        else:
            typer.echo(
                f"{path}: {info.format.value} {info.mime_type} {info.codec} {info.sample_rate} Hz "
                f"{info.channels} ch {info.duration_ms} ms"
            )
    if failed:
        raise typer.Exit(1)
