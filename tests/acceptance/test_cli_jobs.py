"""`voicememo jobs list|retry|purge` as an operator runs it: a real process on a real data dir."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path

from test_cli_and_serve import cli

import testdb
from voicememo.container import Container
from voicememo.domain.models import utcnow
from voicememo.settings import Settings
from voicememo.storage.repos.jobs import JobRepo
from voicememo.storage.tables import JobRow


def plant(data_dir: Path, jobs: list[tuple[str, str, str | None, datetime]]) -> list[int]:
    """Jobs as (kind, status, last error, last changed), written as the server writes them."""

    async def go() -> list[int]:
        c = Container(Settings(data_dir=data_dir, database_url=testdb.database_url(data_dir)))
        ids = []
        try:
            async with c.ctx.db.write() as s:
                for kind, status, error, changed in jobs:
                    job_id = await JobRepo(s).enqueue(kind, {"n": 1}, now=changed, max_attempts=5)
                    row = await s.get(JobRow, job_id)
                    assert row is not None
                    row.status, row.last_error, row.updated_at = status, error, changed
                    row.attempts = 5 if status == "dead" else 0
                    ids.append(job_id)
        finally:
            await c.aclose()
        return ids

    return asyncio.run(go())


def listed(data_dir: Path, *args: str) -> dict[int, dict[str, object]]:
    return {j["id"]: j for j in json.loads(cli(data_dir, "jobs", "list", "--json", *args).stdout)["jobs"]}


def test_an_operator_sees_requeues_and_purges_jobs(tmp_path: Path) -> None:
    cli(tmp_path, "migrate")
    now = utcnow()
    dead, dead_webhook, queued, old_done, young_done = plant(
        tmp_path,
        [
            ("deliver", "dead", "sender refused: 4001 handle unreachable", now - timedelta(hours=1)),
            ("webhook", "dead", "gave up after 30 minutes: 503", now - timedelta(hours=2)),
            ("deliver", "queued", None, now),
            ("deliver", "done", None, now - timedelta(days=10)),
            ("deliver", "done", None, now - timedelta(days=2)),
        ],
    )

    shown = listed(tmp_path)
    assert set(shown) == {dead, dead_webhook, queued}, "dead, queued and running by default"
    assert shown[dead] | {"run_at": None, "updated_at": None} == {
        "id": dead, "kind": "deliver", "status": "dead", "held": False, "attempts": 5, "max_attempts": 5,
        "last_error": "sender refused: 4001 handle unreachable", "run_at": None, "updated_at": None,
    }  # fmt: skip
    assert set(listed(tmp_path, "--status", "dead", "--kind", "deliver")) == {dead}
    assert set(listed(tmp_path, "--status", "done")) == {old_done, young_done}
    text = cli(tmp_path, "jobs", "list", "--status", "dead").stdout
    assert "sender refused: 4001 handle unreachable" in text and "webhook" in text

    retried = json.loads(cli(tmp_path, "jobs", "retry", str(dead), "--json").stdout)
    assert retried == {"requeued": [dead]}
    again = listed(tmp_path)[dead]
    assert (again["status"], again["attempts"]) == ("queued", 0)
    refused = cli(tmp_path, "jobs", "retry", str(queued), check=False)
    assert refused.returncode == 2 and "not dead" in refused.stderr
    assert cli(tmp_path, "jobs", "retry", check=False).returncode == 2, "an id or --all-dead is required"
    assert json.loads(cli(tmp_path, "jobs", "retry", "--all-dead", "--json").stdout) == {"requeued": [dead_webhook]}
    assert listed(tmp_path, "--status", "dead") == {}

    purged = json.loads(cli(tmp_path, "jobs", "purge", "--status", "done", "--older-than", "7", "--json").stdout)
    assert purged == {"purged": 1}
    assert set(listed(tmp_path, "--status", "done")) == {young_done}
    refused = cli(tmp_path, "jobs", "purge", "--status", "queued", "--older-than", "0", check=False)
    assert refused.returncode == 2 and "only done or dead" in refused.stderr


def test_a_job_waiting_behind_its_chats_earlier_job_is_listed_as_held(tmp_path: Path) -> None:
    cli(tmp_path, "migrate")

    async def queue_two() -> list[int]:
        c = Container(Settings(data_dir=tmp_path, database_url=testdb.database_url(tmp_path)))
        try:
            async with c.ctx.db.write() as s:
                return [
                    await JobRepo(s).enqueue("deliver", {}, now=utcnow(), order_key="chat:c1", max_attempts=5)
                    for _ in range(2)
                ]
        finally:
            await c.aclose()

    first, second = asyncio.run(queue_two())
    shown = listed(tmp_path)
    assert (shown[first]["status"], shown[first]["held"]) == ("queued", False)
    assert (shown[second]["status"], shown[second]["held"]) == ("queued", True)
    rows = {line.split()[0]: line.split()[1] for line in cli(tmp_path, "jobs", "list").stdout.splitlines()}
    assert (rows[str(first)], rows[str(second)]) == ("queued", "held")
