"""BlueBubbles messages (its Message serialisation) read as receipts.

Dates are epoch milliseconds or null. ``dateDelivered`` / ``dateRead`` belong to the message as
a whole (BlueBubbles reports ``dateRead`` for 1:1 chats only), so the receipts carry no
handle: they count for every recipient. ``error > 0`` on our outgoing message means the Mac
gave up on it. Webhooks POST ``{type, data}``; only our own outgoing messages matter here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from voicememo.domain.text import lone_surrogate_at
from voicememo.senders.base import ReceiptEvent, ReceiptKind

#: the events we ask BlueBubbles to push
EVENTS = ("new-message", "updated-message", "message-send-error")
#: error codes documented by BlueBubbles' clients (anything else is quoted as a number)
_ERRORS = {4: "the send timed out"}


#: epoch milliseconds we take as a date: after 2001 (Apple's epoch) and before 2200
_MS_RANGE = (978_307_200_000, 7_258_118_400_000)


def from_ms(value: Any) -> datetime | None:
    """A BlueBubbles date, or None for null, 0 and anything that is not a plausible epoch-ms number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not _MS_RANGE[0] <= value <= _MS_RANGE[1]:
        return None
    return datetime.fromtimestamp(value / 1000, UTC)


def error_reason(code: int) -> str:
    known = _ERRORS.get(code)
    return f"the Mac reported error {code}" + (f" ({known})" if known else "")


def receipts_of(message: dict[str, Any]) -> list[ReceiptEvent]:
    guid = message.get("guid")
    if not isinstance(guid, str) or not guid or message.get("isFromMe") is False:
        return []
    events = []
    error = message.get("error")
    if isinstance(error, int) and not isinstance(error, bool) and error > 0:
        at = from_ms(message.get("dateCreated")) or datetime.now(UTC)
        events.append(ReceiptEvent(guid, ReceiptKind.FAILED, at, reason=error_reason(error)))
    delivered = from_ms(message.get("dateDelivered"))
    if delivered is not None:
        events.append(ReceiptEvent(guid, ReceiptKind.DELIVERED, delivered))
    read = from_ms(message.get("dateRead"))
    if read is not None:
        events.append(ReceiptEvent(guid, ReceiptKind.READ, read))
    return events


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_webhook(body: bytes) -> list[ReceiptEvent]:
    """Receipts in one webhook POST; ValueError when it is not ``{type, data}`` JSON."""
    try:
        event = json.loads(body, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError("the body is not JSON") from exc
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ValueError("expected an object with a string 'type'")
    where = lone_surrogate_at(event)
    if where is not None:
        raise ValueError(f"a string in it ({where}) holds a lone UTF-16 surrogate, which is not valid text")
    data = event.get("data")
    if event["type"] not in EVENTS or not isinstance(data, dict):
        return []  # typing indicators, group changes, …: nothing about our receipts
    return receipts_of(data)
