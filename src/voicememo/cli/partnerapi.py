"""A small Partner API v3 client for `voicememo send`: the calls it makes, errors as plain values.

httpx directly rather than the linq SDK: the SDK is a test dependency only, it retries POSTs with
no idempotency key, and the pre-upload PUT (a signed URL, no API key) is not its job anyway. Every
POST here carries an ``Idempotency-Key``, so retrying one after a lost answer never acts twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

#: the linq SDK's own default (linq/_client.py) when LINQ_API_V3_BASE_URL is unset
DEFAULT_BASE_URL = "https://api.linqapp.com/api/partner"
CHUNK = 256 * 1024
_RETRYABLE = {408, 409, 429, 500, 502, 503, 504}


class ApiError(Exception):
    """The server answered with its error body: what it said, in its own words and code."""

    def __init__(self, status: int, code: int | None, message: str, trace_id: str | None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.trace_id = status, code, message, trace_id

    def __str__(self) -> str:
        code = f"/{self.code}" if self.code is not None else ""
        return f"{self.status}{code} {self.message}"


class Unreachable(Exception):
    """No answer from the server: refused, timed out, DNS, TLS."""


@dataclass(frozen=True)
class Upload:
    attachment_id: str
    upload_url: str
    required_headers: dict[str, str]
    #: the server replayed an earlier answer for this idempotency key (a re-run)
    replayed: bool = False


class PartnerApi:
    """One session against ``base_url`` (``http://host:port`` or ``…/api/partner``)."""

    def __init__(self, base_url: str, api_key: str, *, retries: int = 2, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "voicememo-send"},
            timeout=httpx.Timeout(timeout, connect=10.0),
        )
        self._plain = httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0))

    def close(self) -> None:
        self._http.close()
        self._plain.close()

    # ---- the calls ---------------------------------------------------------------------------------

    def lines(self) -> list[str]:
        return [n["phone_number"] for n in self._json("GET", "/v3/phone_numbers")["phone_numbers"]]

    def find_chat(self, line: str, handles: list[str]) -> dict[str, Any] | None:
        """The active chat from ``line`` with exactly ``handles`` (compared as the server normalises them)."""
        wanted = {normal(h) for h in handles}
        params: dict[str, str | int] = {"from": line, "to": handles[0], "limit": 100}
        while True:
            page = self._json("GET", "/v3/chats", params=params)
            for chat in page["chats"]:
                me = [h for h in chat["handles"] if h["is_me"]]
                others = {normal(h["handle"]) for h in chat["handles"] if not h["is_me"] and h["status"] == "active"}
                if others == wanted and me and me[0]["status"] == "active":
                    return dict(chat)
            if not page.get("next_cursor"):
                return None
            params["cursor"] = page["next_cursor"]

    def create_chat(self, line: str, handles: list[str], text: str, key: str) -> dict[str, Any]:
        body = {"from": line, "to": handles, "message": {"parts": [{"type": "text", "value": text}]}}
        return dict(self._json("POST", "/v3/chats", json=body, key=key)["chat"])

    def create_attachment(self, filename: str, content_type: str, size: int, key: str) -> Upload:
        body = {"filename": filename, "content_type": content_type, "size_bytes": size}
        made, replayed = self._post("/v3/attachments", body, key)
        return Upload(made["attachment_id"], made["upload_url"], dict(made["required_headers"]), replayed)

    def attachment_status(self, attachment_id: str) -> str:
        return str(self._json("GET", f"/v3/attachments/{attachment_id}")["status"])

    def upload(self, slot: Upload, path: Path, size: int, advance: Callable[[int], None]) -> None:
        """PUT the file to the signed URL with exactly its required headers, streamed in chunks."""
        headers = {**slot.required_headers, "Content-Length": str(size)}

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as f:
                while chunk := f.read(CHUNK):
                    yield chunk
                    advance(len(chunk))

        try:  # not retried: a signed URL takes its bytes once; a retry would need a new slot
            answer = self._plain.put(slot.upload_url, content=chunks(), headers=headers)
        except httpx.TransportError as exc:
            raise Unreachable(describe(exc, slot.upload_url)) from exc
        if answer.status_code >= 400:
            raise error_of(answer)

    def send_voicememo(self, chat_id: str, attachment_id: str, key: str) -> tuple[dict[str, Any], bool]:
        """The accepted memo, and whether it was accepted by an earlier run with this key (not sent again)."""
        made, replayed = self._post(f"/v3/chats/{chat_id}/voicememo", {"attachment_id": attachment_id}, key)
        return dict(made["voice_memo"]), replayed

    def message(self, message_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/v3/messages/{message_id}"))

    # ---- the plumbing ------------------------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any], key: str) -> tuple[Any, bool]:
        answer = self._call("POST", path, key=key, json=body)
        return answer.json(), answer.headers.get("idempotent-replayed") == "true"

    def _json(self, method: str, path: str, *, key: str | None = None, **kwargs: Any) -> Any:
        return self._call(method, path, key=key, **kwargs).json()

    def _call(self, method: str, path: str, *, key: str | None = None, **kwargs: Any) -> httpx.Response:
        """One call, retried on what says "try again" (and only with a key when it is a POST)."""
        headers = {"Idempotency-Key": key} if key else {}
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                answer = self._http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                if last or (method == "POST" and key is None):
                    raise Unreachable(describe(exc, self.base_url)) from exc
                time.sleep(0.25 * 2**attempt)
                continue
            if answer.status_code < 400:
                return answer
            if last or not _should_retry(answer):
                raise error_of(answer)
            time.sleep(_retry_after(answer, 0.25 * 2**attempt))
        raise AssertionError("unreachable")


def _should_retry(answer: httpx.Response) -> bool:
    told: str | None = answer.headers.get("x-should-retry")
    if told is not None:
        return told == "true"
    return answer.status_code in _RETRYABLE


def _retry_after(answer: httpx.Response, default: float) -> float:
    try:
        return min(float(answer.headers.get("retry-after", default)), 30.0)
    except ValueError:
        return default


def error_of(answer: httpx.Response) -> ApiError:
    """The contract's error body (``{"error": {status, code, message}, "trace_id"}``), or what came instead."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = err.get("code")
        return ApiError(
            answer.status_code,
            code if isinstance(code, int) else None,
            str(err.get("message") or answer.reason_phrase),
            body.get("trace_id") or answer.headers.get("x-trace-id"),
        )
    excerpt = answer.text[:200].strip() or answer.reason_phrase
    return ApiError(answer.status_code, None, excerpt, answer.headers.get("x-trace-id"))


def describe(exc: httpx.TransportError, url: str) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect to {url}: {exc or 'connection refused'}"
    if isinstance(exc, httpx.TimeoutException):
        return f"{url} did not answer in time ({type(exc).__name__})"
    return f"the connection to {url} failed: {exc or type(exc).__name__}"


def normal(handle: str) -> str:
    """A handle as the server stores it: e-mail addresses lower-cased, numbers as given."""
    handle = handle.strip()
    return handle.lower() if "@" in handle else handle
