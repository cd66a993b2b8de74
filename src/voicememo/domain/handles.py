"""Handles (E.164 numbers and e-mail addresses) and how a chat's service follows from them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from voicememo.domain.models import Service
from voicememo.errors import InvalidParameter, InvalidPhoneNumber

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
#: no white space and no control characters (C0, DEL, C1) anywhere in an address
_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f\x7f-\x9f]{1,64}@[^@\s\x00-\x1f\x7f-\x9f]{1,255}\.[^@\s.\x00-\x1f\x7f-\x9f]{2,63}$"
)


def is_e164(value: str) -> bool:
    return bool(E164.fullmatch(value))


def require_e164(value: str, what: str = "phone number") -> str:
    if not is_e164(value):
        raise InvalidPhoneNumber(
            f"{what} {value!r} is not in E.164 format: use a plus sign, country code and number, "
            "digits only, e.g. +14155550123."
        )
    return value


#: control, format (U+200B, U+202E …), surrogate, private-use and unassigned code points: a handle
#: holding one looks like another address on screen, or is not one at all
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn"}


def normalize_handle(value: str) -> str:
    """An E.164 number as given, or an e-mail address lower-cased; anything else is refused."""
    value = value.strip()
    hidden = next((ch for ch in value if unicodedata.category(ch) in _INVISIBLE), None)
    if hidden is not None:
        raise InvalidParameter(
            f"handle {value!r} contains an invisible or control character (U+{ord(hidden):04X}); "
            "send the address as plain text."
        )
    if "@" not in value and (value.startswith("+") or value[:1].isdigit()):  # 123abc@x.com is an address
        return require_e164(value, "handle")
    if _EMAIL.fullmatch(value):
        return value.lower()
    raise InvalidParameter(
        f"handle {value!r} is neither an E.164 phone number (e.g. +14155550123) nor an e-mail address."
    )


def chat_service(recipient_services: Iterable[Service]) -> Service:
    """A chat runs on iMessage only if every recipient is on iMessage; else the weakest common service."""
    services = set(recipient_services)
    if Service.SMS in services:
        return Service.SMS
    if Service.RCS in services:
        return Service.RCS
    return Service.IMESSAGE
