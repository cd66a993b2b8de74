"""A real webhook receiver on 127.0.0.1 that records every request (and can fail the first N)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Delivery:
    headers: dict[str, str]
    body: str
    status: int

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    url: str
    fail_first: int = 0
    #: what the failing answers (500) and the accepting ones say; an empty accepting body answers 204
    fail_body: bytes = b""
    ok_body: bytes = b""
    attempts: list[Delivery] = field(default_factory=list)
    accepted: queue.Queue[Delivery] = field(default_factory=queue.Queue)

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> list[Delivery]:
        """Accepted deliveries, in arrival order, until one satisfies ``predicate`` (blocking on the queue)."""
        seen: list[Delivery] = []
        while True:
            delivery = self.accepted.get(timeout=timeout)
            seen.append(delivery)
            if predicate(delivery.event):
                return seen


@contextmanager
def webhook_receiver(fail_first: int = 0, fail_body: bytes = b"", ok_body: bytes = b"") -> Iterator[Receiver]:
    receiver = Receiver(url="", fail_first=fail_first, fail_body=fail_body, ok_body=ok_body)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            with lock:
                failing = len(receiver.attempts) < receiver.fail_first
                answer = receiver.fail_body if failing else receiver.ok_body
                status = 500 if failing else (200 if answer else 204)
                delivery = Delivery({k.lower(): v for k, v in self.headers.items()}, body, status)
                receiver.attempts.append(delivery)
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            if not failing:
                receiver.accepted.put(delivery)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
