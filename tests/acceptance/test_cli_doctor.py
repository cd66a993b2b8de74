"""`voicememo doctor` finds what a crash leaves, `--fix` (and every worker's start-up) clears it,
and nothing that belongs to a live process or to a stored row is touched."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import timedelta
from pathlib import Path

from test_cli_and_serve import cli

import testdb
from gone import a_dead_pid
from voicememo.container import Container
from voicememo.domain.models import Attachment, AttachmentStatus, utcnow
from voicememo.settings import Settings
from voicememo.storage.repos.attachments import AttachmentRepo


def aged(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def plant(settings: Settings, partner_id: str) -> dict[str, Path]:
    dead, blobs = a_dead_pid(), settings.blob_dir / "audio" / partner_id
    (blobs / "a1").mkdir(parents=True)
    staging = settings.outbox_dir / f".send-1.{dead}.{'ab' * 16}"
    staging.mkdir(parents=True)
    (staging / "Audio Message.caf").write_bytes(b"caff")
    planted = {
        "dead_temp": settings.tmp_dir / f"{dead}-x1y2.part",
        "live_temp": settings.tmp_dir / f"{os.getpid()}-live.part",
        "partial_blob": blobs / "a1" / f".memo.caf.{dead}.partial",
        "outbox_staging": staging,
        "orphan_blob": blobs / "a1" / "orphan.caf",
        "owned_blob": blobs / "a1" / "owned.caf",
    }
    for name, path in planted.items():
        if name != "outbox_staging":
            path.write_bytes(b"leftover")
    aged(planted["orphan_blob"], 3600)
    aged(planted["owned_blob"], 3600)

    async def rows() -> None:
        c = Container(settings)
        try:
            async with c.ctx.db.write() as s:
                repo, long_ago = AttachmentRepo(s), utcnow() - timedelta(hours=2)
                for id_, status, key in [("a-pending", "pending", None), ("a-owned", "complete", "owned.caf")]:
                    await repo.add(
                        Attachment(
                            id=id_,
                            partner_id=partner_id,
                            filename="m.wav",
                            content_type="audio/wav",
                            size_bytes=8,
                            status=AttachmentStatus(status),
                            created_at=long_ago,
                            blob_key=f"audio/{partner_id}/a1/{key}" if key else None,
                        )
                    )
        finally:
            await c.aclose()

    asyncio.run(rows())
    return planted


def test_doctor_reports_and_fixes_crash_leftovers_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = json.loads(cli(data, "partners", "create", "Acme", "--line", "+15550400001", "--json").stdout)
    settings = Settings(data_dir=data, database_url=testdb.database_url(data))
    planted = plant(settings, made["partner_id"])

    found = cli(data, "doctor", "--json", check=False)
    report = json.loads(found.stdout)
    assert found.returncode == 1
    assert (report["temp_files"], report["partial_writes"], report["orphan_blobs"], report["expired_uploads"]) == (
        1,
        2,
        1,
        1,
    )
    assert all(p.exists() for p in planted.values()), "doctor without --fix changes nothing"

    fixed = json.loads(cli(data, "doctor", "--fix", "--json").stdout)
    assert fixed["total"] == 5
    gone = {"dead_temp", "partial_blob", "outbox_staging", "orphan_blob"}
    assert {name for name, p in planted.items() if not p.exists()} == gone
    assert cli(data, "doctor").returncode == 0

    async def pending_state() -> tuple[str, str | None]:
        c = Container(settings)
        try:
            a = await c.attachments.get(made["partner_id"], "a-pending")
            return a.status.value, a.failure_reason
        finally:
            await c.aclose()

    status, reason = asyncio.run(pending_state())
    assert status == "failed" and reason is not None and "upload URL expired" in reason
