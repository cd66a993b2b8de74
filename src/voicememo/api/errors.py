"""Every error leaves the API here, in the contract's envelope, with X-Trace-ID."""

from __future__ import annotations

import json
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Scope

from voicememo.api.trace import current_trace_id
from voicememo.errors import (
    BadRequest,
    InternalError,
    InvalidJson,
    InvalidParameter,
    MissingField,
    NotFound,
    RateLimited,
    StorageUnavailable,
    VoicememoError,
)
from voicememo.storage.blobs import BlobStoreError

log = structlog.get_logger("voicememo.api")

_TYPE_ERRORS = ("_type", "_parsing")
_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def error_body(exc: VoicememoError, trace_id: str, doc_base: str) -> dict[str, Any]:
    error: dict[str, Any] = {
        "status": exc.status,
        "code": exc.code,
        "message": exc.message,
        "doc_url": f"{doc_base}/errors/{exc.code}",
    }
    if isinstance(exc, RateLimited):
        error["retry_after"] = exc.retry_after
    return {"success": False, "error": error, "trace_id": trace_id}


def error_response(exc: VoicememoError, doc_base: str, headers: dict[str, str] | None = None) -> Response:
    trace_id = current_trace_id()
    headers = {**(headers or {}), "X-Trace-ID": trace_id}
    if exc.should_retry is not None:
        headers["x-should-retry"] = "true" if exc.should_retry else "false"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    body = json.dumps(error_body(exc, trace_id, doc_base), separators=(",", ":"))
    return Response(body, status_code=exc.status, headers=headers, media_type="application/json")


def from_validation(exc: RequestValidationError) -> VoicememoError:
    """Map FastAPI/pydantic validation errors to the contract's 1001 / 1003 / 1005."""
    first = exc.errors()[0] if exc.errors() else {}
    kind = str(first.get("type", ""))
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = _field_name(loc)
    if kind == "json_invalid":
        return InvalidJson("The request body is not valid JSON.")
    if kind == "missing":
        return MissingField(f"{field} is required." if field else "The request body is required.")
    if kind == "model_attributes_type" or (kind == "dict_type" and not field):
        return InvalidJson("The request body must be a JSON object.")
    if kind.endswith(_TYPE_ERRORS) or kind in ("dict_type", "list_type"):
        return InvalidJson(f"{field} has the wrong type: {first.get('msg', 'invalid value')}.")
    return InvalidParameter(f"{field}: {first.get('msg', 'invalid value')}." if field else str(first.get("msg")))


def _field_name(loc: list[str]) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if part.isdigit() else (f".{part}" if name else part)
    return name


def allowed_methods(app: ASGIApp, scope: Scope) -> list[str]:
    """Every method some route takes on this path. Starlette's 405 names only the first route's, and
    a path such as /v3/chats is two routes (GET and POST)."""
    router = getattr(app, "router", None)
    routes: list[BaseRoute] = list(getattr(router, "routes", []))
    where = {"type": "http", "path": scope["path"], "root_path": scope.get("root_path", ""), "headers": []}

    def takes(method: str) -> bool:  # a fresh scope per probe: matching may write into it
        return any(route.matches({**where, "method": method})[0] is Match.FULL for route in routes)

    return [method for method in _METHODS if takes(method)]


def install(app: FastAPI, doc_base: str) -> None:
    @app.exception_handler(VoicememoError)
    async def _ours(_request: Request, exc: VoicememoError) -> Response:
        if exc.status >= 500:
            log.error("request_failed", action="error", code=exc.code, message=exc.message)
        return error_response(exc, doc_base)

    @app.exception_handler(BlobStoreError)
    async def _store(_request: Request, exc: BlobStoreError) -> Response:
        # the store's own words (bucket, key, its error code) go to the log; the caller learns what it can do
        log.error("blob_store_failed", action="error", reason=str(exc))
        unavailable = StorageUnavailable(
            "The file store did not answer or refused the request; nothing was stored. Try again shortly."
        )
        return error_response(unavailable, doc_base)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        return error_response(from_validation(exc), doc_base)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = None
        if exc.status_code == 404:
            mapped: VoicememoError = NotFound("No such endpoint.")
        elif exc.status_code == 405:
            allowed = allowed_methods(request.app, request.scope)
            mapped = BadRequest(f"{request.method} is not allowed here; this path accepts {', '.join(allowed)}.")
            mapped.status = 405
            headers = {"Allow": ", ".join(allowed)}
        else:
            mapped = BadRequest(str(exc.detail))
            mapped.status = exc.status_code
        return error_response(mapped, doc_base, headers)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, _exc: ClientDisconnect) -> Response:
        # The client hung up before its body was complete (a cut upload, a killed script): not our fault,
        # nothing to trace back. Whatever was being read is abandoned; the response reaches no one.
        log.info("client_disconnected", action="abandoned", method=request.method, path=request.url.path)
        return error_response(BadRequest("The connection closed before the request body was complete."), doc_base)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        # Only reached from outside GuardMiddleware; the server drops the connection after this
        # response, so say so rather than leave the client's next request to fail on it.
        log.exception("unexpected_error", action="error")
        response = error_response(InternalError("Internal error; it has been logged with this trace_id."), doc_base)
        response.headers["Connection"] = "close"
        return response
