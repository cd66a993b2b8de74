"""What a Mac pushes is parsed without surprises: receipts, or ValueError; never anything else.

The callback route is reachable by anyone holding the line's URL, so its parser is fuzzed with
arbitrary bytes and with BlueBubbles-shaped payloads full of hostile values.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from voicememo.senders.base import ReceiptEvent
from voicememo.senders.bluebubbles.events import from_ms, parse_webhook

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
message_keys = st.sampled_from(["guid", "isFromMe", "error", "dateCreated", "dateDelivered", "dateRead", "text"])
messages = st.dictionaries(message_keys, json_values | st.integers() | st.floats(allow_nan=False), max_size=7)
types = st.sampled_from(["new-message", "updated-message", "message-send-error", "typing-indicator", "x"]) | st.text()


def outcome(body: bytes) -> list[ReceiptEvent] | str:
    try:
        events = parse_webhook(body)
    except ValueError as exc:
        return str(exc)
    for event in events:
        assert event.provider_message_id and isinstance(event.provider_message_id, str)
        event.provider_message_id.encode()  # well-formed text: the database can bind it
        assert 2001 <= event.at.year <= 2200
    return events


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes(body: bytes) -> None:
    outcome(body)


@settings(max_examples=600, deadline=None)
@given(types, messages | json_values)
def test_bluebubbles_shaped_payloads(event_type: str, data: Any) -> None:
    outcome(json.dumps({"type": event_type, "data": data}).encode())


def test_hostile_numbers_are_not_dates() -> None:
    for body in (b'{"type":"updated-message","data":{"guid":"g","dateDelivered":NaN}}', b'{"type": Infinity}'):
        assert isinstance(outcome(body), str)
    for value in (1e300, -1, 0, 10**20, True, "1700000000000", float("inf")):
        assert from_ms(value) is None
    assert from_ms(1_700_000_000_000) is not None
    nested = b'{"type":"updated-message","data":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert isinstance(outcome(nested), str | list)


def test_lone_surrogates_are_not_text() -> None:
    # valid JSON that Python decodes to a lone surrogate; binding it in the lookup was a 500
    for guid in (rb'"g\ud800"', rb'"\udfff"'):
        body = b'{"type":"updated-message","data":{"guid":' + guid + b',"dateDelivered":1700000000000}}'
        assert "surrogate" in outcome(body)
