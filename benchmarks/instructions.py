"""Instructions per accepted and per delivered memo, counted by callgrind: a figure the machine's load does not move.

    .venv/bin/python benchmarks/instructions.py [--memos 200] [--only accept,bare,deliver]

The wall-clock figures of benchmarks/throughput.py moved by 20-60% between runs on the shared 2-core
machines this project is measured on, so a change worth 5% could not be seen in them. Valgrind's
callgrind counts the instructions the process executes: the same code and inputs give the same count
within ~1-2%, whatever else the machine is doing (it runs ~50x slower, so only the measured part is
instrumented).

Each figure comes from this script run again under ``valgrind --tool=callgrind --instr-atstart=no``:
the child sets everything up uninstrumented (migrations, a partner, an uploaded MP3, chats, a warm-up
that renders the memo and delivers it), says ready, and the parent switches instrumentation on with
``callgrind_control`` for exactly the measured part:

- ``accept``: N ``POST /v3/chats/{id}/voicememo`` by attachment_id driven straight into the ASGI app
  (no sockets, no client; SQLite, no workers, the rate limit lifted);
- ``bare``: the same requests into the bare one-insert endpoint of benchmarks/bare_insert.py, the
  peer of throughput.py, driven the same way: the ratio is printed;
- ``deliver``: N accepted memos drained to ``delivered`` by the container's worker (sandbox sender
  without delays, one webhook subscription whose receiver runs in another process, not counted).

Needs valgrind (Debian's package: ``apt-get install valgrind``); about a minute per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

LINE = "+15550600001"
WARMUP = 10
#: memos per chat, as in throughput.py (a chat's memos are delivered one after another)
PER_CHAT = 25
_VALGRIND = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]


def measure(kind: str, memos: int) -> float:
    """Instructions per memo for ``kind``, from a child under callgrind instrumented only while measuring."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out.%p"
        child = subprocess.Popen(
            [
                *_VALGRIND,
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--child",
                kind,
                "--memos",
                str(memos),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert child.stdin is not None
        assert child.stdout is not None

        def told(word: str) -> None:
            line = child.stdout.readline().strip()  # type: ignore[union-attr]
            if line != word:
                raise SystemExit(f"{kind}: the child said {line!r}, expected {word!r}")

        def tell(word: str) -> None:
            child.stdin.write(word + "\n")  # type: ignore[union-attr]
            child.stdin.flush()  # type: ignore[union-attr]

        told("ready")
        subprocess.run(["callgrind_control", "-i", "on", str(child.pid)], check=True, capture_output=True)
        tell("go")
        told("done")
        subprocess.run(["callgrind_control", "-i", "off", str(child.pid)], check=True, capture_output=True)
        tell("exit")
        child.wait(timeout=300)
        totals = [
            int(line.split()[1])
            for line in Path(str(out).replace("%p", str(child.pid))).read_text().splitlines()
            if line.startswith(("summary:", "totals:"))
        ]
        return max(totals) / memos


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memos", type=int, default=200)
    parser.add_argument("--only", default="accept,bare,deliver", help="comma-separated: accept, bare, deliver")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--receiver", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver is not None:
        receive({int(n) for n in args.receiver.split(",")})
    elif args.child:
        asyncio.run(child(args.child, args.memos))
    else:
        report(args.only.split(","), args.memos)


def report(kinds: list[str], memos: int) -> None:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("benchmarks/instructions.py needs valgrind: apt-get install valgrind")
    print(f"instructions per memo, callgrind, {memos} memos after a warm-up of {WARMUP} (SQLite)")
    got = {kind: measure(kind, memos) for kind in kinds}
    for kind, per in got.items():
        label = {"accept": "accept by attachment_id", "bare": "bare insert endpoint", "deliver": "deliver"}[kind]
        print(f"  {label:26s} {per / 1e6:7.3f} M")
    if "accept" in got and "bare" in got:
        print(f"  ratio accept/bare: {got['accept'] / got['bare']:.2f}x")


# --- the child: set up uninstrumented, then run the measured part between "go" and "done" ---------------


async def child(kind: str, memos: int) -> None:
    import os

    from voicememo.logs import configure_logging

    configure_logging("console", stream=open(os.devnull, "w"))  # noqa: SIM115, ASYNC230 - for the process's life
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "bare":
            await _bare(Path(tmp), memos)
        else:
            await _voicememo(Path(tmp), kind, memos)


async def _handshake(measured: Callable[[], Awaitable[None]]) -> None:
    print("ready", flush=True)
    if (await asyncio.to_thread(sys.stdin.readline)).strip() != "go":
        raise SystemExit("no go")
    await measured()
    print("done", flush=True)
    await asyncio.to_thread(sys.stdin.readline)


def _asgi_post(app: Any, path: str, body: bytes, key: str | None) -> Callable[[], Awaitable[int]]:
    """One POST straight into an ASGI app, as uvicorn would hand it over; returns the status."""
    headers = [(b"host", b"127.0.0.1:8080"), (b"content-type", b"application/json")]
    headers += [(b"content-length", str(len(body)).encode())]
    if key:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }

    async def post() -> int:
        status = 0
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # never disconnects
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app({**scope, "state": {}}, receive, send)
        return status

    return post


async def _many(posts: list[Callable[[], Awaitable[int]]], first: int, count: int) -> None:
    """Memos ``first`` to ``first + count``, PER_CHAT to a chat (the posts, one per chat)."""
    for n in range(first, first + count):
        if (status := await posts[n // PER_CHAT]()) != 202:
            raise SystemExit(f"answered {status}")


async def _bare(tmp: Path, memos: int) -> None:
    from bare_insert import create_bare_app

    app = create_bare_app(tmp / "bare.db")
    async with app.router.lifespan_context(app):
        post = _asgi_post(app, "/v3/chats/c/voicememo", json.dumps({"attachment_id": "a"}).encode(), None)
        posts = [post] * (1 + (WARMUP + memos) // PER_CHAT)  # one chat id: the bare endpoint keeps no chats
        await _many(posts, 0, WARMUP)
        await _handshake(lambda: _many(posts, WARMUP, memos))


async def _voicememo(tmp: Path, kind: str, memos: int) -> None:
    import httpx

    from audiogen import encode
    from voicememo.container import Container
    from voicememo.server import create_app
    from voicememo.settings import Settings
    from voicememo.storage.migrate import upgrade

    settings = Settings(
        data_dir=tmp / "data",
        rate_limit="1000000000 per 60 seconds",
        workers_in_process=False,
        fetch_allow_private_networks=True,
        sandbox_delivered_delay=0,
        sandbox_read_delay=-1,
    )
    settings.ensure_dirs()
    await asyncio.to_thread(upgrade, settings.database_url)  # it runs its own loop
    audio = encode(tmp / "memo.mp3", fmt="mp3", codec="libmp3lame", seconds=20, bit_rate=64000).path
    chat_count = 1 + (WARMUP + memos) // PER_CHAT
    # each chat opens with a text message, delivered (with its event) during the warm-up too
    delivered = f"{chat_count + WARMUP},{chat_count + WARMUP + memos}"
    receiver = subprocess.Popen(  # noqa: ASYNC220 - set-up, before anything is measured
        [sys.executable, __file__, "--receiver", delivered], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
    )
    assert receiver.stdout is not None
    container = Container(settings)
    try:
        made = await container.admin.create_partner("Bench", LINE)
        app = create_app(container=container)
        key = made.api_key.secret
        headers = {"Authorization": f"Bearer {key}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_base_url, headers=headers) as http:
            data = audio.read_bytes()
            slot = (
                await http.post(
                    "/v3/attachments",
                    json={"filename": "memo.mp3", "content_type": "audio/mpeg", "size_bytes": len(data)},
                )
            ).json()
            (await http.put(slot["upload_url"], content=data, headers=slot["required_headers"])).raise_for_status()
            hook = {"target_url": receiver.stdout.readline().strip(), "subscribed_events": ["message.delivered"]}
            (await http.post("/v3/webhook-subscriptions", json=hook)).raise_for_status()
            first = {"parts": [{"type": "text", "value": "hi"}]}
            chats = [
                (await http.post("/v3/chats", json={"from": LINE, "to": [f"+1778{n:07d}"], "message": first})).json()
                for n in range(chat_count)
            ]
        body = json.dumps({"attachment_id": slot["attachment_id"]}).encode()
        posts = [_asgi_post(app, f"/v3/chats/{chat['chat']['id']}/voicememo", body, key) for chat in chats]

        async def drain() -> None:
            stop = asyncio.Event()
            worker = asyncio.create_task(container.worker().run(stop))
            await asyncio.to_thread(receiver.stdout.readline)  # type: ignore[union-attr]  # "delivered"
            stop.set()
            await worker

        await _many(posts, 0, WARMUP)
        await drain()  # the warm-up's memos delivered: the rendition made, the statements compiled
        if kind == "accept":
            await _handshake(lambda: _many(posts, WARMUP, memos))
        else:
            await _many(posts, WARMUP, memos)
            await _handshake(drain)
    finally:
        receiver.terminate()
        await container.aclose()


def receive(counts: set[int]) -> None:
    """The webhook receiver (tests/receiver.py, run in another process so it is not counted): prints its
    URL, then "delivered" each time the number of messages whose message.delivered event arrived reaches
    one of ``counts``."""
    from receiver import webhook_receiver

    seen: set[str] = set()
    with webhook_receiver() as hooks:
        print(hooks.url, flush=True)
        while len(seen) < max(counts):
            event = hooks.accepted.get().event
            if event["event_type"] == "message.delivered" and event["data"]["id"] not in seen:
                seen.add(event["data"]["id"])
                if len(seen) in counts:
                    print("delivered", flush=True)
        threading.Event().wait()  # serving on until the measuring process ends this one


if __name__ == "__main__":
    main()
