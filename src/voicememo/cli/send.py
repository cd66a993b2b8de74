"""``voicememo send``: a memo from a file to people, against any Partner API v3 server, no code needed.

Only typer loads here; the client (httpx, rich) is imported when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EPILOG = (
    "Exit codes: 0 accepted (delivered or read with --wait); 1 delivery failed; 2 bad usage, a file that "
    "cannot be read, no API key, no such line; 3 refused by the server (e.g. 400/5004, not audio); "
    "4 API key refused (401/403); 5 server unreachable or failing; 6 --wait timed out."
)


def send(
    file: Annotated[Path, typer.Argument(help="The audio file (MP3, M4A, AAC, CAF, WAV, AIFF, AMR).")],
    to: Annotated[list[str], typer.Option("--to", help="A recipient: E.164 number or e-mail; repeat for a group.")],
    line: Annotated[
        str | None, typer.Option("--from", help="Your line (E.164); needed only when the key has several.")
    ] = None,
    text: Annotated[
        str | None,
        typer.Option(help="Text that opens a new chat (the API opens a chat with a message); unused otherwise."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the status until delivered, read or failed.")] = False,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds --wait follows before giving up.")] = 180.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout, for scripts.")] = False,
    base_url: Annotated[
        str | None, typer.Option(help="The server (LINQ_API_V3_BASE_URL), e.g. http://127.0.0.1:8080.")
    ] = None,
    api_key: Annotated[str | None, typer.Option(help="Your API key (LINQ_API_V3_API_KEY).")] = None,
    content_type: Annotated[
        str | None, typer.Option(help="Declared audio type when the name does not tell (e.g. audio/mpeg).")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            help="Re-running with the same key (1-200 characters) within 24 h gives back the first run's memo "
            "instead of sending again."
        ),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress", help="Draw the upload bar and status line (default: on a terminal only)."
        ),
    ] = None,
) -> None:
    """Send an audio file as a voice memo: finds or opens the chat, uploads, sends (and with --wait follows it)."""
    from voicememo.cli.sendflow import SendRequest, run

    request = SendRequest(
        file, to, line, text, wait, timeout, as_json, base_url, api_key, content_type, progress, idempotency_key
    )
    raise typer.Exit(run(request))
