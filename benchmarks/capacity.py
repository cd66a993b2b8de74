"""The figures behind docs/scaling.md's capacity model, measured on this machine.

    .venv/bin/python benchmarks/capacity.py [--memos 200] [--clients 8] [--seconds 30] [--skip-database]

1. Audio, in this process: CPU seconds to probe (the exact intake measurement) and to render
   (the verified Opus-CAF rendition) per minute of audio, and the bytes stored per memo
   (original + rendition), for a phone-like AAC (M4A) and an MP3 source.
2. Database, on the local PostgreSQL (a fresh database, dropped after): ``voicememo serve`` with
   its in-process workers and the sandbox sender (no delays) accepts ``--memos`` memos by
   attachment_id and delivers them. Printed per delivered memo: transactions, rows written,
   PostgreSQL backend CPU (the backends connected to this database only, so other users of the
   server don't count), the voicememo process CPU, and database growth. The memos share one
   attachment, so the rendition is made once: render CPU comes from part 1. The upload and the chats
   are made before the measured window (benchmarks/traffic.py, shared with throughput.py).
3. The model: those costs at 10 million memos a day (116/s on average; 3x that at peak).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from audiogen import encode
from served import served
from traffic import LINE, cpu_seconds, load, prepare
from voicememo.audio.probe import probe_file
from voicememo.audio.render import render_imessage

PER_DAY = 10_000_000
PEAK = 3.0
SERVER = os.environ.get("VOICEMEMO_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


@dataclass
class AudioCost:
    name: str
    seconds: float
    probe_cpu: float
    render_cpu: float
    original_bytes: int
    rendition_bytes: int


def cpu_of(call: object, *args: object, **kwargs: object) -> float:
    before = time.process_time()
    call(*args, **kwargs)  # type: ignore[operator]
    return time.process_time() - before


def audio_costs(tmp: Path, seconds: float, runs: int = 3) -> list[AudioCost]:
    sources = [
        encode(tmp / "phone.m4a", fmt="ipod", codec="aac", seconds=seconds, rate=44100, bit_rate=64000).path,
        encode(tmp / "agent.mp3", fmt="mp3", codec="libmp3lame", seconds=seconds, rate=24000, bit_rate=48000).path,
    ]
    found = []
    for source in sources:
        info = probe_file(source)
        out = tmp / "Audio Message.caf"
        exact = {"source_samples": info.samples, "source_rate": info.sample_rate, "threads": 1}
        probe = statistics.median(cpu_of(probe_file, source) for _ in range(runs))
        render = statistics.median(cpu_of(render_imessage, source, out, **exact) for _ in range(runs))
        found.append(
            AudioCost(source.name, info.duration_ms / 1000, probe, render, source.stat().st_size, out.stat().st_size)
        )
    return found


@dataclass
class DatabaseCost:
    memos: int
    wall: float
    commits: int
    rows_written: int
    pg_cpu: float
    app_cpu: float
    growth_bytes: int


async def pg_counters(db: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(f"{SERVER}/{db}")
    try:
        row = await conn.fetchrow(
            "select xact_commit, tup_inserted + tup_updated + tup_deleted as written, pg_database_size($1) as size"
            " from pg_stat_database where datname = $1",
            db,
        )
        assert row is not None
        return int(row["xact_commit"]), int(row["written"]), int(row["size"])
    finally:
        await conn.close()


async def backends_of(db: str) -> list[int]:
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        rows = await conn.fetch("select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()", db)
        return [int(r["pid"]) for r in rows]
    finally:
        await conn.close()


async def delivered(db: str) -> int:
    conn = await asyncpg.connect(f"{SERVER}/{db}")
    try:
        return int(await conn.fetchval("select count(*) from messages where delivery_status = 'delivered'"))
    finally:
        await conn.close()


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def database_costs(tmp: Path, audio: Path, memos: int, clients: int) -> DatabaseCost:
    db = f"vm_capacity_{os.getpid()}"
    asyncio.run(admin(f'create database "{db}"'))
    try:
        url = SERVER.replace("postgresql://", "postgresql+asyncpg://") + f"/{db}"
        settings = {
            "database_url": url,
            "sandbox_delivered_delay": "0",
            "sandbox_read_delay": "-1",
            "job_poll_interval": "0.2",
        }
        with served(tmp / "data", LINE, **settings) as server:
            attachment, paths = prepare(server.base_url, server.api_key, audio, memos, None, "audio/mp4")
            commits0, written0, size0 = asyncio.run(pg_counters(db))
            before = {pid: cpu_seconds([pid]) for pid in asyncio.run(backends_of(db))}
            app0 = cpu_seconds([server.pid])
            start = time.perf_counter()
            asyncio.run(load([server.base_url], server.api_key, paths, {"attachment_id": attachment}, clients))
            while asyncio.run(delivered(db)) < memos:
                time.sleep(0.1)  # a benchmark's progress poll, not a test's synchronisation
            wall = time.perf_counter() - start
            after = {pid: cpu_seconds([pid]) for pid in asyncio.run(backends_of(db))}
            app_cpu = cpu_seconds([server.pid]) - app0
            # backends that exited meanwhile are lost; those that started count from zero
            pg_cpu = sum(t - before.get(pid, 0.0) for pid, t in after.items())
        commits1, written1, size1 = asyncio.run(pg_counters(db))  # stats are flushed as the backends exit
        return DatabaseCost(memos, wall, commits1 - commits0, written1 - written0, pg_cpu, app_cpu, size1 - size0)
    finally:
        asyncio.run(admin(f'drop database if exists "{db}" with (force)'))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memos", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the audio, part 1 and 2")
    parser.add_argument("--skip-database", action="store_true")
    args = parser.parse_args()
    rate = PER_DAY / 86400
    peak = rate * PEAK
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        print(f"1. audio ({args.seconds:.0f} s sources, one encoder thread, median of 3)")
        costs = audio_costs(tmp, args.seconds)
        for c in costs:
            minutes = c.seconds / 60
            print(
                f"  {c.name:<10} probe {c.probe_cpu / minutes:6.3f} cpu-s/min of audio   "
                f"render {c.render_cpu / minutes:6.3f} cpu-s/min   stored {c.original_bytes / 1024:.0f} KiB "
                f"original + {c.rendition_bytes / 1024:.0f} KiB rendition"
            )
        audio_cpu = max(c.probe_cpu + c.render_cpu for c in costs)
        stored = max(c.original_bytes + c.rendition_bytes for c in costs)
        db = None
        if not args.skip_database:
            print(f"2. database: {args.memos} memos accepted and delivered on PostgreSQL ({args.clients} clients)")
            db = database_costs(tmp, tmp / "phone.m4a", args.memos, args.clients)
            n = db.memos
            print(
                f"  {n / db.wall:.0f} memos/s end to end; per memo: {db.commits / n:.1f} transactions, "
                f"{db.rows_written / n:.1f} rows written, PostgreSQL backends {db.pg_cpu / n * 1000:.1f} cpu-ms, "
                f"voicememo process {db.app_cpu / n * 1000:.1f} cpu-ms, "
                f"database growth {db.growth_bytes / n / 1024:.1f} KiB"
            )
        print(
            f"3. at {PER_DAY:,} memos/day of {args.seconds:.0f} s: "
            f"{rate:.0f}/s average, {peak:.0f}/s at {PEAK:.0f}x peak"
        )
        print(f"  audio (probe + render):  {audio_cpu * peak:6.1f} cores at peak")
        if db is not None:
            n = db.memos
            print(f"  voicememo API + workers: {db.app_cpu / n * peak:6.1f} cores at peak (without audio)")
            print(
                f"  PostgreSQL backends:     {db.pg_cpu / n * peak:6.1f} cores at peak, "
                f"{db.commits / n * peak:.0f} commits/s"
            )
            print(f"  database growth:         {db.growth_bytes / n * PER_DAY / 2**30:6.1f} GiB/day before retention")
        print(
            f"  blob store:              {stored * PER_DAY / 2**40:6.2f} TiB/day, "
            f"{stored * peak * 8 / 1e6:.0f} Mbit/s in at peak"
        )


if __name__ == "__main__":
    main()
