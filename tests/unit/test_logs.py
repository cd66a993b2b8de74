"""The log pipeline: one line per record whoever logs it, the trace id bound, secrets redacted.

The redaction is the safety net behind "never log a secret": here secrets are logged on purpose, as
fields, inside messages, in URLs and in an exception, through structlog and the standard library.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from voicememo.logs import _QUIET, _UVICORN, configure_logging
from voicememo.redact import _PATTERNS, REDACTED, scrub

API_KEY = "vm_Zq3xY8bK2mN5pR7tV9wA1cE4gH6jL0oS"
WEBHOOK_SECRET = "whsec_dGhpcyBpcyBhIHdlYmhvb2sgc2VjcmV0IQ=="
PASSWORD = "hunter2-on-the-mac"
SIGNATURE = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SECRETS = (API_KEY, WEBHOOK_SECRET, PASSWORD, SIGNATURE, "dGhpcyBpcyBhIHdlYmhvb2sgc2VjcmV0IQ")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """This process's logging, configured onto a buffer for the test and put back after."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {name: logging.getLogger(name) for name in (*_QUIET, *_UVICORN)}
    before = {name: (lg.level, lg.propagate, list(lg.handlers)) for name, lg in named.items()}
    buffer = io.StringIO()
    try:
        yield buffer
    finally:
        structlog.configure(**saved)
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        for name, (was, propagate, had) in before.items():
            named[name].setLevel(was)
            named[name].propagate = propagate
            named[name].handlers[:] = had
        logging.captureWarnings(False)


class Typed(str):
    """A text of a str subclass (an enum's value, a URL type): scrubbed like any other."""


def log_everything_secret() -> None:
    log = structlog.get_logger("test.secrets")
    structlog.contextvars.bind_contextvars(trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    try:
        log.info("with_fields", api_key=API_KEY, password=PASSWORD, webhook_secret=WEBHOOK_SECRET, kept="visible")
        log.info(
            "in_text",
            detail=f"called with {API_KEY} and signed {WEBHOOK_SECRET}",
            headers={"Authorization": f"Bearer {API_KEY}"},
            typed=Typed(f"https://mac.local/api/v1/ping?password={PASSWORD}"),
        )
        log.warning("a_url", url=f"https://bucket.s3.amazonaws.com/m.mp3?X-Amz-Signature={SIGNATURE}&X-Amz-Expires=300")
        logging.getLogger("httpx").warning("HTTP Request: GET http://mac.local/api/v1/ping?password=%s", PASSWORD)
        logging.getLogger("uvicorn.error").info("Uvicorn says hello")
        try:
            raise RuntimeError(f"upload to https://x/uploads/a?token={SIGNATURE} failed with password={PASSWORD}")
        except RuntimeError:
            log.exception("it_broke")
            logging.getLogger("voicememo.stdlib").exception("it broke in the standard library too")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("a library's warning", UserWarning, stacklevel=1)
    finally:
        structlog.contextvars.unbind_contextvars("trace_id")


def test_json_logs_are_one_object_per_line_with_secrets_redacted(captured: io.StringIO) -> None:
    configure_logging("json", stream=captured)
    log_everything_secret()
    text = captured.getvalue()
    records = [json.loads(line) for line in text.splitlines()]
    assert all(isinstance(r, dict) for r in records)
    by_event = {r["event"]: r for r in records}
    assert by_event["with_fields"]["api_key"] == REDACTED and by_event["with_fields"]["password"] == REDACTED
    assert by_event["with_fields"]["kept"] == "visible"
    assert by_event["Uvicorn says hello"]["logger"] == "uvicorn.error"
    assert all(r.get("trace_id") == "4bf92f3577b34da6a3ce929d0e0e4736" for r in records)
    assert "RuntimeError" in by_event["it_broke"]["exception"]
    assert "RuntimeError" in by_event["it broke in the standard library too"]["exception"]
    assert any("a library's warning" in r["event"] for r in records)
    assert len(records) == 8
    assert [s for s in SECRETS if s in text] == []


def test_console_logs_are_redacted_too(captured: io.StringIO) -> None:
    configure_logging("console", stream=captured)
    log_everything_secret()
    text = captured.getvalue()
    assert "with_fields" in text and "Uvicorn says hello" in text and "RuntimeError" in text
    assert [s for s in SECRETS if s in text] == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key {API_KEY} used", "key vm_[redacted] used"),
        (f"https://h/u/1?token={SIGNATURE}&x=1", "https://h/u/1?token=[redacted]&x=1"),
        (
            "https://h/a?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12",
            "https://h/a?X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted]",
        ),
        ("GET /api/v1/ping?guid=s3cret HTTP/1.1", "GET /api/v1/ping?guid=[redacted] HTTP/1.1"),
        ('{"password": "p@ss"}', '{"password": "[redacted]"}'),
        ("Authorization: Bearer abcdef123456", "Authorization: Bearer [redacted]"),
        ("job 42 finished in 3 ms for chat 7e1d", "job 42 finished in 3 ms for chat 7e1d"),
    ],
)
def test_scrub_by_value_pattern(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_the_bluebubbles_filter_keeps_a_placeholder_with_its_argument(captured: io.StringIO) -> None:
    """httpx's redacting filter once cut ``?password=%s`` from its argument: formatting failed, the line was lost."""
    from voicememo.senders.bluebubbles.client import guard_http_logs

    configure_logging("json", stream=captured)
    guard_http_logs()
    logging.getLogger("httpx").warning("HTTP Request: GET http://mac.local/api/v1/ping?password=%s", PASSWORD)
    (record,) = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert record["event"].startswith("HTTP Request: GET http://mac.local/api/v1/ping?password=")
    assert PASSWORD not in captured.getvalue()


_PIECES = [
    "vm_",
    "whsec_",
    "Bearer ",
    "bEaReR\t",
    "BEARER  ",
    "?",
    "&",
    ";",
    "token=",
    "sig=",
    "Password",
    '": "',
    "=",
    ":",
    " ",
    "x" * 9,
]


@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=12), max_size=12).map("".join))
def test_the_one_pass_check_never_lets_a_secret_through(text: str) -> None:
    """scrub() skips values that no pattern can match (a test for the characters every pattern needs,
    then one combined search): it must redact exactly what the five patterns applied one after another do."""
    expected = text
    for pattern in _PATTERNS:
        expected = pattern.sub(lambda m: m.group(1) + REDACTED, expected)
    assert scrub(text) == expected
