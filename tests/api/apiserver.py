"""Real servers on 127.0.0.1 (uvicorn in a thread, real HTTP), driven by the official linq-python SDK."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import linq
import pytest
import uvicorn

import testdb
from origin import Origin, https_origin
from voicememo.container import Container
from voicememo.server import create_app
from voicememo.services.admin import NewPartner
from voicememo.settings import Settings

_numbers = count(1)

#: a quick simulated Apple side and short retry delays, so delivery tests finish in seconds
FAST_DELIVERY: dict[str, Any] = {
    "sandbox_delivered_delay": 0.05,
    "sandbox_read_delay": 0.15,
    "sandbox_fail_pattern": r"^\+1999",
    "job_poll_interval": 0.2,
    "webhook_retry_base_seconds": 0.2,
    "delivery_retry_base_seconds": 0.2,
}


@dataclass
class Server:
    base_url: str
    settings: Settings

    def new_partner(self) -> NewPartner:
        """A fresh partner with its own line, created as the CLI would (same data dir, own engine)."""
        line = f"+1555{next(_numbers):06d}1"

        async def go() -> NewPartner:
            container = Container(self.settings)
            try:
                return await container.admin.create_partner(f"partner {line}", line)
            finally:
                await container.aclose()

        return asyncio.run(go())

    def client(self, api_key: str, *, prefix: str = "") -> linq.LinqAPIV3:
        return linq.LinqAPIV3(
            api_key=api_key, base_url=self.base_url + prefix, max_retries=0, _strict_response_validation=True
        )


@contextmanager
def running_server(data_dir: Path, **overrides: Any) -> Iterator[Server]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    settings = testdb.migrated_settings(data_dir, port=port, audio_workers=2, **overrides)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", lifespan="on"))
    # The socket is already listening, so clients can connect at once; uvicorn accepts once it runs.
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield Server(base_url=f"http://127.0.0.1:{port}", settings=settings)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="session")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Origin]:
    with https_origin(tmp_path_factory.mktemp("origin"), limit_hint=10 * 1024 * 1024) as o:
        yield o


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, origin: Origin) -> Iterator[Server]:
    """The LAN/test configuration: private addresses and the origin's CA allowed for URL fetches."""
    with running_server(
        tmp_path_factory.mktemp("server"),
        fetch_allow_private_networks=True,
        fetch_ca_bundle=origin.ca_file,
        fetch_total_timeout=3.0,
        **FAST_DELIVERY,
    ) as s:
        yield s


@pytest.fixture(scope="session")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The default configuration: only public addresses are fetched."""
    with running_server(tmp_path_factory.mktemp("strict")) as s:
        yield s


@dataclass
class Tenant:
    partner: NewPartner
    client: linq.LinqAPIV3

    @property
    def line(self) -> str:
        return self.partner.line.phone_number


@pytest.fixture
def tenant(server: Server) -> Tenant:
    made = server.new_partner()
    return Tenant(made, server.client(made.api_key.secret))


@pytest.fixture
def other_tenant(server: Server) -> Tenant:
    made = server.new_partner()
    return Tenant(made, server.client(made.api_key.secret))
