"""Keyset pagination: opaque cursors over (created_at, id), newest first.

A cursor comes back from the client, so decoding it is total: it yields an aware UTC
timestamp the database can bind and a canonical UUID, or a 400 saying the cursor is invalid.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.sql import ColumnElement

from voicememo.errors import InvalidParameter

#: an encoded (ISO timestamp with offset, UUID) pair is under 100 characters; anything far longer is not ours
_MAX_CURSOR = 256
_INVALID = "cursor is not valid: pass the next_cursor value of the previous page."


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    if len(cursor) > _MAX_CURSOR:
        raise InvalidParameter(_INVALID)
    try:
        padded = (cursor + "=" * (-len(cursor) % 4)).encode("ascii")
        raw = base64.b64decode(padded, altchars=b"-_", validate=True).decode("utf-8")
        stamp, row_id = raw.split("|", 1)
        created_at = datetime.fromisoformat(stamp)
        if created_at.tzinfo is None or str(uuid.UUID(row_id)) != row_id:
            raise ValueError("naive timestamp or not a canonical id")
        return created_at.astimezone(UTC), row_id
    except (ValueError, OverflowError, binascii.Error) as exc:  # UnicodeError is a ValueError
        raise InvalidParameter(_INVALID) from exc


def older_than(created_col: Any, id_col: Any, cursor: str | None) -> ColumnElement[bool] | None:
    if not cursor:
        return None
    created_at, row_id = decode_cursor(cursor)
    return or_(created_col < created_at, and_(created_col == created_at, id_col < row_id))
