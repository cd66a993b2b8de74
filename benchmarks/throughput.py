"""N voice memos by attachment_id through the API with C concurrent clients, beside a bare peer.

    .venv/bin/python benchmarks/throughput.py [--memos 300] [--clients 1,32] [--database sqlite|postgresql]
                                              [--processes 1|2] [--accept-only] [--no-peer] [--no-count]
                                              [--warmup 10]

Starts `voicememo serve` (embedded default: SQLite, local files, in-process workers; sandbox delays
0) on a fresh data dir per client count, uploads one memo, then sends it N times across chats (at
most 25 per recipient, under the 30/min rate limit). Before the measured N, ``--warmup`` memos (10)
go through with two clients and are delivered: the server's first statements are compiled and the
memo's rendition made then, not inside the measured tail (the peer gets the same warm-up). Prints
accepted/s, p50/p99 accept latency, and the time until every measured memo is `delivered` (counted
from signed message.delivered webhooks).

The peer, loaded by the same client in the same run, is a bare FastAPI endpoint doing one SQLite
insert under the same uvicorn settings (benchmarks/bare_insert.py); the ratio to it is printed.

``--database postgresql`` creates a fresh database per server on 127.0.0.1:5432 (trust auth,
``VOICEMEMO_TEST_POSTGRES`` picks another) and drops it after. ``--processes 2`` runs two `serve`
processes on two ports without in-process workers plus one `voicememo worker`; clients alternate.

Statements per accepted and per delivered memo are counted in-process (tests/statements.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from audiogen import encode
from receiver import webhook_receiver
from served import BIN, create_partner, environment, free_port, process, serve_only
from traffic import LINE, cpu_seconds, load, prepare


@dataclass(frozen=True)
class Figures:
    clients: int
    rate: float
    p50_ms: float
    p99_ms: float
    #: server CPU per request while accepting (robust to a busy machine, unlike the rates)
    cpu_ms: float
    delivered_s: float | None = None
    memos: int = 0
    #: server CPU per memo from the first request until every memo was delivered
    cpu_total_ms: float | None = None

    def line(self) -> str:
        text = (
            f"{self.rate:7.1f}/s  p50 {self.p50_ms:6.1f} ms  p99 {self.p99_ms:6.1f} ms  CPU {self.cpu_ms:5.2f} ms/req"
        )
        if self.delivered_s is not None:
            rate = self.memos / self.delivered_s
            text += f"\n      all {self.memos} delivered after {self.delivered_s:.2f} s ({rate:.1f}/s)"
        if self.cpu_total_ms is not None:
            text += f", CPU {self.cpu_total_ms:.1f} ms per memo accepted and delivered"
        return text


def figures(clients: int, latencies: list[float], seconds: float, cpu: float, **extra: float | int | None) -> Figures:
    q = statistics.quantiles(latencies, n=100)
    n = len(latencies)
    return Figures(clients, n / seconds, q[49] * 1000, q[98] * 1000, cpu * 1000 / n, **extra)  # type: ignore[arg-type]


def bare_peer(tmp: Path, memos: int, clients: int, warmup: int) -> Figures:
    port = free_port()
    script = Path(__file__).with_name("bare_insert.py")
    with process([sys.executable, str(script), str(tmp / f"bare-{clients}"), str(port)], dict(os.environ)) as pid:
        base = f"http://127.0.0.1:{port}"
        every = [f"/v3/chats/chat-{n // 25}/voicememo" for n in range(warmup + memos)]
        if warmup:
            asyncio.run(load([base], "bare", every[:warmup], {"attachment_id": "a"}, min(2, clients)))
        paths = every[warmup:]
        cpu = cpu_seconds([pid])
        latencies, seconds, _ = asyncio.run(load([base], "bare", paths, {"attachment_id": "a"}, clients))
        cpu = cpu_seconds([pid]) - cpu
    return figures(clients, latencies, seconds, cpu)


@contextmanager
def servers(data_dir: Path, processes: int, settings: dict[str, str]) -> Iterator[tuple[list[str], list[int]]]:
    """One embedded-default `serve`, or ``processes`` of them without in-process workers plus one worker;
    yields their base URLs and every pid."""
    with ExitStack() as stack:
        if processes == 1:
            base, pid = stack.enter_context(serve_only(data_dir, **settings))
            yield [base], [pid]
            return
        apart = {**settings, "workers_in_process": "false"}
        started = [stack.enter_context(serve_only(data_dir, **apart)) for _ in range(processes)]
        pids = [pid for _, pid in started]
        if settings.get("workers_in_process") != "false":
            env = environment(data_dir, **settings)
            pids.append(stack.enter_context(process([str(BIN), "worker"], env, ready=None)))
        yield [base for base, _ in started], pids


def voicememo(
    tmp: Path, audio: Path, memos: int, clients: int, args: argparse.Namespace, database_url: str | None
) -> Figures:
    data_dir = tmp / f"data-{clients}"
    settings = {
        "fetch_allow_private_networks": "true",
        "sandbox_delivered_delay": "0",
        "sandbox_read_delay": "-1",
        "job_poll_interval": "0.2",
        "workers_in_process": "false" if args.accept_only else "true",
    }
    if database_url:
        settings["database_url"] = database_url
    key = create_partner(data_dir, LINE, **settings)
    with webhook_receiver() as receiver, servers(data_dir, args.processes, settings) as (bases, pids):
        warmup = args.warmup
        attachment_id, every = prepare(bases[0], key, audio, warmup + memos, None if args.accept_only else receiver)
        time.sleep(0.5)  # let the in-process worker finish what preparing gave it
        body = {"attachment_id": attachment_id}
        if warmup:  # measured from here on: statements compiled, the memo's rendition made
            _, _, warm_ids = asyncio.run(load(bases, key, every[:warmup], body, min(2, clients)))
            waiting = set() if args.accept_only else set(warm_ids)
            while waiting:
                waiting.discard(receiver.accepted.get(timeout=300).event["data"]["id"])
        paths = every[warmup:]
        start, cpu = time.perf_counter(), cpu_seconds(pids)
        latencies, seconds, ids = asyncio.run(load(bases, key, paths, body, clients))
        accept_cpu = cpu_seconds(pids) - cpu
        wanted = set() if args.accept_only else set(ids)
        while wanted:
            wanted.discard(receiver.accepted.get(timeout=300).event["data"]["id"])
        delivered = None if args.accept_only else time.perf_counter() - start
        total_cpu = None if args.accept_only else (cpu_seconds(pids) - cpu) * 1000 / memos
    return figures(clients, latencies, seconds, accept_cpu, delivered_s=delivered, memos=memos, cpu_total_ms=total_cpu)


def statement_counts(tmp: Path, audio: Path, database_url: str | None) -> tuple[float, float | None, float]:
    import logging

    import structlog

    from statements import count_statements
    from voicememo.settings import Settings

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    def settings(name: str) -> Settings:
        made = Settings(
            data_dir=tmp / name,
            fetch_allow_private_networks=True,
            sandbox_delivered_delay=0,
            sandbox_read_delay=-1,
            job_poll_interval=0.2,
            **({"database_url": database_url(tmp / name)} if database_url else {}),  # type: ignore[operator]
        )
        made.ensure_dirs()
        return made

    with webhook_receiver() as receiver:
        plain = count_statements(settings("count"), audio, 100, receiver)
    keyed = count_statements(settings("count-keyed"), audio, 50, None, idempotency_keys=True)
    return plain.per_accepted, plain.per_delivered, keyed.per_accepted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memos", type=int, default=300)
    parser.add_argument("--clients", default="1,32", help="comma-separated client counts")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--processes", type=int, default=1, choices=[1, 2])
    parser.add_argument("--accept-only", action="store_true", help="no workers: measure accepting alone")
    parser.add_argument("--no-peer", action="store_true", help="skip the bare-insert peer")
    parser.add_argument("--no-count", action="store_true", help="skip counting statements")
    parser.add_argument("--warmup", type=int, default=10, help="memos sent and delivered before measuring (0: none)")
    args = parser.parse_args()
    client_counts = [int(c) for c in args.clients.split(",")]
    if args.database == "postgresql":
        os.environ["VOICEMEMO_TEST_DATABASE"] = "postgresql"
    import testdb

    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            audio = encode(tmp / "memo.mp3", fmt="mp3", codec="libmp3lame", seconds=20, bit_rate=64000).path

            def url(data_dir: Path) -> str | None:
                return testdb.database_url(data_dir) if args.database == "postgresql" else None

            ours = [voicememo(tmp, audio, args.memos, c, args, url(tmp / f"data-{c}")) for c in client_counts]
            peers = {} if args.no_peer else {c: bare_peer(tmp, args.memos, c, args.warmup) for c in client_counts}
            workers = "no workers" if args.accept_only else "workers on"
            if args.processes == 2:
                shape = f"2 serve processes + {'no' if args.accept_only else 'one'} `voicememo worker`"
            else:
                shape = f"1 serve process, {'no workers' if args.accept_only else 'in-process workers'}"
            print(
                f"memos: {args.memos} by attachment_id (20 s MP3), {args.database}, {shape}, sandbox delays 0, "
                f"after a warm-up of {args.warmup}"
            )
            for figs in ours:
                print(f"  voicememo, {figs.clients:2d} clients: {figs.line()}")
                peer = peers.get(figs.clients)
                if peer is not None:
                    print(f"  bare insert, {peer.clients:2d} clients: {peer.line()}")
                    print(
                        f"  ratio voicememo/bare at {figs.clients} clients: {figs.rate / peer.rate:.2f}×  ({workers})"
                    )
            if not args.no_count:
                accepted, delivered, keyed = statement_counts(
                    tmp, audio, url if args.database == "postgresql" else None
                )
                print(f"statements per accepted memo: {accepted:.1f} ({keyed:.1f} with an Idempotency-Key)")
                if delivered is not None:
                    print(f"statements per delivered memo (delivery, receipt, webhook jobs): {delivered:.1f}")
    finally:
        testdb.drop_created()


if __name__ == "__main__":
    main()
