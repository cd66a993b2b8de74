"""The logs' safety net: a structlog processor that blanks secrets by key name and by their look.

Code should never log a secret in the first place; this catches the ones that slip into a field
or a message anyway (an exception naming a URL, a library's record): API keys (``vm_…``), webhook
secrets (``whsec_…``), bearer tokens, passwords, and the signature, token or credential parameters
of signed URLs (ours, S3's presigned ones, a sender's ``?password=``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import MutableMapping
from typing import Any

REDACTED = "[redacted]"

#: a field whose name has one of these parts (split on ``_``/``-``) holds a secret whatever its value
_SECRET_PARTS = {"password", "passwd", "secret", "token", "apikey", "authorization", "cookie", "signature"}
_SECRET_NAMES = {"api_key", "api-key", "x-api-key", "secret_key", "access_key", "credentials"}
#: values that are secrets by their look; each keeps its lead-in (the prefix or ``name=``)
_PATTERNS = [
    re.compile(r"(vm_)[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(whsec_)[A-Za-z0-9+/=_\-]{8,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]{6,}"),
    # query or form parameters of signed URLs, sender calls and the like
    re.compile(
        r"(?i)([?&;](?:token|sig|signature|password|passwd|pass|guid|key|api_key|apikey|secret|access_token"
        r"|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential"
        r"|awsaccesskeyid)=)[^&#\s\"'<>]+"
    ),
    # "password": "…" or password=… inside a message or a dumped dict
    re.compile(r"(?i)((?:password|passwd|secret|api_key)[\"']?\s*[:=]\s*[\"']?)[^\"'\s,&}]+"),
]


#: one pass that finds whether any pattern could match: most values (ids, actions, names) hold no
#: secret, and five substitutions on each of a log line's fields cost more than rendering the line
_ANY = re.compile(
    "|".join(f"(?i:{p.pattern[4:]})" if p.pattern.startswith("(?i)") else f"(?:{p.pattern})" for p in _PATTERNS)
)


@functools.lru_cache(maxsize=4096)
def _secret_name(key: str) -> bool:
    """Cached: every log line asks this of each of its (few, recurring) field names."""
    lowered = key.lower()
    if lowered in _SECRET_NAMES:
        return True
    return any(part in _SECRET_PARTS for part in re.split(r"[_\-]", lowered))


def _may_hold_secret(text: str) -> bool:
    """Every pattern needs ``_`` (``vm_``, ``whsec_``), ``=`` or ``:`` (a parameter, a field) or the
    word bearer: most values (ids, actions, names) have none, and these tests cost a tenth of a search."""
    return "_" in text or "=" in text or ":" in text or "earer" in text.lower()


def scrub(text: str) -> str:
    """``text`` with every secret-looking value replaced (lead-ins kept, so the line still reads)."""
    if not _may_hold_secret(text) or _ANY.search(text) is None:
        return text
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


#: what the processors before this one add (never a secret, and a timestamp's ``:`` costs a search)
_OURS = frozenset({"timestamp", "level", "logger"})


def _clean(value: Any) -> Any:
    if isinstance(value, str):  # a str subclass too (an enum's value, a URL type)
        return scrub(value)
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and _secret_name(k) and v else _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def redact_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The structlog processor: fields named like secrets are blanked, every text is scrubbed."""
    for key, value in list(event.items()):
        if key in _OURS:
            continue
        if _secret_name(key) and value not in (None, "", False):
            event[key] = REDACTED
        elif type(value) is str:  # most fields: the exact type test is a tenth of a union isinstance
            event[key] = scrub(value)
        elif isinstance(value, str | dict | list | tuple):
            event[key] = _clean(value)
        elif isinstance(value, BaseException):
            event[key] = scrub(repr(value))
    return event
