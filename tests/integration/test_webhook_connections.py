"""Webhook POSTs keep their connection alive per target origin, never share one across host names, and
over TLS go to the checked address yet verify the target's host name (SNI, certificate).

Reusing a connection saves a handshake per attempt; sharing one between two host names that resolve
to the same address would send one host's events over a connection set up (SNI, certificate) for
the other. The connection is pinned to the address the SSRF check passed, so a certificate check
against that address, or no SNI, would either fail every real HTTPS target or accept a certificate
for another name: the TLS target below has a certificate for one name only, and two names resolve
to its address.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from s3peers import hanging_peer
from voicememo.errors import FetchFailed
from voicememo.net.addresses import IPAddress, literal_address
from voicememo.net.fetch import FetchPolicy, SafeFetcher


class Seen:
    def __init__(self) -> None:
        self.requests: list[tuple[str, int]] = []  # (Host header, client port)


@contextmanager
def plain_target(address: str) -> Iterator[tuple[int, Seen]]:
    """A keep-alive HTTP receiver on ``address`` (IPv4 or IPv6) that records each POST's Host header."""
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

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in address else socket.AF_INET

    server = Server((address, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def target() -> Iterator[tuple[int, Seen]]:
    with plain_target("127.0.0.1") as found:
        yield found


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


@pytest.mark.anyio
async def test_an_ipv6_literal_target_gets_its_host_header_in_brackets() -> None:
    with plain_target("::1") as (port, seen):
        fetcher = SafeFetcher(FetchPolicy(allow_private=True))
        try:
            answer = await fetcher.post_answer(f"http://[::1]:{port}/hook", b"{}", {}, 5.0)
        finally:
            await fetcher.aclose()
    assert answer.status == 200
    assert [host for host, _ in seen.requests] == [f"[::1]:{port}"]  # RFC 9110: as in the URL


@pytest.mark.anyio
async def test_a_target_that_never_answers_fails_within_the_timeout() -> None:
    fetcher = SafeFetcher(FetchPolicy(allow_private=True))
    with hanging_peer() as peer:
        started = time.monotonic()
        with pytest.raises(FetchFailed, match=r"No answer from 127\.0\.0\.1"):
            await fetcher.post_answer(f"{peer.endpoint}/hook", b"{}", {}, 0.5)
        assert time.monotonic() - started < 5  # the timeout, not the test's patience, ended it
    await fetcher.aclose()


@pytest.mark.anyio
async def test_an_answer_that_never_ends_is_read_only_up_to_the_excerpt() -> None:
    listener = socket.create_server(("127.0.0.1", 0))

    def endless() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 4096
        try:
            while True:  # until the client hangs up
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            conn.close()

    threading.Thread(target=endless, daemon=True).start()
    fetcher = SafeFetcher(FetchPolicy(allow_private=True))
    try:
        answer = await fetcher.post_answer(f"http://127.0.0.1:{listener.getsockname()[1]}/hook", b"{}", {}, 5.0)
    finally:
        await fetcher.aclose()
        listener.close()
    assert (answer.status, answer.excerpt) == (200, "x" * 512)


NAME = "hooks.example.test"


@dataclass
class Target:
    port: int
    ca_file: Path
    sni: list[str | None] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)


@pytest.fixture
def tls_target(tmp_path: Path) -> Iterator[Target]:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(NAME).configure_cert(context)
    found = Target(0, ca_file)
    context.sni_callback = lambda _sock, name, _ctx: found.sni.append(name)  # type: ignore[func-returns-value]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            found.hosts.append(self.headers["Host"])
            self.send_response(202)
            self.send_header("Content-Length", "8")
            self.end_headers()
            self.wfile.write(b"accepted")

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    found.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


@pytest.mark.anyio
async def test_a_post_verifies_the_targets_name_over_the_pinned_address(tls_target: Target) -> None:
    fetcher = SafeFetcher(FetchPolicy(allow_private=True, ca_bundle=tls_target.ca_file), resolver=loopback)
    try:
        answer = await fetcher.post_answer(f"https://{NAME}:{tls_target.port}/hook", b"{}", {}, 5.0)
        assert (answer.status, answer.excerpt) == (202, "accepted")
        assert tls_target.sni == [NAME] and tls_target.hosts == [f"{NAME}:{tls_target.port}"]
        # the same address under a name the certificate does not cover: refused, never sent
        with pytest.raises(FetchFailed, match=r"No answer from other\.example\.test: .*certificate"):
            await fetcher.post_answer(f"https://other.example.test:{tls_target.port}/hook", b"{}", {}, 5.0)
        assert tls_target.hosts == [f"{NAME}:{tls_target.port}"]
    finally:
        await fetcher.aclose()


@pytest.mark.anyio
async def test_a_post_to_a_target_with_an_untrusted_certificate_is_refused(tls_target: Target) -> None:
    fetcher = SafeFetcher(FetchPolicy(allow_private=True), resolver=loopback)  # our CA is not trusted
    try:
        with pytest.raises(FetchFailed, match=r"No answer from hooks\.example\.test: .*certificate"):
            await fetcher.post_answer(f"https://{NAME}:{tls_target.port}/hook", b"{}", {}, 5.0)
        assert tls_target.hosts == []
    finally:
        await fetcher.aclose()
