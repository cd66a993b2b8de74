"""Operator commands for delivery: `worker`, `sandbox outbox`, `webhooks attempts`.

Each command imports the server parts it uses when it runs (see cli/common.py).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from voicememo.cli.common import migrate_data_dir

sandbox_app = typer.Typer(help="The sandbox sender.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook deliveries.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def worker(
    concurrency: Annotated[int | None, typer.Option(help="Jobs at once (VOICEMEMO_WORKER_CONCURRENCY).")] = None,
) -> None:
    """Run delivery workers standalone against the configured database (SIGTERM/SIGINT stop gracefully)."""
    import asyncio
    import signal

    from voicememo.container import Container
    from voicememo.logs import configure_logging
    from voicememo.metrics import share_metrics
    from voicememo.settings import Settings

    settings = Settings()
    configure_logging(settings.log_format)
    share_metrics(settings)  # counted with the API processes' (same METRICS_DIR), scraped through them
    migrate_data_dir(settings)

    async def go() -> None:
        container = Container(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await container.sweep_at_start()
            await container.run_worker(stop, concurrency)
        finally:
            await container.aclose()

    asyncio.run(go())


@sandbox_app.command("outbox")
def outbox(as_json: JsonOpt = False) -> None:
    """Everything the sandbox sender "sent": the exact file and its flags, per message."""
    from voicememo.senders.sandbox import read_outbox
    from voicememo.settings import Settings

    entries = read_outbox(Settings().outbox_dir)
    if as_json:
        typer.echo(json.dumps({"outbox": entries}, indent=2))
        return
    for e in entries:
        what = f"{e.get('file')} ({e.get('size_bytes')} bytes, {e.get('mime_type')})" if e.get("file") else "text"
        flag = " audio_message" if e.get("audio_message") else ""
        typer.echo(f"{e['sent_at']}  {e['message_id']}  {e['service']}{flag}  to {', '.join(e['recipients'])}  {what}")
    if not entries:
        typer.echo("the outbox is empty")


@webhooks_app.command("attempts")
def attempts(
    limit: Annotated[int, typer.Option(help="Newest attempts to show.")] = 50,
    partner: Annotated[str | None, typer.Option(help="Only this partner's.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Webhook delivery attempts, newest first: status code, outcome, error."""
    import asyncio

    from voicememo.container import Container
    from voicememo.settings import Settings
    from voicememo.storage.repos.webhooks import AttemptRepo

    settings = Settings()
    migrate_data_dir(settings)

    async def go() -> list[dict[str, object]]:
        container = Container(settings)
        try:
            async with container.ctx.db.read() as s:
                return await AttemptRepo(s).list_recent(limit, partner)
        finally:
            await container.aclose()

    rows = asyncio.run(go())
    if as_json:
        typer.echo(json.dumps({"attempts": rows}, indent=2))
        return
    for r in rows:
        typer.echo(
            f"{r['created_at']}  {r['event_type']:<18} {r['event_id']}  try {r['attempt']}  "
            f"{r['status_code'] or '-'}  {r['outcome']}  {r['error'] or ''}"
        )
    if not rows:
        typer.echo("no attempts yet")
