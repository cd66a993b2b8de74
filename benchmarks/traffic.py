"""The client side the benchmarks share: set up chats and one upload, send memos with C concurrent
clients, and read a server's CPU time (its worker child processes count as the server's)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from pathlib import Path

import aiohttp
import httpx

from receiver import Receiver

LINE = "+15550500001"


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their living descendants so far (Linux /proc): a
    server's worker child process counts as the server's."""
    total = 0
    for pid in descendants(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def descendants(pids: list[int]) -> list[int]:
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(child) for child in task.read_text().split())
    return found


async def load(
    bases: list[str], key: str, paths: list[str], body: dict[str, str], clients: int
) -> tuple[list[float], float, list[str]]:
    """POST ``body`` to each path (round-robin over ``bases``) with ``clients`` concurrent clients.

    The client is aiohttp: an httpx client spent ~0.7 ms of CPU per request, and with 32 clients
    its own event loop became the tail of the latencies it measured (the bare peer's one-insert
    endpoint showed a p99 of 360-620 ms at 32 clients)."""
    headers = {"Authorization": f"Bearer {key}"}
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for n, path in enumerate(paths):
        queue.put_nowait((n, path))
    latencies: list[float] = []
    ids: list[str] = []
    connector = aiohttp.TCPConnector(limit=clients * 2)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=timeout) as http:

        async def client() -> None:
            while not queue.empty():
                n, path = queue.get_nowait()
                start = time.perf_counter()
                async with http.post(bases[n % len(bases)] + path, json=body) as response:
                    answer = await response.read()
                latencies.append(time.perf_counter() - start)
                assert response.status == 202, answer
                ids.append(json.loads(answer)["voice_memo"]["id"])

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return latencies, time.perf_counter() - started, ids


def prepare(
    base: str, key: str, audio: Path, memos: int, receiver: Receiver | None, content_type: str = "audio/mpeg"
) -> tuple[str, list[str]]:
    """Upload the memo, create chats of at most 25 memos each (under the 30/min rate limit), subscribe the
    receiver to message.delivered; returns (attachment id, the voicememo path of each memo)."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        data = audio.read_bytes()
        slot = http.post(
            "/v3/attachments", json={"filename": audio.name, "content_type": content_type, "size_bytes": len(data)}
        ).json()
        httpx.put(slot["upload_url"], content=data, headers=slot["required_headers"]).raise_for_status()
        if receiver is not None:
            http.post(
                "/v3/webhook-subscriptions",
                json={"target_url": receiver.url, "subscribed_events": ["message.delivered"]},
            ).raise_for_status()
        chats = []
        for i in range((memos + 24) // 25):
            created = http.post(
                "/v3/chats",
                json={"from": LINE, "to": [f"+1777{i:07d}"], "message": {"parts": [{"type": "text", "value": "hi"}]}},
            )
            chats.append(created.json()["chat"]["id"])
    return slot["attachment_id"], [f"/v3/chats/{chats[n // 25]}/voicememo" for n in range(memos)]
