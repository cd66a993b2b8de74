"""An exception no handler maps answers the contract's 500 and leaves the keep-alive connection usable."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from voicememo.api.last_resort import LastResortMiddleware


async def boom(_request: Request) -> PlainTextResponse:
    raise RuntimeError("a bug")


async def fine(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("fine")


@pytest.fixture
def port() -> Iterator[int]:
    app = Starlette(routes=[Route("/boom", boom), Route("/fine", fine)])
    app.add_middleware(LastResortMiddleware, doc_base="http://docs.test")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_a_500_keeps_the_connection_for_the_next_request(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/boom")
    failed = conn.getresponse()
    body = json.loads(failed.read())
    assert failed.status == 500 and failed.getheader("connection") != "close"
    assert body["success"] is False and body["error"]["status"] == 500
    local = conn.sock.getsockname()
    conn.request("GET", "/fine")  # the same socket: http.client reconnects only after "Connection: close"
    after = conn.getresponse()
    assert (after.status, after.read()) == (200, b"fine")
    assert conn.sock.getsockname() == local
