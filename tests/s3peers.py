"""S3 peers that misbehave, on loopback: one that accepts connections and never answers, one that
answers every request with S3's own 500 error. Each counts the requests it saw (the retries)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message>"
    b"<RequestId>test</RequestId></Error>"
)


@dataclass
class Peer:
    endpoint: str
    requests: list[str] = field(default_factory=list)


@contextmanager
def hanging_peer() -> Iterator[Peer]:
    """Accepts every connection, reads what comes, never sends a byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    peer = Peer(f"http://127.0.0.1:{listener.getsockname()[1]}")
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(conn)  # kept open, unanswered, until the peer stops
            peer.requests.append("connection")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


@contextmanager
def failing_peer() -> Iterator[Peer]:
    """Answers every request with 500 InternalError, as S3 does when it is having a bad moment."""
    peer = Peer("")

    class Handler(BaseHTTPRequestHandler):
        def _fail(self) -> None:
            peer.requests.append(f"{self.command} {self.path}")
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(500)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(_ERROR)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(_ERROR)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _fail

        def log_message(self, *_args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    peer.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
