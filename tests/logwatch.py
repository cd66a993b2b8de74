"""The structured log lines of the servers under test (they run in this process), as they happen."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn

import structlog


@dataclass
class LogWatch:
    seen: list[dict[str, Any]] = field(default_factory=list)
    arrived: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)

    def __call__(self, _logger: Any, _method: str, event: dict[str, Any]) -> NoReturn:
        self.seen.append(dict(event))
        self.arrived.put(dict(event))
        raise structlog.DropEvent

    def wait_for(self, name: str, timeout: float = 20.0) -> dict[str, Any]:
        """The next line named ``name`` (blocking on the queue, never polling)."""
        while True:
            event = self.arrived.get(timeout=timeout)
            if event["event"] == name:
                return event

    def named(self, name: str) -> list[dict[str, Any]]:
        return [event for event in self.seen if event["event"] == name]


@contextmanager
def watched_logs() -> Iterator[LogWatch]:
    watch = LogWatch()
    previous = structlog.get_config()["processors"]
    structlog.configure(processors=[structlog.processors.add_log_level, watch])
    try:
        yield watch
    finally:
        structlog.configure(processors=previous)
