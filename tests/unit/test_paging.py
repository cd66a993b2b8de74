"""Page cursors: whatever a client sends as ``cursor``, the answer is a key the database can bind, or a 400."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from voicememo.errors import InvalidParameter
from voicememo.storage.repos.paging import decode_cursor, encode_cursor
from voicememo.storage.tables import UTCDateTime


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _refusal(cursor: str) -> str | None:
    """None when the cursor decodes to a key the database binds; else the 400's message."""
    try:
        created_at, row_id = decode_cursor(cursor)
    except InvalidParameter as exc:
        return exc.message
    assert created_at.tzinfo is not None and created_at.utcoffset() == timedelta(0)
    UTCDateTime().process_bind_param(created_at, sqlite.dialect())  # where a naive stamp used to crash
    assert str(uuid.UUID(row_id)) == row_id
    return None


def _decodes_to_a_bindable_key_or_refuses(cursor: str) -> None:
    refusal = _refusal(cursor)
    assert refusal is None or "cursor is not valid" in refusal


def test_round_trip() -> None:
    stamp, row_id = datetime(2026, 11, 30, 12, 0, 1, 123456, tzinfo=UTC), str(uuid.uuid4())
    assert decode_cursor(encode_cursor(stamp, row_id)) == (stamp, row_id)


@pytest.mark.parametrize(
    "payload",
    [
        b"2024-01-01T00:00:00|00000000-0000-4000-8000-000000000000",  # no offset: used to reach the DB bind
        b"2024-01-01|00000000-0000-4000-8000-000000000000",
        b"0001-01-01T00:00:00+01:00|00000000-0000-4000-8000-000000000000",  # before year 1 in UTC
        b"9999-12-31T23:59:59-01:00|00000000-0000-4000-8000-000000000000",  # after year 9999 in UTC
        b"2024-01-01T00:00:00+00:00|not-an-id",
        b"2024-01-01T00:00:00+00:00",
        b"\xff\xfe|x",
        b"",
    ],
)
def test_crafted_payloads_are_invalid_cursors(payload: bytes) -> None:
    with pytest.raises(InvalidParameter, match="cursor is not valid"):
        decode_cursor(_b64(payload))


@given(st.text())
@example("!!garbage")
@example("a")
@example("====")
@example("YQ")
@example("\ud800")
def test_any_text(cursor: str) -> None:
    _decodes_to_a_bindable_key_or_refuses(cursor)


@given(
    st.datetimes(
        timezones=st.none()
        | st.timezones()
        | st.builds(timezone, st.timedeltas(-timedelta(hours=23), timedelta(hours=23)))
    ),
    st.text() | st.uuids().map(str),
    st.sampled_from(["|", "||", ""]),
)
def test_crafted_timestamps_and_ids(stamp: datetime, row_id: str, sep: str) -> None:
    _decodes_to_a_bindable_key_or_refuses(_b64(f"{stamp.isoformat()}{sep}{row_id}".encode("utf-8", "surrogatepass")))
