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
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from audiogen import encode
from receiver import webhook_receiver
from served import served


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
        settings = {
            "fetch_allow_private_networks": "true",
            "sandbox_delivered_delay": "0",
            "sandbox_read_delay": "-1",
            "job_poll_interval": "0.2",
            "workers_in_process": "false" if args.accept_only else "true",
        }
        with served(Path(tmp) / "data", "+15550500001", **settings) as server:
            base, key = server.base_url, server.api_key
            httpx.post(
                f"{base}/v3/webhook-subscriptions",
                headers={"Authorization": f"Bearer {key}"},
                json={"target_url": receiver.url, "subscribed_events": ["message.delivered"]},
            ).raise_for_status()
            start = time.perf_counter()
            latencies, accept_s, ids = asyncio.run(
                run(base, key, (audio.name, audio.read_bytes()), args.memos, args.clients)
            )
            wanted = set() if args.accept_only else set(ids)
            while wanted:
                event = receiver.accepted.get(timeout=300).event
                wanted.discard(event["data"]["id"])
            all_delivered = time.perf_counter() - start
        q = statistics.quantiles(latencies, n=100)
        print(f"memos: {args.memos} by attachment_id (20 s MP3), clients: {args.clients}, embedded default")
        print(f"accepted: {args.memos / accept_s:.1f} memos/s  (all accepted in {accept_s:.2f} s)")
        print(f"accept latency: p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms")
        print(f"all delivered (message.delivered webhooks received) after {all_delivered:.2f} s")


if __name__ == "__main__":
    main()
