"""UTCDateTime on SQLite writes exactly the text SQLAlchemy's own DATETIME wrote (rows stored before
keep comparing and sorting right) and reads every such text back as the same UTC instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from voicememo.storage.tables import UTCDateTime

SQLITE = sqlite.dialect()
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=OFFSETS))
def test_sqlite_text_is_sqlalchemys_and_reads_back_the_same_instant(value: datetime) -> None:
    written = UTCDateTime().process_bind_param(value, SQLITE)
    sqlalchemy_text = sqlite.DATETIME().bind_processor(SQLITE)(value.astimezone(UTC).replace(tzinfo=None))
    assert written == sqlalchemy_text
    read = UTCDateTime().process_result_value(written, SQLITE)
    assert read == value and read is not None and read.tzinfo is UTC
