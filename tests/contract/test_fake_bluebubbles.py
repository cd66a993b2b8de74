"""The fake Mac itself, held to BlueBubbles' documented behaviour (bluebubbles-server source, 2026-07).

The sender tests are only as good as the fake; these checks pin what the fake does to what the
real server is documented to do, independent of our adapter.
"""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import httpx
import pytest

from fakebb import FakeMac, RunningMac, running_mac

PW = "pw"


@pytest.fixture
def fake() -> Iterator[RunningMac]:
    with running_mac(FakeMac(password=PW, imessage={"+15551110001"})) as running:
        yield running


def call(fake: RunningMac, method: str, path: str, **kw: Any) -> httpx.Response:
    params = kw.pop("params", {"password": PW})
    return httpx.request(method, fake.url + path, params=params, timeout=10, **kw)


def test_auth_is_a_query_parameter_and_guid_wins(fake: RunningMac) -> None:
    missing = call(fake, "GET", "/api/v1/ping", params={})
    assert missing.status_code == 401 and missing.json()["error"] == {
        "type": "Authentication Error",
        "message": "Missing server password!",
    }
    assert call(fake, "GET", "/api/v1/ping", params={"password": "x"}).json()["error"]["message"] == "Unauthorized"
    assert call(fake, "GET", "/api/v1/ping", params={"guid": "x", "password": PW}).status_code == 401
    assert call(fake, "GET", "/api/v1/ping", params={"token": PW}).json() == {
        "status": 200,
        "message": "Ping received!",
        "data": "pong",
    }
    unknown = httpx.get(fake.url + "/api/v1/nothing-here")
    assert (unknown.status_code, unknown.text, unknown.headers["content-type"].split(";")[0]) == (
        404,
        "Not Found",
        "text/plain",
    )


def test_the_attachment_route_rules(fake: RunningMac) -> None:
    fake.mac.add_chat(["+15551110001"])
    chat = "iMessage;-;+15551110001"
    file = {"attachment": ("a.caf", b"caff", "audio/x-caf")}
    no_name = call(fake, "POST", "/api/v1/message/attachment", data={"chatGuid": chat}, files=file)
    assert (no_name.status_code, no_name.json()["error"]["message"]) == (400, "The name field is required.")
    script = call(fake, "POST", "/api/v1/message/attachment", data={"chatGuid": chat, "name": "a.caf"}, files=file)
    assert script.json()["error"]["message"] == "A 'tempGuid' is required when sending via AppleScript"
    empty = call(
        fake,
        "POST",
        "/api/v1/message/attachment",
        data={"chatGuid": chat, "name": "a.caf", "tempGuid": "t1"},
        files={"attachment": ("a.caf", b"", "audio/x-caf")},
    )
    assert empty.json()["error"]["message"] == "Attachment not provided or was empty!"
    fields = {"chatGuid": chat, "name": "a.caf", "tempGuid": "t2", "method": "private-api", "isAudioMessage": "1"}
    sent = call(fake, "POST", "/api/v1/message/attachment", data=fields, files=file).json()
    assert sent["message"] == "Attachment sent!" and "tempGuid" not in sent["data"]
    assert sent["data"]["isAudioMessage"] is False  # only the string "true" counts
    script_audio = {**fields, "method": "apple-script", "isAudioMessage": "true", "tempGuid": "t3"}
    assert (
        call(fake, "POST", "/api/v1/message/attachment", data=script_audio, files=file).json()["data"]["isAudioMessage"]
        is False
    )  # AppleScript never carries the flag
    fake.mac.private_api = False
    off = call(fake, "POST", "/api/v1/message/attachment", data={**fields, "tempGuid": "t4"}, files=file)
    assert off.status_code == 500 and off.json()["message"] == "Attachment Send Error"
    assert off.json()["error"] == {"type": "iMessage Error", "message": "iMessage Private API is not enabled!"}


def test_texts_echo_their_temp_guid_and_chats_need_a_text(fake: RunningMac) -> None:
    fake.mac.add_chat(["+15551110001"])
    sent = call(
        fake,
        "POST",
        "/api/v1/message/text",
        json={"chatGuid": "iMessage;-;+15551110001", "message": "hi", "tempGuid": "t", "method": "private-api"},
    ).json()
    assert (sent["message"], sent["data"]["tempGuid"], sent["data"]["text"]) == ("Message sent!", "t", "hi")
    no_text = call(fake, "POST", "/api/v1/chat/new", json={"addresses": ["+1555"], "method": "private-api"})
    assert no_text.status_code == 500 and no_text.json()["error"]["type"] == "Server Error"
    assert "A message is required" in no_text.json()["error"]["message"]
    group = call(fake, "POST", "/api/v1/chat/new", json={"addresses": ["+1", "+2"], "message": "x"})
    assert "Cannot create group chats" in group.json()["error"]["message"]  # AppleScript cannot
    missing = call(fake, "GET", "/api/v1/message/NOPE").json()
    assert (missing["status"], missing["error"]["message"]) == (404, "Message does not exist!")
    assert call(fake, "GET", "/api/v1/chat/iMessage;-;+19999").json()["error"]["message"] == "Chat does not exist!"


def test_webhooks_are_unsigned_and_omit_the_audio_flag(fake: RunningMac) -> None:
    got: queue.Queue[tuple[dict[str, str], dict[str, Any]]] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            got.put(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        bad = call(fake, "POST", "/api/v1/webhook", json={"url": url, "events": ["nope"]}).json()
        assert bad["error"]["message"].startswith("Invalid webhook event: nope!")
        first = call(fake, "POST", "/api/v1/webhook", json={"url": url, "events": ["updated-message"]}).json()
        again = call(fake, "POST", "/api/v1/webhook", json={"url": url, "events": ["*"]}).json()
        assert first["data"]["id"] == again["data"]["id"] and again["data"]["events"] == ["updated-message"]
        chat = fake.mac.add_chat(["+15551110001"])
        message = fake.mac.add_message(chat["guid"], attachment=("Audio Message.caf", 10, "audio/x-caf"), audio=True)
        fake.mac.deliver(message["guid"])
        headers, body = got.get(timeout=10)
        assert body["type"] == "updated-message" and body["data"]["guid"] == message["guid"]
        assert "isAudioMessage" not in body["data"] and "chats" not in body["data"]
        assert isinstance(body["data"]["dateDelivered"], int)
        assert not any(k.startswith(("webhook-", "x-webhook", "authorization")) for k in headers)
        group = fake.mac.add_chat(["+15551110001", "+15551110002"])
        in_group = fake.mac.add_message(group["guid"], text="hi")
        fake.mac.read(in_group["guid"])  # BlueBubbles reports read receipts for 1:1 chats only
        assert fake.mac.messages[in_group["guid"]]["dateRead"] is None
    finally:
        server.shutdown()
