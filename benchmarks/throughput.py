"""N voice memos by attachment_id through the API with C concurrent clients.

    .venv/bin/python benchmarks/throughput.py [--memos 300] [--clients 8]

Starts `voicememo serve` (embedded default: SQLite, local files, in-process workers) on a
fresh data dir, uploads one memo, then sends it N times across chats (at most 25 per
recipient, under the 30/min rate limit). Prints accepted/s, p50/p99 accept latency, and
the time until every memo is `delivered` (counted from signed message.delivered webhooks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from audiogen import encode
from receiver import webhook_receiver

BIN = Path(sys.executable).with_name("voicememo")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(
    base: str, key: str, audio: tuple[str, bytes], memos: int, clients: int
) -> tuple[list[float], float, list[str]]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        name, data = audio
        slot = (
            await http.post(
                "/v3/attachments", json={"filename": name, "content_type": "audio/mpeg", "size_bytes": len(data)}
            )
        ).json()
        put = await http.put(slot["upload_url"], content=data, headers=slot["required_headers"])
        put.raise_for_status()
        chats = []
        for i in range((memos + 24) // 25):
            created = await http.post(
                "/v3/chats",
                json={
                    "from": "+15550500001",
                    "to": [f"+1777{i:07d}"],
                    "message": {"parts": [{"type": "text", "value": "hi"}]},
                },
            )
            chats.append(created.json()["chat"]["id"])
        queue: asyncio.Queue[str] = asyncio.Queue()
        for n in range(memos):
            queue.put_nowait(chats[n // 25])
        latencies: list[float] = []
        ids: list[str] = []

        async def client() -> None:
            while not queue.empty():
                chat_id = queue.get_nowait()
                start = time.perf_counter()
                response = await http.post(
                    f"/v3/chats/{chat_id}/voicememo", json={"attachment_id": slot["attachment_id"]}
                )
                latencies.append(time.perf_counter() - start)
                assert response.status_code == 202, response.text
                ids.append(response.json()["voice_memo"]["id"])

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return latencies, time.perf_counter() - started, ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memos", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--accept-only", action="store_true", help="no in-process workers: measure accepting alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, webhook_receiver() as receiver:
        audio = encode(Path(tmp) / "memo.mp3", fmt="mp3", codec="libmp3lame", seconds=20, bit_rate=64000).path
        port = free_port()
        env = {
            **os.environ,
            "VOICEMEMO_DATA_DIR": f"{tmp}/data",
            "VOICEMEMO_PORT": str(port),
            "VOICEMEMO_FETCH_ALLOW_PRIVATE_NETWORKS": "true",
            "VOICEMEMO_SANDBOX_DELIVERED_DELAY": "0",
            "VOICEMEMO_SANDBOX_READ_DELAY": "-1",
            "VOICEMEMO_JOB_POLL_INTERVAL": "0.2",
            "VOICEMEMO_WORKERS_IN_PROCESS": "false" if args.accept_only else "true",
        }
        made = json.loads(
            subprocess.run(
                [str(BIN), "partners", "create", "Bench", "--line", "+15550500001", "--json"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        proc = subprocess.Popen(
            [str(BIN), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Application startup complete" in line:
                break
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain: a full pipe would block it
        base = f"http://127.0.0.1:{port}"
        try:
            httpx.post(
                f"{base}/v3/webhook-subscriptions",
                headers={"Authorization": f"Bearer {made['api_key']}"},
                json={"target_url": receiver.url, "subscribed_events": ["message.delivered"]},
            ).raise_for_status()
            start = time.perf_counter()
            latencies, accept_s, ids = asyncio.run(
                run(base, made["api_key"], (audio.name, audio.read_bytes()), args.memos, args.clients)
            )
            wanted = set() if args.accept_only else set(ids)
            while wanted:
                event = receiver.accepted.get(timeout=300).event
                wanted.discard(event["data"]["id"])
            all_delivered = time.perf_counter() - start
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        q = statistics.quantiles(latencies, n=100)
        print(f"memos: {args.memos} by attachment_id (20 s MP3), clients: {args.clients}, embedded default")
        print(f"accepted: {args.memos / accept_s:.1f} memos/s  (all accepted in {accept_s:.2f} s)")
        print(f"accept latency: p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms")
        print(f"all delivered (message.delivered webhooks received) after {all_delivered:.2f} s")


if __name__ == "__main__":
    main()
