"""``voicememo audio probe``/``convert``: the same check, measurement and rendition the server applies.

The audio code (PyAV, numpy) is imported when a command runs, and nothing of the server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

audio_app = typer.Typer(help="Audio tools.", no_args_is_help=True)


@audio_app.command("convert")
def convert(
    source: Annotated[Path, typer.Argument(help="Audio file in any accepted format.")],
    target: Annotated[Path, typer.Argument(help="Where to write the rendition.")],
    profile: Annotated[str, typer.Option(help="imessage (Opus in CAF) or mms (carrier-friendly).")] = "imessage",
    bit_rate: Annotated[int, typer.Option(help="Opus bit rate (imessage).")] = 32000,
    desc_rate: Annotated[int, typer.Option(help="CAF descriptor rate: 24000 or 48000 (imessage).")] = 24000,
    threads: Annotated[int, typer.Option(help="Encoder threads for a long memo; 0 = one per CPU (imessage).")] = 0,
) -> None:
    """Write the verified rendition the server would send."""
    from voicememo.audio.probe import probe_file
    from voicememo.audio.render import RenditionFailed, render
    from voicememo.errors import UnsupportedAudio

    if profile not in ("imessage", "mms"):
        raise typer.BadParameter("profile must be imessage or mms")
    try:
        measured = probe_file(source)
        made = render(
            source,
            target,
            profile,
            bit_rate=bit_rate,
            desc_rate=desc_rate,
            threads=threads,
            source_samples=measured.samples,
            source_rate=measured.sample_rate,
        )
    except (UnsupportedAudio, RenditionFailed) as exc:
        typer.echo(f"{source}: REJECTED: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"{target}: {made.mime_type} {made.codec} {made.duration_ms} ms (source {made.source_duration_ms} ms), "
        f"{made.size_bytes} bytes"
    )


@audio_app.command("probe")
def probe(
    files: Annotated[list[Path], typer.Argument(help="Audio files to check.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Format, MIME type, codec, sample rate, channels and exact duration — or why the file is refused."""
    from voicememo.audio.probe import probe_file
    from voicememo.errors import UnsupportedAudio

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
