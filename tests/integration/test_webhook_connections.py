"""Webhook POSTs keep their connection alive per target origin, and never share one across host names.

Reusing a connection saves a handshake per attempt; sharing one between two host names that resolve
to the same address would send one host's events over a connection set up (SNI, certificate) for
the other.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from voicememo.net.addresses import IPAddress, literal_address
from voicememo.net.fetch import FetchPolicy, SafeFetcher


class Seen:
    def __init__(self) -> None:
        self.requests: list[tuple[str, int]] = []  # (Host header, client port)


@pytest.fixture
def target() -> Iterator[tuple[int, Seen]]:
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as most webhook receivers are

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.requests.append((self.headers["Host"], self.client_address[1]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


async def loopback(_host: str, _port: int) -> list[IPAddress]:
    """Every name resolves to 127.0.0.1, as two virtual hosts on one address would."""
    address = literal_address("127.0.0.1")
    assert address is not None
    return [address]


@pytest.mark.anyio
async def test_attempts_reuse_a_connection_per_host_name_and_never_across_names(target: tuple[int, Seen]) -> None:
    port, seen = target
    fetcher = SafeFetcher(FetchPolicy(allow_private=True), resolver=loopback)
    try:
        for host in ("a.example.test", "a.example.test", "b.example.test", "a.example.test", "b.example.test"):
            answer = await fetcher.post_answer(f"http://{host}:{port}/hook", b"{}", {}, 5.0)
            assert (answer.status, answer.excerpt) == (200, "ok")
    finally:
        await fetcher.aclose()
    ports = {host: {p for h, p in seen.requests if h == host} for host, _ in seen.requests}
    assert [h for h, _ in seen.requests] == [f"{n}.example.test:{port}" for n in "aabab"]
    a_ports, b_ports = ports[f"a.example.test:{port}"], ports[f"b.example.test:{port}"]
    assert len(a_ports) == 1 and len(b_ports) == 1  # one kept-alive connection each
    assert a_ports != b_ports  # and never the other name's
