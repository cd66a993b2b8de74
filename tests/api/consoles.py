"""Running the console's services in the test process against a test server's data (own engine)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import linq
from apiserver import Server

from voicememo.container import Container

T = TypeVar("T")


def with_container(server: Server, call: Callable[[Container], Awaitable[T]]) -> T:
    """``call(container)`` on a container over the server's settings (as the CLI does), closed after."""

    async def go() -> T:
        container = Container(server.settings)
        try:
            return await call(container)
        finally:
            await container.aclose()

    return asyncio.run(go())


def wait_status(client: linq.LinqAPIV3, message_id: str, wanted: set[str], timeout: float = 20.0) -> str:
    """Poll the message until its status is one of ``wanted`` (fails with the last status at the deadline)."""
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = str(client.messages.retrieve(message_id).delivery_status)
        if status in wanted:
            return status
        time.sleep(0.05)
    raise AssertionError(f"message {message_id} stayed {status!r}, wanted one of {sorted(wanted)}")


def eventually(check: Callable[[], T | None], timeout: float = 20.0, what: str = "condition") -> T:
    """Call ``check`` until it returns something other than None (or fail at the deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached in {timeout} s")
