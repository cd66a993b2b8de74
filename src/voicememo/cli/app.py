"""The ``voicememo`` commands: serve, migrate, partners, keys, lines, audio, jobs, doctor, send.

Only typer and the command modules load here; each command imports what it needs when it
runs, so `--help` and `audio probe` start in a fraction of the server's import time.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from voicememo.cli.audio import audio_app
from voicememo.cli.common import JsonOpt, emit, migrate_data_dir, run_admin
from voicememo.cli.doctor import doctor
from voicememo.cli.jobs import jobs_app
from voicememo.cli.lines import lines_app
from voicememo.cli.ops import sandbox_app, webhooks_app, worker
from voicememo.cli.send import EPILOG as SEND_EPILOG
from voicememo.cli.send import send

app = typer.Typer(
    help="voicememo: native iMessage voice memos behind the Linq Partner API v3.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
partners_app = typer.Typer(help="Partners (tenants).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (shown once, stored hashed).", no_args_is_help=True)
app.add_typer(partners_app, name="partners")
app.add_typer(keys_app, name="keys")
app.add_typer(lines_app, name="lines")
app.add_typer(audio_app, name="audio")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(jobs_app, name="jobs")
app.command("worker")(worker)
app.command("doctor")(doctor)
app.command("send", epilog=SEND_EPILOG)(send)


@app.command()
def migrate() -> None:
    """Create or update the database schema."""
    from voicememo.settings import Settings

    migrate_data_dir(Settings())
    typer.echo("database is up to date")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (VOICEMEMO_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (VOICEMEMO_PORT).")] = None,
    dev: Annotated[bool, typer.Option("--dev", help="On an empty database, create a dev partner.")] = False,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="API processes on the one port (VOICEMEMO_API_PROCESSES).")
    ] = None,
) -> None:
    """Migrate, then run the API server with its in-process workers."""
    from voicememo.cli.serve import run_server
    from voicememo.settings import Settings

    given = {"host": host, "port": port, "api_processes": workers}
    overrides: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    run_server(Settings(**overrides), dev=dev)


@partners_app.command("create")
def partners_create(
    name: str,
    line: Annotated[str, typer.Option("--line", help="The partner's first line (a sandbox line), E.164.")],
    as_json: JsonOpt = False,
) -> None:
    """Create a partner with a sandbox line and an API key (the key is shown only now).

    Connect a Mac for real delivery with `voicememo lines add … --sender bluebubbles`."""
    made = run_admin(lambda c: c.admin.create_partner(name, line))
    emit(
        as_json,
        {"partner_id": made.partner.id, "api_key": made.api_key.secret, "line": made.line.phone_number},
        f"partner {made.partner.id} ({made.partner.name})\nline    {made.line.phone_number}\n"
        f"api key {made.api_key.secret}   (shown once; store it now)",
    )


@partners_app.command("list")
def partners_list(as_json: JsonOpt = False) -> None:
    partners = run_admin(lambda c: c.admin.list_partners())
    rows = [{"partner_id": p.id, "name": p.name, "created_at": p.created_at.isoformat()} for p in partners]
    emit(as_json, {"partners": rows}, "\n".join(f"{r['partner_id']}  {r['name']}" for r in rows) or "no partners")


@keys_app.command("create")
def keys_create(partner: Annotated[str, typer.Option(help="Partner id.")], as_json: JsonOpt = False) -> None:
    """Issue another API key for a partner."""
    new = run_admin(lambda c: c.admin.create_key(partner))
    emit(
        as_json,
        {"key_id": new.key.id, "partner_id": partner, "api_key": new.secret},
        f"key {new.key.id}\napi key {new.secret}   (shown once; store it now)",
    )


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by its id; requests with it get 401 at once."""
    run_admin(lambda c: c.admin.revoke_key(key_id))
    typer.echo(f"revoked {key_id}")


@keys_app.command("list")
def keys_list(partner: Annotated[str, typer.Option(help="Partner id.")], as_json: JsonOpt = False) -> None:
    keys = run_admin(lambda c: c.admin.list_keys(partner))
    rows = [
        {
            "key_id": k.id,
            "prefix": k.prefix,
            "created_at": k.created_at.isoformat(),
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        }
        for k in keys
    ]
    text = "\n".join(f"{r['key_id']}  {r['prefix']}…  {'revoked' if r['revoked_at'] else 'active'}" for r in rows)
    emit(as_json, {"keys": rows}, text or "no keys")
