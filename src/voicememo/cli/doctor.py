"""`voicememo doctor`: what a crash left behind (temp files, partial writes, unowned blobs, expired uploads)."""

from __future__ import annotations

from typing import Annotated

import typer

from voicememo.cli.common import JsonOpt, emit, run_admin


def doctor(
    fix: Annotated[bool, typer.Option("--fix", help="Clean what is found (workers also do this at start-up).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Report leftovers of crashes; exits 1 when something is found and not fixed."""
    from voicememo.container import Container

    async def action(c: Container) -> dict[str, object]:
        found = await (c.debris.clean() if fix else c.debris.find())
        return {
            "fixed": fix,
            "total": found.total,
            **found.counts(),
            "paths": found.temp_files + found.partial_writes,
            "blobs": found.orphan_blobs,
            "attachments": found.expired_uploads,
        }

    report = run_admin(action)
    verb = "cleaned" if fix else "found"
    lines = [f"{verb}: {report['total']} leftover(s) of interrupted work"]
    lines += [f"  {k}: {report[k]}" for k in ("temp_files", "partial_writes", "orphan_blobs", "expired_uploads")]
    emit(as_json, report, "\n".join(lines))
    if report["total"] and not fix:
        raise typer.Exit(1)
