"""The console's session codec and redirect rule, without a server."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import Response

from voicememo.console.routes.auth import safe_next
from voicememo.console.session import COOKIE, Session, SessionCodec, csrf_matches, new_session, signed_in_as


def request_with(cookie: str | None, scheme: str = "http") -> Request:
    headers = [(b"cookie", f"{COOKIE}={cookie}".encode())] if cookie else []
    return Request({"type": "http", "method": "GET", "path": "/console", "headers": headers, "scheme": scheme,
                    "server": ("example.org", 443 if scheme == "https" else 80), "query_string": b""})  # fmt: skip


def written(codec: SessionCodec, session: Session, scheme: str = "http") -> tuple[str, str]:
    response = Response()
    codec.write(response, request_with(None, scheme), session)
    header = response.headers["set-cookie"]
    return header.split(";", 1)[0].split("=", 1)[1], header


def test_a_session_round_trips_and_a_forged_one_is_none() -> None:
    codec = SessionCodec(b"server key")
    session = signed_in_as(new_session(), "key-id")
    value, header = written(codec, session)
    assert codec.read(request_with(value)) == session
    assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/console" in header
    assert "Secure" not in header
    assert "Secure" in written(codec, session, "https")[1]
    # a changed signature character (not the last: its low bits carry nothing, so A and B decode alike)
    forged = value[:-5] + ("A" if value[-5] != "A" else "B") + value[-4:]
    assert codec.read(request_with(forged)) is None
    assert SessionCodec(b"another server key").read(request_with(value)) is None
    assert codec.read(request_with("garbage")) is None


def test_signing_in_changes_the_csrf_token() -> None:
    anonymous = new_session()
    signed = signed_in_as(anonymous, "key-id")
    assert signed.csrf != anonymous.csrf
    assert csrf_matches(signed, signed.csrf)
    assert not csrf_matches(signed, anonymous.csrf)
    assert not csrf_matches(signed, None) and not csrf_matches(None, signed.csrf)


def test_the_operator_fingerprint_follows_the_token() -> None:
    codec = SessionCodec(b"server key")
    assert codec.operator_fingerprint("a") == codec.operator_fingerprint("a") != codec.operator_fingerprint("b")
    assert "secret-admin-token" not in codec.operator_fingerprint("secret-admin-token")
    assert SessionCodec(b"other key").operator_fingerprint("a") != codec.operator_fingerprint("a")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/console/webhooks", "/console/webhooks"),
        ("/console/chats?q=555", "/console/chats?q=555"),
        (None, "/console/chats"),
        ("https://evil.example/console/", "/console/chats"),
        ("//evil.example/console/", "/console/chats"),
        ("/console\\@evil", "/console/chats"),
        ("/v3/chats", "/console/chats"),
    ],
)
def test_after_sign_in_only_console_paths(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected
