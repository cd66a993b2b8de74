"""The gate every route's input passes before FastAPI reads it: one place, for every route.

- Path and query parameters must be UTF-8 once percent-decoded: Starlette would quietly turn
  ``%ED%A0%80`` (an encoded lone surrogate) into U+FFFD and the request would fail later, obscurely.
- A route that takes a JSON body reads it here, capped at ``JSON_BODY_MAX_BYTES`` (by Content-Length,
  and counted as it streams, so a chunked body is capped too): 413/5001. It must be UTF-8 JSON: 400/1003.
- No string in it, key or value, may hold a lone UTF-16 surrogate. Python's ``json`` accepts
  ``"\\ud800"``, but nothing downstream can encode it (the database, httpx, the IDNA codec): 400/1005,
  naming the field.

Routes that stream a body of their own (uploads, provider hooks) declare no JSON body and keep their
own limits. Every route is a :class:`GuardedRoute`; a test holds the app to that.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from email.message import Message as MimeMessage
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Scope

from voicememo.domain.text import has_lone_surrogate, lone_surrogate_at, nul_at
from voicememo.errors import InvalidJson, InvalidParameter, PayloadTooLarge

_NOT_UNICODE = "it contains a lone UTF-16 surrogate (such as \\ud800), which is not valid Unicode text"


class GuardedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes_json = self.body_field is not None

        async def guarded(request: Request) -> Response:
            check_url_text(request.scope)
            if takes_json:
                request = await _checked_json(request)
            return await handler(request)

        return guarded


def check_url_text(scope: Scope) -> None:
    raw_path = scope.get("raw_path")
    path_ok = _is_utf8(raw_path) if isinstance(raw_path, bytes) else not has_lone_surrogate(scope["path"])
    if not path_ok:
        raise InvalidParameter("The URL path is not valid UTF-8 once percent-decoded; " + _NOT_UNICODE + ".")
    if "\x00" in scope["path"]:  # no id holds one, and PostgreSQL cannot even compare text with it
        raise InvalidParameter("The URL path holds a NUL character (%00); no id contains one.")
    for pair in bytes(scope.get("query_string", b"")).split(b"&"):
        name, _, value = pair.partition(b"=")
        if not _is_utf8(name):
            raise InvalidParameter("A query parameter name is not valid UTF-8 once percent-decoded.")
        if not _is_utf8(value):
            label = unquote_to_bytes(name.replace(b"+", b" ")).decode()
            raise InvalidParameter(f"Query parameter {label!r} is not valid UTF-8 once percent-decoded.")


def _is_utf8(encoded: bytes) -> bool:
    try:
        unquote_to_bytes(encoded.replace(b"+", b" ")).decode("utf-8")  # strict: refuses encoded surrogates
    except UnicodeDecodeError:
        return False
    return True


async def _checked_json(request: Request) -> Request:
    limit: int = request.app.state.container.settings.json_body_max_bytes
    body = await _read_capped(request, limit)
    if not body or not _is_json(request.headers.get("content-type")):
        return _ReadRequest(request.scope, body, None)  # FastAPI refuses these as it always has
    return _ReadRequest(request.scope, body, _parse(body))


async def _read_capped(request: Request, limit: int) -> bytes:
    too_large = PayloadTooLarge(f"The request body is larger than {limit:,} bytes, the limit for JSON bodies.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _is_json(content_type: str | None) -> bool:
    """FastAPI's own rule for which bodies it decodes as JSON."""
    if not content_type:
        return False
    mime = MimeMessage()
    mime["content-type"] = content_type
    subtype = mime.get_content_subtype()
    return mime.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _parse(body: bytes) -> Any:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidJson(f"The request body is not valid UTF-8 (byte {exc.start}); JSON must be UTF-8.") from exc
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise InvalidJson(f"The request body is not valid JSON: {exc.msg} ({where}).") from exc
    except (ValueError, RecursionError) as exc:  # a number too long to convert, nesting too deep, NaN
        raise InvalidJson(f"The request body is not valid JSON: {exc}.") from exc
    _refuse_unstorable(value)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _refuse_unstorable(value: Any) -> None:
    where = lone_surrogate_at(value)
    if where is not None:
        _refuse_at(where, _NOT_UNICODE)
    where = nul_at(value)
    if where is not None:
        _refuse_at(where, "holds a NUL character (\\u0000), which text may not contain; remove it")


def _refuse_at(where: str, why: str) -> None:
    if where.endswith("{}"):
        raise InvalidParameter(f"A field name in {where[:-2] or 'the request body'}: {why}.")
    raise InvalidParameter(f"{where or 'The request body'}: {why}.")


class _ReadRequest(Request):
    """The request as FastAPI sees it once read here: the same body, parsed once."""

    def __init__(self, scope: Scope, body: bytes, parsed: Any) -> None:
        super().__init__(scope, self._replay)
        self._read_body = body
        self._parsed = parsed

    async def _replay(self) -> Message:
        return {"type": "http.request", "body": self._read_body, "more_body": False}

    async def body(self) -> bytes:
        return self._read_body

    async def json(self) -> Any:
        return self._parsed
