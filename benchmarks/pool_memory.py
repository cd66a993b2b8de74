"""Resident memory of the audio pool's worker processes in a running server, after they render a memo.

    .venv/bin/python benchmarks/pool_memory.py

Starts `voicememo serve` on a fresh data dir (its console script is the main module, as in
production), sends one 20 s MP3 as a voice memo, waits until it is delivered, then reads
VmRSS and VmHWM (peak) from /proc for the forkserver and every pool worker. A worker should
hold the audio code (PyAV, numpy) and nothing of the web app or the database.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from audiogen import encode
from receiver import webhook_receiver
from served import served

LINE = "+15550700001"


def status_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def send_one(base: str, key: str, audio: Path) -> str:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        data = audio.read_bytes()
        slot = http.post(
            "/v3/attachments", json={"filename": audio.name, "content_type": "audio/mpeg", "size_bytes": len(data)}
        ).json()
        http.put(slot["upload_url"], content=data, headers=slot["required_headers"]).raise_for_status()
        chat = http.post(
            "/v3/chats",
            json={"from": LINE, "to": ["+17770000001"], "message": {"parts": [{"type": "text", "value": "hi"}]}},
        )
        chat_id = chat.json()["chat"]["id"]
        sent = http.post(f"/v3/chats/{chat_id}/voicememo", json={"attachment_id": slot["attachment_id"]})
        sent.raise_for_status()
        return str(sent.json()["voice_memo"]["id"])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, webhook_receiver() as receiver:
        audio = encode(Path(tmp) / "memo.mp3", fmt="mp3", codec="libmp3lame", seconds=20, bit_rate=64000).path
        settings = {"fetch_allow_private_networks": "true", "sandbox_delivered_delay": "0", "job_poll_interval": "0.2"}
        with served(Path(tmp) / "data", LINE, **settings) as server:
            httpx.post(
                f"{server.base_url}/v3/webhook-subscriptions",
                headers={"Authorization": f"Bearer {server.api_key}"},
                json={"target_url": receiver.url, "subscribed_events": ["message.delivered"]},
            ).raise_for_status()
            memo = send_one(server.base_url, server.api_key, audio)
            while receiver.accepted.get(timeout=120).event["data"]["id"] != memo:
                pass
            forkservers = [p for p in children(server.pid) if "multiprocessing.forkserver" in cmdline(p)]
            print(f"server (pid {server.pid}): VmRSS {status_kb(server.pid)['VmRSS'] / 1024:.0f} MB")
            for fs in forkservers:
                print(f"forkserver (pid {fs}): VmRSS {status_kb(fs)['VmRSS'] / 1024:.0f} MB")
                for worker in children(fs):
                    kb = status_kb(worker)
                    print(
                        f"  pool worker (pid {worker}): VmRSS {kb['VmRSS'] / 1024:.0f} MB, "
                        f"peak VmHWM {kb['VmHWM'] / 1024:.0f} MB"
                    )


if __name__ == "__main__":
    main()
