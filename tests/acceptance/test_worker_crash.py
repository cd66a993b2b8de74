"""A worker SIGKILLed mid-delivery: once its lease expires another worker finishes the job, once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy import select

import testdb
from audiogen import Made
from voicememo.container import Container
from voicememo.senders.sandbox import read_outbox
from voicememo.settings import Settings
from voicememo.storage.repos.jobs import JobRepo
from voicememo.storage.tables import JobRow

BIN = Path(sys.executable).with_name("voicememo")


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


def queue_a_memo(
    settings: Settings, audio: Path, *, to: str = "+15550400002", bluebubbles: tuple[str, str] | None = None
) -> str:
    """Partner, chat, upload and memo through the services, with no worker running; with
    ``bluebubbles`` (URL, password) the chat is on a line bound to that Mac, else on a sandbox line."""
    data = audio.read_bytes()

    async def go() -> str:
        c = Container(settings)
        try:
            line = "+15550400001"
            made = await c.admin.create_partner("Crash", line)
            pid = made.partner.id
            if bluebubbles is not None:
                line = "+15550400003"
                await c.lines.add(pid, line, "bluebubbles", {"url": bluebubbles[0]}, bluebubbles[1])
            chat = await c.chats.create(pid, line, [to], {"parts": [{"type": "text", "value": "hi"}]})
            # Settle the chat's first (text) message so the memo is the only delivery left.
            async with c.ctx.db.write() as s:
                for job in await JobRepo(s).claim("setup", now=c.ctx.clock(), lease=timedelta(seconds=5), limit=10):
                    await JobRepo(s).finish(job.id, "setup", now=c.ctx.clock())
            slot = await c.attachments.create_upload(pid, audio.name, "audio/wav", len(data))
            token = unquote(slot.upload_url.split("token=", 1)[1])
            await c.attachments.receive_upload(slot.attachment.id, token, "audio/wav", str(len(data)), _bytes(data))
            return (await c.voicememos.send(pid, chat.chat.id, None, slot.attachment.id)).message.id
        finally:
            await c.aclose()

    return asyncio.run(go())


def start_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [str(BIN), "worker", "--concurrency", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a crash takes its audio workers down with it
    )
    watchdog = threading.Timer(90, proc.kill)  # a hung worker fails the test instead of hanging it
    watchdog.daemon = True
    watchdog.start()
    return proc


def crash(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the worker and everything it started, as a machine failure would."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def wait_for_log(proc: subprocess.Popen[str], logs: list[str] | None = None, **match: str) -> dict[str, object]:
    """Read the worker's JSON log lines until one has all of ``match`` (the worker tells us; no sleeping);
    ``logs`` keeps every line read."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if logs is not None:
            logs.append(line)
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if all(str(entry.get(k)) == v for k, v in match.items()):
            return dict(entry)
    raise AssertionError(f"worker exited before logging {match}")


def test_killed_worker_loses_and_doubles_nothing(tmp_path: Path, corpus: dict[str, Made]) -> None:
    base = {
        **os.environ,
        "VOICEMEMO_DATA_DIR": str(tmp_path / "data"),
        **testdb.database_env(tmp_path / "data"),
        "VOICEMEMO_LOG_FORMAT": "json",
        "VOICEMEMO_JOB_LEASE_SECONDS": "2",
        "VOICEMEMO_JOB_POLL_INTERVAL": "0.2",
        "VOICEMEMO_SANDBOX_DELIVERED_DELAY": "0",
        "VOICEMEMO_SANDBOX_READ_DELAY": "-1",
    }
    settings = testdb.migrated_settings(tmp_path / "data")
    message_id = queue_a_memo(settings, corpus["wav-s16"].path)

    slow = start_worker({**base, "VOICEMEMO_SANDBOX_SEND_DELAY": "60"})  # hangs inside the send
    try:
        wait_for_log(slow, event="job_started", kind="deliver")
    finally:
        crash(slow)
    assert read_outbox(settings.outbox_dir) == []  # killed before it could send

    healthy = start_worker(base)
    try:
        wait_for_log(healthy, event="message_status", action="delivered", message_id=message_id)
    finally:
        healthy.send_signal(signal.SIGTERM)
        healthy.wait(timeout=30)
    assert healthy.returncode == 0  # graceful stop

    sends = [e for e in read_outbox(settings.outbox_dir) if e["message_id"] == message_id]
    assert len(sends) == 1 and sends[0]["file"] == "Audio Message.caf"

    async def job_states() -> set[tuple[str, str]]:
        c = Container(settings)
        try:
            async with c.ctx.db.read() as s:
                return {(k, st) for k, st in await s.execute(select(JobRow.kind, JobRow.status))}
        finally:
            await c.aclose()

    states = asyncio.run(job_states())
    # nothing lost, nothing dead; what still waits: the later poll of the memo, the next health check, sweep and retention
    assert {st for _k, st in states} <= {"done", "queued"}, states
    assert {k for k, st in states if st == "queued"} <= {"reconcile", "line_health", "debris_sweep", "retention"}, (
        states
    )
