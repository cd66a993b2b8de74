"""Handles, the sandbox's service rule, filenames."""

from __future__ import annotations

import re

import pytest

from voicememo.domain.filenames import sanitize_filename
from voicememo.domain.handles import chat_service, normalize_handle
from voicememo.domain.models import Service
from voicememo.errors import InvalidParameter, InvalidPhoneNumber
from voicememo.senders.sandbox import sandbox_service


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+14155550123", "+14155550123"),
        (" +442071838750 ", "+442071838750"),
        ("Ana@Example.COM", "ana@example.com"),
        ("123john@example.com", "123john@example.com"),  # an address may start with a digit
        ("+1john@example.com", "+1john@example.com"),
    ],
)
def test_handles_normalised(raw: str, expected: str) -> None:
    assert normalize_handle(raw) == expected


@pytest.mark.parametrize("raw", ["+0123", "14155550123", "+1 415 555 0123", "+1234567890123456"])
def test_bad_numbers(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match=r"E\.164"):
        normalize_handle(raw)


@pytest.mark.parametrize("raw", ["bob", "a@b", "@example.com", "a\x1d@b.co", "a@b.c\x9co", "\x97t@x.com"])
def test_bad_handles(raw: str) -> None:
    with pytest.raises(InvalidParameter):
        normalize_handle(raw)


@pytest.mark.parametrize(
    ("raw", "code_point"),
    [
        ("ana\x00@example.com", "U+0000"),
        ("ana@exa\u202emple.com", "U+202E"),  # right-to-left override: shows another address
        ("an\u200ba@example.com", "U+200B"),  # zero-width space
        ("ana@example.com\ufeff", "U+FEFF"),
        ("\u2066ana@example.com", "U+2066"),
    ],
)
def test_handles_with_invisible_characters_are_refused_naming_them(raw: str, code_point: str) -> None:
    with pytest.raises(InvalidParameter, match=re.escape(f"invisible or control character ({code_point})")):
        normalize_handle(raw)


@pytest.mark.parametrize(
    ("handle", "service"),
    [
        ("a@b.co", Service.IMESSAGE),
        ("+15550001230", Service.IMESSAGE),
        ("+15550001237", Service.IMESSAGE),
        ("+15550001238", Service.RCS),
        ("+15550001239", Service.SMS),
    ],
)
def test_sandbox_service_rule(handle: str, service: Service) -> None:
    assert sandbox_service(handle) is service


def test_chat_service_is_the_weakest_common_one() -> None:
    assert chat_service([Service.IMESSAGE, Service.IMESSAGE]) is Service.IMESSAGE
    assert chat_service([Service.IMESSAGE, Service.RCS]) is Service.RCS
    assert chat_service([Service.RCS, Service.SMS, Service.IMESSAGE]) is Service.SMS


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("memo.m4a", "memo.m4a"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\Voice 001.m4a", "Voice 001.m4a"),
        ('a<b>:"c".mp3', "a_b_c_.mp3"),
        ("", "voice-memo.mp3"),
        ("...", "voice-memo.mp3"),
        ("x" * 300 + ".mp3", "x" * 251 + ".mp3"),
    ],
)
def test_filenames(name: str, expected: str) -> None:
    assert sanitize_filename(name, "voice-memo", "mp3") == expected
