"""HTTP calls to a BlueBubbles server, its response envelope, and its errors mapped to ours.

BlueBubbles authenticates with a ``password`` query parameter, so every message that could
carry a URL is passed through :func:`redact` and the password itself never enters one. The
server's URL is an operator's LAN or tunnel address (not the public-internet fetch guard's
business), but redirects from it are never followed: they would carry the password along.

Envelope (from its source): success ``{status, message, data?, metadata?}``; error
``{status, message, error: {type, message}, data?}``; an unknown route is Koa's plain-text
404 "Not Found".
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from voicememo.senders.base import SenderUnavailable, SendRejected

_SECRET_PARAM = re.compile(r"(?i)\b(password|guid|token)=[^&\s'\"]*")


def redact(text: str, secret: str | None = None) -> str:
    """The text without the password, whether it appears as a query parameter or verbatim."""
    text = _SECRET_PARAM.sub(r"\1=***", text)
    return text.replace(secret, "***") if secret else text


class RedactQueryPasswords(logging.Filter):
    """httpx logs every request's URL at INFO, query string and all: hide the password in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        # redact the formatted message: a placeholder in the template (``?password=%s``) must not be
        # redacted away from its argument, or formatting the record fails and the line is lost
        message = record.getMessage()
        if _SECRET_PARAM.search(message):
            record.msg, record.args = redact(message), ()
        return True


def guard_http_logs() -> None:
    """Put the redacting filter on httpx's logger once (whoever configures logging, at any level)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactQueryPasswords) for f in logger.filters):
        logger.addFilter(RedactQueryPasswords())


class ProviderNotFound(SendRejected):
    """BlueBubbles answered 404 (an unknown chat or message, or no such route)."""


class ProviderFailed(SenderUnavailable):
    """BlueBubbles answered 5xx; ``data`` holds the message it attached, if any (it may carry an error code)."""

    def __init__(self, message: str, data: Any) -> None:
        super().__init__(message)
        self.data = data


class PrivateApiUnavailable(SendRejected):
    """The Mac cannot make a bubble: Private API off, or its helper not connected."""


PRIVATE_API_OFF = (
    "The Mac's BlueBubbles Private API is off, so it cannot send a voice-memo bubble (AppleScript never sets "
    "the audio-message flag): turn it on in BlueBubbles → Settings → Private API (this needs System Integrity "
    "Protection partly disabled, see the BlueBubbles Private API guide), then run `voicememo lines check`."
)
HELPER_DISCONNECTED = (
    "The Mac's BlueBubbles Private API helper is not connected to Messages, so it cannot send a voice-memo "
    "bubble: restart Messages.app (or the Mac), check BlueBubbles → Settings → Private API shows it connected, "
    "then run `voicememo lines check`."
)


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def error_message(self) -> str:
        error = self.body.get("error")
        detail = error.get("message") if isinstance(error, dict) else None
        return str(detail or self.body.get("message") or f"HTTP {self.status}")


class BlueBubblesClient:
    def __init__(self, url: str, password: str, *, timeout: float) -> None:
        self.url = url
        self._password = password
        guard_http_logs()
        self._http = httpx.AsyncClient(
            base_url=url, timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), trust_env=False
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Reply:
        return await self._call("GET", path, params=params)

    async def post(self, path: str, body: dict[str, Any]) -> Reply:
        return await self._call("POST", path, json=body)

    async def delete(self, path: str) -> Reply:
        return await self._call("DELETE", path)

    async def post_file(
        self, path: str, fields: dict[str, str], file_field: str, file: Path, filename: str, mime: str, seconds: float
    ) -> Reply:
        """A multipart upload; ``seconds``: its own read timeout (the Mac may hold a send for minutes)."""
        with file.open("rb") as fh:
            return await self._call(
                "POST", path, data=fields, files={file_field: (filename, fh, mime)}, timeout=seconds
            )

    async def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None, **kw: Any) -> Reply:
        where = f"{method} {path}"
        query = {**(params or {}), "password": self._password}
        try:
            response = await self._http.request(method, path, params=query, follow_redirects=False, **kw)
        except httpx.TimeoutException as exc:
            raise SenderUnavailable(
                f"The BlueBubbles server at {self.url} did not answer {where} in time ({type(exc).__name__})."
            ) from None
        except httpx.HTTPError as exc:
            reason = redact(str(exc) or type(exc).__name__, self._password)
            raise SenderUnavailable(f"Cannot reach the BlueBubbles server at {self.url} ({where}): {reason}") from None
        return self._reply(where, response)

    def _reply(self, where: str, response: httpx.Response) -> Reply:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {"message": redact(response.text[:200], self._password)}
        reply = Reply(status, body)
        if 200 <= status < 300:
            return reply
        detail = redact(reply.error_message, self._password)
        if 300 <= status < 400:
            target = redact(response.headers.get("location", "?").split("?", 1)[0], self._password)
            raise SendRejected(
                f"The BlueBubbles server at {self.url} answered {where} with a redirect to {target}; redirects are "
                "not followed (they would carry the password): set the final address with "
                "`voicememo lines update NUMBER --bluebubbles-url URL`."
            )
        if status == 401:
            raise SendRejected(
                f"The BlueBubbles server at {self.url} refused the password ({detail}): set the server's password "
                "with `voicememo lines update NUMBER --bluebubbles-password-file FILE`."
            )
        if status == 404:
            raise ProviderNotFound(f"BlueBubbles answered {where} with 404: {detail}")
        if "Private API is not enabled" in detail:
            raise PrivateApiUnavailable(PRIVATE_API_OFF)
        if "Helper is not connected" in detail:
            raise PrivateApiUnavailable(HELPER_DISCONNECTED)
        if status in (400, 403, 413, 422):
            raise SendRejected(f"BlueBubbles refused {where} ({status}): {detail}")
        raise ProviderFailed(f"BlueBubbles failed on {where} ({status}): {detail}", reply.data)
