"""Filenames that came from users or URLs, made safe to store and to put in headers."""

from __future__ import annotations

import re
import unicodedata

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
MAX_LEN = 255


def sanitize_filename(name: str | None, default_stem: str, extension: str) -> str:
    """Keep the user's name where possible; strip paths, control and reserved characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if not name:
        name = f"{default_stem}.{extension}"
    if len(name.encode()) > MAX_LEN:
        stem, dot, ext = name.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        budget = MAX_LEN - len(keep.encode()) - (1 if keep else 0)
        stem = (stem if keep else name).encode()[:budget].decode(errors="ignore")
        name = f"{stem}.{keep}" if keep else stem
    return name
