"""The current trace id (a contextvar): set per request by the API, per job by the worker."""

from __future__ import annotations

import contextvars
import uuid

_trace_id: contextvars.ContextVar[str] = contextvars.ContextVar("trace_id", default="")


def current_trace_id() -> str:
    value = _trace_id.get()
    if not value:
        value = uuid.uuid4().hex
        _trace_id.set(value)
    return value


def trace_id_if_any() -> str:
    """The current trace id, or "" outside a request or job (never makes one up)."""
    return _trace_id.get()


def set_trace_id(value: str) -> contextvars.Token[str]:
    return _trace_id.set(value)


def reset_trace_id(token: contextvars.Token[str]) -> None:
    _trace_id.reset(token)
