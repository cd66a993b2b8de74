"""Webhook POSTs over TLS go to the checked address yet verify the target's host name (SNI, certificate).

The connection is pinned to the address the SSRF check passed, so a certificate check against that
address, or no SNI, would either fail every real HTTPS target or accept a certificate for another
name. The target here has a certificate for one name only; two names resolve to its address.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from voicememo.errors import FetchFailed
from voicememo.net.addresses import IPAddress, literal_address
from voicememo.net.fetch import FetchPolicy, SafeFetcher

NAME = "hooks.example.test"


@dataclass
class Target:
    port: int
    ca_file: Path
    sni: list[str | None] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
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


async def loopback(_host: str, _port: int) -> list[IPAddress]:
    address = literal_address("127.0.0.1")
    assert address is not None
    return [address]


@pytest.mark.anyio
async def test_a_post_verifies_the_targets_name_over_the_pinned_address(target: Target) -> None:
    fetcher = SafeFetcher(FetchPolicy(allow_private=True, ca_bundle=target.ca_file), resolver=loopback)
    try:
        answer = await fetcher.post_answer(f"https://{NAME}:{target.port}/hook", b"{}", {}, 5.0)
        assert (answer.status, answer.excerpt) == (202, "accepted")
        assert target.sni == [NAME] and target.hosts == [f"{NAME}:{target.port}"]
        # the same address under a name the certificate does not cover: refused, never sent
        with pytest.raises(FetchFailed, match=r"No answer from other\.example\.test: .*certificate"):
            await fetcher.post_answer(f"https://other.example.test:{target.port}/hook", b"{}", {}, 5.0)
        assert target.hosts == [f"{NAME}:{target.port}"]
    finally:
        await fetcher.aclose()


@pytest.mark.anyio
async def test_a_post_to_a_target_with_an_untrusted_certificate_is_refused(target: Target) -> None:
    fetcher = SafeFetcher(FetchPolicy(allow_private=True), resolver=loopback)  # our CA is not trusted
    try:
        with pytest.raises(FetchFailed, match=r"No answer from hooks\.example\.test: .*certificate"):
            await fetcher.post_answer(f"https://{NAME}:{target.port}/hook", b"{}", {}, 5.0)
        assert target.hosts == []
    finally:
        await fetcher.aclose()
