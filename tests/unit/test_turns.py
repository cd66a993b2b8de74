"""Requests start in arrival order, and a loop turn past its budget starts no more of them."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import pytest
from starlette.types import Receive, Scope, Send

from voicememo.api.turns import TurnTakingMiddleware

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Turns:
    """Counts the event loop's turns: a callback that puts itself back each turn."""

    def __init__(self) -> None:
        self.count = 0
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        self.count += 1
        self._handle = self._loop.call_soon(self._tick)

    def stop(self) -> None:
        self._handle.cancel()


def recording_app(started: list[tuple[str, int]], turns: Turns) -> Callable[[Scope, Receive, Send], object]:
    async def app(scope: Scope, _receive: Receive, _send: Send) -> None:
        started.append((scope.get("path", scope["type"]), turns.count))

    return app


def recorded_gate(budget: float) -> tuple[TurnTakingMiddleware, list[tuple[str, int]], Turns]:
    """A gate in front of an app that records each request's path and the turn it started in."""
    turns = Turns()
    started: list[tuple[str, int]] = []
    return TurnTakingMiddleware(recording_app(started, turns), budget=budget), started, turns


async def call(gate: TurnTakingMiddleware, path: str, scope_type: str = "http") -> None:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: object) -> None:
        return None

    await gate({"type": scope_type, "path": path}, receive, send)


async def test_past_the_budget_requests_start_one_turn_apart_in_arrival_order() -> None:
    gate, started, turns = recorded_gate(0.0)
    await asyncio.gather(*(call(gate, f"/{n}") for n in range(6)))
    turns.stop()
    assert [path for path, _ in started] == [f"/{n}" for n in range(6)]
    at = [turn for _, turn in started]
    assert all(later == earlier + 1 for earlier, later in itertools.pairwise(at)), at


async def test_within_the_budget_requests_start_in_the_same_turn_without_a_hop() -> None:
    gate, started, turns = recorded_gate(60.0)
    await asyncio.gather(*(call(gate, f"/{n}") for n in range(6)))
    turns.stop()
    assert [path for path, _ in started] == [f"/{n}" for n in range(6)]
    assert len({turn for _, turn in started}) == 1


async def test_requests_put_off_start_before_ones_that_arrive_later() -> None:
    gate, started, turns = recorded_gate(0.0)
    first = [asyncio.ensure_future(call(gate, f"/early{n}")) for n in range(4)]
    await asyncio.sleep(0)  # the early ones have arrived and all but one were put off
    late = [asyncio.ensure_future(call(gate, f"/late{n}")) for n in range(3)]
    await asyncio.gather(*first, *late)
    turns.stop()
    assert [path for path, _ in started] == [f"/early{n}" for n in range(4)] + [f"/late{n}" for n in range(3)]


async def test_a_request_waiting_on_io_does_not_hold_up_the_next_one() -> None:
    """Only the start is ordered: the first request waits for something only the last one does."""
    released = asyncio.Event()

    async def app(scope: Scope, _receive: Receive, _send: Send) -> None:
        if scope["path"] == "/first":
            await released.wait()
        elif scope["path"] == "/last":
            released.set()

    gate = TurnTakingMiddleware(app, budget=0.0)
    paths = ["/first", "/a", "/b", "/last"]
    await asyncio.wait_for(asyncio.gather(*(call(gate, path) for path in paths)), timeout=5)


async def test_a_cancelled_request_put_off_does_not_stall_the_others() -> None:
    gate, started, turns = recorded_gate(0.0)
    tasks = [asyncio.ensure_future(call(gate, f"/{n}")) for n in range(4)]
    await asyncio.sleep(0)
    tasks[1].cancel()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=5)
    turns.stop()
    assert isinstance(results[1], asyncio.CancelledError)
    assert [path for path, _ in started] == ["/0", "/2", "/3"]


async def test_lifespan_and_websocket_scopes_are_not_held() -> None:
    gate, started, turns = recorded_gate(0.0)
    await asyncio.gather(call(gate, "/a"), call(gate, "/ws", "websocket"), call(gate, "/life", "lifespan"))
    turns.stop()
    assert {path for path, turn in started if turn == started[0][1]} == {"/a", "/ws", "/life"}


def test_a_turn_left_open_by_a_closed_loop_does_not_hold_the_next_loop() -> None:
    """One app, several loops (a test client per test): the first request on a new loop starts at once."""
    started: list[str] = []

    async def app(scope: Scope, _receive: Receive, _send: Send) -> None:
        started.append(scope["path"])
        if scope["path"] == "/on-the-first-loop":
            asyncio.get_running_loop().stop()  # this turn is its last: the turn's end never runs

    gate = TurnTakingMiddleware(app, budget=0.0)

    first = asyncio.new_event_loop()
    task = first.create_task(call(gate, "/on-the-first-loop"))
    first.run_forever()
    assert task.done()
    first.close()
    asyncio.run(asyncio.wait_for(call(gate, "/on-the-second-loop"), timeout=5))
    assert started == ["/on-the-first-loop", "/on-the-second-loop"]
