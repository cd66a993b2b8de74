"""Keyset pagination: opaque cursors over (created_at, id), newest first."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.sql import ColumnElement

from voicememo.errors import InvalidParameter


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, row_id = raw.split("|", 1)
        return datetime.fromisoformat(stamp), row_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameter("cursor is not valid: pass the next_cursor value of the previous page.") from exc


def older_than(created_col: Any, id_col: Any, cursor: str | None) -> ColumnElement[bool] | None:
    if not cursor:
        return None
    created_at, row_id = decode_cursor(cursor)
    return or_(created_col < created_at, and_(created_col == created_at, id_col < row_id))
