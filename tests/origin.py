"""A real HTTPS origin on 127.0.0.1 with a trustme certificate, for fetch tests."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme


@dataclass
class Origin:
    base: str
    ca_file: Path
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def add(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        self.files[name] = (data, content_type)
        return f"{self.base}/files/{name}"


def _handler(origin: Origin, limit_hint: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            origin.requests.append(self.path)
            parts = self.path.strip("/").split("/")
            if parts[0] == "files" and parts[-1] in origin.files:
                data, ctype = origin.files[parts[-1]]
                self._send(200, data, ctype)
            elif parts[0] == "redirect":
                hops = int(parts[1])
                target = f"/redirect/{hops - 1}/{parts[2]}" if hops > 1 else f"/files/{parts[2]}"
                self._send(302, b"", "text/plain", {"Location": target})
            elif parts[0] == "to-userinfo":
                host = self.headers.get("Host", "localhost")
                self._send(302, b"", "text/plain", {"Location": f"https://user:secret@{host}/files/memo.mp3"})
            elif parts[0] == "to-http":
                self._send(302, b"", "text/plain", {"Location": "http://localhost/files/x.mp3"})
            elif parts[0] == "status":
                self._send(int(parts[1]), b"nope", "text/plain")
            elif parts[0] == "declared-big":
                self.send_response(200)
                self.send_header("Content-Length", str(limit_hint + 1))
                self.end_headers()
                self.wfile.write(b"\x00" * 1024)
            elif parts[0] == "chunked-big":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"\x00" * 65536
                try:
                    for _ in range(limit_hint // len(chunk) + 2):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass
            elif parts[0] == "slow":
                self.send_response(200)
                self.send_header("Content-Length", "100")
                self.end_headers()
                try:
                    for _ in range(100):
                        self.wfile.write(b"\x00")
                        self.wfile.flush()
                        time.sleep(0.1)  # the origin is slow on purpose; the client's deadline is under test
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass
            else:
                self._send(404, b"not found", "text/plain")

        def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def https_origin(tmp_dir: Path, limit_hint: int = 10 * 1024 * 1024) -> Iterator[Origin]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    ca_file = tmp_dir / "origin-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    origin = Origin(base="", ca_file=ca_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(origin, limit_hint))
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    origin.base = f"https://localhost:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield origin
    finally:
        server.shutdown()
        server.server_close()
