"""Well-formed text in decoded JSON.

Python's ``json`` turns ``"\\ud800"`` into a string holding a lone UTF-16 surrogate. Such a string is
not Unicode text: nothing can encode it (UTF-8 for the database and HTTP, the IDNA codec for host
names), so it is refused where JSON comes in, not discovered as a crash deeper down.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def lone_surrogate_at(value: Any) -> str | None:
    """The field path (``message.parts[0].value``) of the first string, key or value, that holds a lone
    surrogate, in document order; ``""`` for the value itself; None when every string is well formed.
    A bad key is named as ``<path of its object>{}``."""
    return first_string_at(value, has_lone_surrogate)


def nul_at(value: Any) -> str | None:
    """Where the first string holding U+0000 is (as ``lone_surrogate_at``): valid Unicode, but no text
    column can store it (PostgreSQL refuses it), so it is refused where JSON comes in."""
    return first_string_at(value, lambda text: "\x00" in text)


def first_string_at(value: Any, bad: Callable[[str], bool]) -> str | None:
    """The path of the first string, key or value, that is ``bad``. Iterative: the depth is the sender's choice."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            if bad(item):
                return where
        elif isinstance(item, dict):
            if any(bad(key) for key in item):
                return where + "{}"
            pending.extend((f"{where}.{key}" if where else key, item[key]) for key in reversed(item))
        elif isinstance(item, list):
            pending.extend((f"{where}[{i}]", item[i]) for i in reversed(range(len(item))))
    return None
