"""`voicememo jobs list|retry|purge`: see and act on the job queue (dead jobs above all).

Each command imports the server parts it uses when it runs (see cli/common.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from voicememo.cli.common import JsonOpt, emit, run_admin

if TYPE_CHECKING:
    from voicememo.storage.repos.job_admin import JobView

jobs_app = typer.Typer(help="The job queue: dead, waiting and running jobs.", no_args_is_help=True)


@jobs_app.command("list")
def jobs_list(
    status: Annotated[
        list[str] | None, typer.Option("--status", help="dead, queued, running or done (repeatable).")
    ] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only jobs of this kind (e.g. deliver, webhook).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, earliest run_at first.")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """Dead, queued and running jobs (or those of --status) with kind, attempts, last error and run_at.
    A queued job waiting behind an earlier one of its chat (or event) shows as held."""
    statuses = tuple(status or ("dead", "queued", "running"))
    jobs = run_admin(lambda c: c.job_ops.find(statuses, kind, limit))
    rows = [_row(j) for j in jobs]
    lines = [
        f"{r['id']:>8}  {'held' if r['held'] else r['status']:<7}  {r['kind']:<14}"
        f"  {r['attempts']}/{r['max_attempts']}  {r['run_at']}" + (f"  {r['last_error']}" if r["last_error"] else "")
        for r in rows
    ]
    emit(as_json, {"jobs": rows}, "\n".join(lines) or "no jobs")


@jobs_app.command("retry")
def jobs_retry(
    job_id: Annotated[int | None, typer.Argument(help="The dead job to requeue.")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Requeue every dead job.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Requeue a dead job (or all of them): due now, with a fresh count of attempts."""
    if (job_id is None) == (not all_dead):
        typer.echo("error: give a job id or --all-dead (not both)", err=True)
        raise typer.Exit(2)
    ids = run_admin(lambda c: c.job_ops.retry(job_id))
    emit(as_json, {"requeued": ids}, f"requeued {len(ids)} job(s)" + (f": {', '.join(map(str, ids))}" if ids else ""))


@jobs_app.command("purge")
def jobs_purge(
    status: Annotated[str, typer.Option("--status", help="done or dead.")],
    older_than: Annotated[float, typer.Option("--older-than", help="Days since the job finished.")],
    as_json: JsonOpt = False,
) -> None:
    """Delete done (or dead) jobs that finished more than --older-than days ago."""
    purged = run_admin(lambda c: c.job_ops.purge(status, older_than))
    emit(as_json, {"purged": purged}, f"purged {purged} {status} job(s)")


def _row(job: JobView) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "held": job.held,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "last_error": job.last_error,
        "run_at": job.run_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
    }
