"""The fake BlueBubbles server's HTTP API (the routes a sender uses), as an ASGI app.

Documented behaviour it keeps (bluebubbles-server source): the password is a query parameter
(``guid`` ?? ``password`` ?? ``token``; missing: 401 "Missing server password!", wrong: 401
"Unauthorized"); the envelope ``{status, message, data}`` / ``{status, message, error: {type,
message}}``; validator messages ("The chatGuid field is required."); an unknown route is a
plain-text 404 "Not Found"; the attachment route needs ``attachment`` and ``name``, refuses an
AppleScript send without ``tempGuid`` and a tempGuid already in flight, takes
``isAudioMessage`` only as the string "true", answers 500 "Attachment Send Error" when the
Private API is off or its helper is gone, and does not echo ``tempGuid``; AppleScript never
sets the audio flag; chat/new needs a text and the Private API for groups.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from fakebb.state import ALL_EVENTS, FakeMac, Fault, Received

PRIVATE_API = "Please make sure you have completed the setup for the Private API, and your helper is connected!"


def ok(data: Any = None, message: str = "Success", metadata: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"status": 200, "message": message}
    if data is not None:
        body["data"] = data
    if metadata is not None:
        body["metadata"] = metadata
    return JSONResponse(body)


def error(status: int, message: str, error_type: str, detail: str, data: Any = ...) -> JSONResponse:
    body: dict[str, Any] = {"status": status, "message": message, "error": {"type": error_type, "message": detail}}
    if data is not ...:
        body["data"] = data
    return JSONResponse(body, status_code=status)


def bad_request(detail: str) -> JSONResponse:
    return error(400, "You've made a bad request! Please check your request params & body", "Validation Error", detail)


def unhandled(detail: str) -> JSONResponse:
    return error(500, "An unhandled error has occurred!", "Server Error", detail)


def not_found(detail: str) -> JSONResponse:
    return error(404, "The requested resource was not found", "Database Error", detail)


def private_api_problem(mac: FakeMac) -> str | None:
    if not mac.private_api:
        return "iMessage Private API is not enabled!"
    if not mac.helper_connected:
        return "iMessage Private API Helper is not connected!"
    return None


def build_app(mac: FakeMac) -> Starlette:
    async def guarded(request: Request, route: str, handler: Any) -> Response:
        with mac.lock:
            mac.requests.append(f"{request.method} {request.url.path}")
            mac.touch()
        query = request.query_params
        token = query.get("guid") or query.get("password") or query.get("token")
        if token is None:
            return error(
                401,
                "You are not authorized to access this resource",
                "Authentication Error",
                "Missing server password!",
            )
        if token.strip() != mac.password:
            return error(401, "You are not authorized to access this resource", "Authentication Error", "Unauthorized")
        fault = mac.take_fault(route)
        if fault is not None and fault.hang_before:
            await asyncio.sleep(fault.hang_before)
        if fault is not None and not fault.hang_after:
            return error(fault.status, fault.message, fault.error_type, fault.error_message)
        response: Response = await handler(request)
        if fault is not None:
            await asyncio.sleep(fault.hang_after)  # the Mac has it; our answer is late (or never read)
        return response

    def route(path: str, name: str, methods: list[str]) -> Any:
        def wrap(handler: Any) -> Route:
            async def endpoint(request: Request) -> Response:
                return await guarded(request, name, handler)

            return Route(path, endpoint, methods=methods)

        return wrap

    @route("/api/v1/ping", "ping", ["GET"])
    async def ping(_request: Request) -> Response:
        return ok("pong", "Ping received!")

    @route("/api/v1/server/info", "info", ["GET"])
    async def info(_request: Request) -> Response:
        return ok(
            {
                "computer_id": "line@fake-mac",
                "os_version": mac.os_version,
                "server_version": mac.server_version,
                "private_api": mac.private_api,
                "proxy_service": "lan-url",
                "helper_connected": mac.private_api and mac.helper_connected,
                "detected_icloud": mac.detected_imessage,
                "detected_imessage": mac.detected_imessage,
                "macos_time_sync": 0.01,
                "local_ipv4s": ["127.0.0.1"],
                "local_ipv6s": [],
            }
        )

    @route("/api/v1/handle/availability/imessage", "availability", ["GET"])
    async def availability(request: Request) -> Response:
        problem = private_api_problem(mac)
        if problem:
            return error(500, PRIVATE_API, "iMessage Error", problem)
        address = request.query_params.get("address")
        if not address:
            return bad_request("The address field is required.")
        return ok({"available": address.lower() in {h.lower() for h in mac.imessage}})

    @route("/api/v1/chat/new", "chat/new", ["POST"])
    async def chat_new(request: Request) -> Response:
        body = await request.json()
        addresses, message = body.get("addresses"), body.get("message")
        method, service = body.get("method", "apple-script"), body.get("service", "iMessage")
        if not isinstance(addresses, list):
            return bad_request("The addresses field is required.")
        if method not in ("apple-script", "private-api") or service not in ("iMessage", "SMS"):
            return bad_request("The selected method is invalid.")
        if not addresses:
            return unhandled("No addresses provided!")
        if method == "apple-script" and len(addresses) > 1:
            return unhandled("Cannot create group chats on macOS Big Sur or newer!")
        if method == "private-api":
            if private_api_problem(mac):
                return unhandled(private_api_problem(mac) or "")
            if not message:
                return unhandled("A message is required when creating chats with the Private API!")
        chat = mac.add_chat([str(a) for a in addresses], service)
        sent = mac.add_message(chat["guid"], text=message)
        data = {**mac.chat_json(chat), "messages": [{**mac.message_json(sent), "tempGuid": body.get("tempGuid")}]}
        announce(sent, body.get("tempGuid"))
        return ok(data, "Successfully created chat!")

    @route("/api/v1/chat/{guid:path}", "chat", ["GET"])
    async def chat_or_messages(request: Request) -> Response:
        guid = unquote(request.path_params["guid"])
        listing = guid.endswith("/message")
        guid = guid.removesuffix("/message")
        chat = mac.chats.get(guid)
        if chat is None:
            return not_found("Chat does not exist!")
        if not listing:
            return ok(mac.chat_json(chat))
        q = request.query_params
        limit = int(q.get("limit", "100"))
        if not 1 <= limit <= 1000:
            return bad_request("The limit may not be greater than 1000.")
        after = int(q["after"]) if q.get("after") else None
        found = mac.chat_messages(guid, after, limit, q.get("sort", "DESC").upper() == "DESC")
        with_attachments = "attachment" in q.get("with", "").lower()
        data = [mac.message_json(m, attachments=with_attachments) for m in found]
        return ok(data, metadata={"offset": 0, "limit": limit, "total": len(data), "count": len(data)})

    @route("/api/v1/message/query", "query", ["POST"])
    async def query(request: Request) -> Response:
        body = await request.json()
        chat_guid = body.get("chatGuid")
        if chat_guid is not None and chat_guid not in mac.chats:
            return PlainTextResponse("Not Found", status_code=404)  # a Success built but never sent
        limit = int(body.get("limit", 100))
        wanted = [str(w).lower() for w in body.get("with", [])]
        found = mac.chat_messages(chat_guid, body.get("after"), limit, str(body.get("sort", "DESC")).upper() == "DESC")
        data = [
            mac.message_json(
                m, attachments=any(w.startswith("attachment") for w in wanted), chats=any("chat" in w for w in wanted)
            )
            for m in found
        ]
        return ok(data, "Successfully fetched messages!", {"offset": 0, "limit": limit, "total": len(data)})

    @route("/api/v1/message/text", "text", ["POST"])
    async def text(request: Request) -> Response:
        body = await request.json()
        chat_guid, temp, method = body.get("chatGuid"), body.get("tempGuid"), body.get("method", "apple-script")
        if not chat_guid:
            return bad_request("The chatGuid field is required.")
        if "message" not in body:
            return bad_request("The message field must be present (but can be empty).")
        if method not in ("apple-script", "private-api"):
            return bad_request("The selected method is invalid.")
        if method == "apple-script" and not temp:
            return bad_request("A 'tempGuid' is required when sending via AppleScript")
        if temp and temp in mac.in_flight:
            return bad_request(f"Message is already queued to be sent! (Temp GUID: {temp})")
        if method == "private-api" and private_api_problem(mac):
            return error(500, "Message Send Error", "iMessage Error", private_api_problem(mac) or "")
        if chat_guid not in mac.chats:
            return error(500, "Message Send Error", "iMessage Error", "Failed to send message! Chat not found")
        sent = mac.add_message(chat_guid, text=str(body["message"]))
        mac.texts.append({"guid": sent["guid"], **body})
        announce(sent, temp)
        return ok({**mac.message_json(sent), **({"tempGuid": temp} if temp else {})}, "Message sent!")

    @route("/api/v1/message/attachment", "attachment", ["POST"])
    async def attachment(request: Request) -> Response:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        upload = form.get("attachment")
        method, temp = fields.get("method", "apple-script"), fields.get("tempGuid")
        for required in ("chatGuid", "name"):
            if not fields.get(required):
                return bad_request(f"The {required} field is required.")
        if method not in ("apple-script", "private-api"):
            return bad_request("The selected method is invalid.")
        if method == "apple-script" and not temp:
            return bad_request("A 'tempGuid' is required when sending via AppleScript")
        if temp and temp in mac.in_flight:
            return bad_request("Attachment is already queued to be sent!")
        data = await upload.read() if upload is not None and not isinstance(upload, str) else b""
        if not data:
            return bad_request("Attachment not provided or was empty!")
        if method == "private-api" and private_api_problem(mac):
            return error(500, "Attachment Send Error", "iMessage Error", private_api_problem(mac) or "")
        if fields["chatGuid"] not in mac.chats:
            return error(500, "Attachment Send Error", "iMessage Error", "Failed to send attachment! Chat not found")
        audio = method == "private-api" and fields.get("isAudioMessage") == "true"  # AppleScript never sets it
        audio = audio and not mac.drops_audio_flag
        if temp:
            mac.in_flight.add(temp)
        try:
            sent = mac.add_message(
                fields["chatGuid"],
                attachment=(
                    fields["name"],
                    len(data),
                    getattr(upload, "content_type", None) or "application/octet-stream",
                ),
                audio=audio,
            )
            with mac.lock:
                mac.received.append(Received(sent["guid"], fields, fields["name"], data))
                mac.touch()
            announce(sent, temp)
        finally:
            mac.in_flight.discard(temp or "")
        return ok(mac.message_json(sent), "Attachment sent!")

    @route("/api/v1/message/{guid}", "message", ["GET"])
    async def message(request: Request) -> Response:
        found = mac.messages.get(request.path_params["guid"])
        if found is None:
            return not_found("Message does not exist!")
        with_ = request.query_params.get("with", "").lower()
        return ok(mac.message_json(found, attachments="attachment" in with_, chats="chat" in with_))

    @route("/api/v1/webhook", "webhook", ["GET", "POST"])
    async def webhooks(request: Request) -> Response:
        if request.method == "GET":
            return ok(list(mac.webhooks), "Successfully fetched webhooks!")
        body = await request.json()
        url, events = body.get("url"), body.get("events")
        if not isinstance(url, str) or not url:
            return bad_request("The url field is required.")
        if not isinstance(events, list):
            return bad_request("The events field is required.")
        if not url.startswith("http"):
            return bad_request("Webhook URL must include an HTTP scheme!")
        for event in events:
            if not isinstance(event, str):
                return bad_request("Webhook events must be strings!")
            if event not in ALL_EVENTS:
                return bad_request(f"Invalid webhook event: {event}! Webhook must be one of: {', '.join(ALL_EVENTS)}")
        return ok(mac.add_webhook(url, events), "Successfully created webhook!")

    @route("/api/v1/webhook/{id}", "webhook", ["DELETE"])
    async def delete_webhook(request: Request) -> Response:
        with mac.lock:
            found = [h for h in mac.webhooks if str(h["id"]) == request.path_params["id"]]
            if not found:
                return not_found("Webhook does not exist!")
            mac.webhooks.remove(found[0])
        return ok(message="Successfully deleted webhook!")

    def announce(sent: dict[str, Any], temp: str | None) -> None:
        mac.emit("new-message", mac.message_json(sent, chats=True, notification=True))
        if temp:  # the API send matched: a second new-message, with tempGuid
            mac.emit("new-message", {**mac.message_json(sent, notification=True), "tempGuid": temp})

    routes = [ping, info, availability, chat_new, chat_or_messages, query, text, attachment, message, webhooks]
    routes.append(delete_webhook)

    async def _not_found(_request: Request, _exc: Exception) -> Response:
        return PlainTextResponse("Not Found", status_code=404)  # Koa's default: no JSON, no auth

    return Starlette(routes=routes, exception_handlers={404: _not_found})


__all__ = ["FakeMac", "Fault", "build_app"]
