"""``voicememo lines``: the numbers partners send from, and the sender (sandbox or a Mac) behind each.

Passwords come from a file (or ``-`` for standard input), never from the command line, and
are never printed: they are sealed in the database the moment they arrive.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from voicememo.cli.common import JsonOpt, emit, run_admin

if TYPE_CHECKING:  # the services load when a command runs (cli/common.py)
    from voicememo.domain.models import Line
    from voicememo.services.lines import LineReport

lines_app = typer.Typer(help="Lines: the E.164 numbers a partner sends from, and their senders.", no_args_is_help=True)

UrlOpt = Annotated[
    str | None, typer.Option("--bluebubbles-url", help="The BlueBubbles server, e.g. http://mac.local:1234.")
]
PasswordOpt = Annotated[
    Path | None,
    typer.Option(
        "--bluebubbles-password-file", help="File holding the BlueBubbles server password ('-': standard input)."
    ),
]
SmsOpt = Annotated[
    bool | None,
    typer.Option("--sms/--no-sms", help="Send to handles without iMessage as SMS through the Mac (default on)."),
]
_DETAILS = ("reachable", "private_api", "helper_connected", "os_version", "server_version", "detected_imessage")


def read_password(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
    except OSError as exc:
        typer.echo(f"error: cannot read the password file {path}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc
    password = text.strip()
    if not password:
        typer.echo(f"error: the password file {path} is empty.", err=True)
        raise typer.Exit(2)
    return password


def sender_settings(url: str | None, sms: bool | None) -> dict[str, Any]:
    return {k: v for k, v in {"url": url, "send_sms": sms}.items() if v is not None}


def line_row(line: Line) -> dict[str, Any]:
    return {
        "line_id": line.id,
        "partner_id": line.partner_id,
        "phone_number": line.phone_number,
        "sender": line.sender_kind,
        "settings": dict(line.sender_config),
        "health": line.health_status,
    }


def report_row(report: LineReport) -> dict[str, Any]:
    health = report.health
    return {
        **line_row(report.line),
        "health": health.status,
        "problem": health.problem,
        **{key: health.details.get(key) for key in _DETAILS},
        "receipts": report.receipts,
        "checked_at": health.checked_at.isoformat(),
    }


def report_text(row: dict[str, Any]) -> str:
    def show(value: Any) -> str:
        return "yes" if value is True else "no" if value is False else "-" if value is None else str(value)

    lines = [f"{row['phone_number']}  {row['sender']}  {row['health']}  (line {row['line_id']})"]
    if row["sender"] != "sandbox":
        lines += [f"  {key:<18}{show(row[key])}" for key in _DETAILS]
        lines.append(f"  {'receipts webhook':<18}{row['receipts']}")
    if row["problem"]:
        lines.append(f"  problem: {row['problem']}")
    return "\n".join(lines)


def show(report: LineReport, as_json: bool) -> None:
    row = report_row(report)
    emit(as_json, row, report_text(row))


@lines_app.command("add")
def lines_add(
    number: str,
    partner: Annotated[str, typer.Option(help="Partner id.")],
    sender: Annotated[str, typer.Option(help="sandbox, or bluebubbles (a Mac).")] = "sandbox",
    bluebubbles_url: UrlOpt = None,
    bluebubbles_password_file: PasswordOpt = None,
    sms: SmsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a line; a BlueBubbles line is checked at once and told where to send receipts."""
    password = read_password(bluebubbles_password_file)
    config = sender_settings(bluebubbles_url, sms)
    show(run_admin(lambda c: c.lines.add(partner, number, sender, config, password)), as_json)


@lines_app.command("update")
def lines_update(
    number: str,
    bluebubbles_url: UrlOpt = None,
    bluebubbles_password_file: PasswordOpt = None,
    sms: SmsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a line's sender settings or password; the line is checked again."""
    password = read_password(bluebubbles_password_file)
    show(run_admin(lambda c: c.lines.update(number, sender_settings(bluebubbles_url, sms), password)), as_json)


@lines_app.command("remove")
def lines_remove(
    number: str,
    force: Annotated[bool, typer.Option("--force", help="Also remove the line's chats and their messages.")] = False,
) -> None:
    """Remove a line (refused while it has chats, unless --force)."""
    chats = run_admin(lambda c: c.lines.remove(number, force=force))
    typer.echo(f"removed {number}" + (f" and its {chats} chat(s)" if chats else ""))


@lines_app.command("check")
def lines_check(
    number: Annotated[str | None, typer.Argument(help="One line; all lines when left out.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check lines' senders now (and re-register receipt webhooks); exits 1 if any line is CRITICAL."""
    rows = [report_row(r) for r in run_admin(lambda c: c.lines.check(number))]
    emit(as_json, {"lines": rows}, "\n".join(report_text(r) for r in rows) or "no lines")
    if any(r["health"] == "CRITICAL" for r in rows):
        raise typer.Exit(1)


@lines_app.command("list")
def lines_list(
    partner: Annotated[str | None, typer.Option(help="Only this partner's lines.")] = None, as_json: JsonOpt = False
) -> None:
    rows = [line_row(x) for x in run_admin(lambda c: c.lines.all(partner))]
    text = "\n".join(
        f"{r['phone_number']}  {r['sender']}  {r['health'] or 'unchecked'}  partner {r['partner_id']}" for r in rows
    )
    emit(as_json, {"lines": rows}, text or "no lines")
