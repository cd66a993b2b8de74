"""What every route refuses before it reads a request: text that is not Unicode, bodies over the cap, wrong methods."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from apiserver import Server, Tenant, running_server
from helpers import new_chat, new_handle

from audiogen import Made
from voicememo.api import routes
from voicememo.api.guard import GuardedRoute

SURROGATE = rb"\ud800"  # as JSON escapes it: valid JSON syntax, not valid Unicode


def test_every_route_passes_the_guard() -> None:
    for info in pkgutil.iter_modules(routes.__path__):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        assert module.router.route_class is GuardedRoute, info.name
        assert all(isinstance(route, GuardedRoute) for route in module.router.routes), info.name


def _send(server: Server, tenant: Tenant, method: str, path: str, body: bytes) -> httpx.Response:
    return httpx.request(
        method,
        server.base_url + path,
        content=body,
        headers={"Authorization": f"Bearer {tenant.partner.api_key.secret}", "Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    ("method", "path", "template", "field"),
    [
        (
            "POST",
            "/v3/chats",
            b'{"from":"L","to":["+16660000001"],"message":{"parts":[{"type":"text","value":"a~"}]}}',
            "message.parts[0].value",
        ),
        (
            "POST",
            "/v3/chats",
            b'{"from":"L","to":["ana~@example.com"],"message":{"parts":[{"type":"text","value":"a"}]}}',
            "to[0]",
        ),
        (
            "POST",
            "/v3/chats",
            b'{"from":"L","to":["+16660000001"],"message":{"parts":[{"type":"text","value":"a"}],"idempotency_key":"k~"}}',
            "message.idempotency_key",
        ),
        (
            "POST",
            "/v3/webhook-subscriptions",
            b'{"target_url":"https://ex~ample.com/h","subscribed_events":["message.sent"]}',
            "target_url",
        ),
        (
            "POST",
            "/v3/webhook-subscriptions",
            b'{"target_url":"https://example.com/h~","subscribed_events":["message.sent"]}',
            "target_url",
        ),
        ("POST", "/v3/capability/check_imessage", b'{"address":"a~@example.com"}', "address"),
        ("POST", "/v3/attachments", b'{"filename":"a~.mp3","content_type":"audio/mpeg","size_bytes":10}', "filename"),
        ("POST", "/v3/chats/CHAT/voicememo", b'{"voice_memo_url":"https://ex~ample.com/a.mp3"}', "voice_memo_url"),
        ("POST", "/v3/chats/CHAT/participants", b'{"handle":"b~@example.com"}', "handle"),
        (
            "POST",
            "/v3/chats",
            b'{"from":"L","to":["+16660000001"],"message":{"parts":[{"type":"text","value":"a"}]},"x~":1}',
            "A field name in the request body",
        ),
    ],
)
def test_lone_surrogates_are_400_naming_the_field(
    server: Server, tenant: Tenant, method: str, path: str, template: bytes, field: str
) -> None:
    path = path.replace("CHAT", new_chat(tenant.client, tenant.line))
    body = template.replace(b"~", SURROGATE).replace(b'"L"', f'"{tenant.line}"'.encode())
    response = _send(server, tenant, method, path, body)
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (400, 1005), response.text
    assert error["message"].startswith(field) and "lone UTF-16 surrogate" in error["message"]


def test_lone_surrogates_in_updates_too(server: Server, tenant: Tenant) -> None:
    sub = tenant.client.webhook_subscriptions.create(
        target_url="https://hooks.example.com/h", subscribed_events=["message.sent"]
    )
    body = b'{"target_url":"https://hooks.example.com/' + SURROGATE + b'"}'
    response = _send(server, tenant, "PUT", f"/v3/webhook-subscriptions/{sub.id}", body)
    assert (response.status_code, response.json()["error"]["code"]) == (400, 1005)
    assert tenant.client.webhook_subscriptions.retrieve(sub.id).target_url == "https://hooks.example.com/h"


@pytest.mark.parametrize("path", ["/v3/chats/%00", "/v3/messages/a%00b", "/v3/attachments/%00"])
def test_a_nul_character_in_the_path_is_400(server: Server, tenant: Tenant, path: str) -> None:
    """On PostgreSQL such an id reached the query: a 500 that never answered (found by probing after schemathesis)."""
    headers = {"Authorization": f"Bearer {tenant.partner.api_key.secret}"}
    response = httpx.get(server.base_url + path, headers=headers, timeout=10)
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (400, 1005) and "NUL character" in error["message"]


def test_a_nul_character_in_text_is_400_naming_the_field(server: Server, tenant: Tenant) -> None:
    """PostgreSQL cannot store U+0000 in text: it was a 500 there (found by schemathesis), now refused at intake."""
    handle = new_handle()
    body = b'{"from":"%s","to":["%s"],"message":{"parts":[{"type":"text","value":"hi\\u0000there"}]}}' % (
        tenant.line.encode(),
        handle.encode(),
    )
    response = _send(server, tenant, "POST", "/v3/chats", body)
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (400, 1005), response.text
    assert error["message"].startswith("message.parts[0].value") and "NUL character" in error["message"]


@pytest.mark.parametrize("raw", [b"\xed\xa0\x80", b"\xff"])  # a surrogate UTF-8-encoded; not UTF-8 at all
def test_bodies_that_are_not_utf8_are_not_json(server: Server, tenant: Tenant, raw: bytes) -> None:
    body = b'{"from":"%s","to":["%s"],"message":{"parts":[{"type":"text","value":"' % (
        tenant.line.encode(),
        new_handle().encode(),
    )
    response = _send(server, tenant, "POST", "/v3/chats", body + raw + b'"}]}}')
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (400, 1003) and "not valid UTF-8" in error["message"]


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("/v3/chats/%ED%A0%80", "URL path is not valid UTF-8"),
        ("/v3/chats?to=%ED%A0%80", "Query parameter 'to' is not valid UTF-8"),
        ("/v3/chats?cursor=%FF", "Query parameter 'cursor' is not valid UTF-8"),
        ("/media/%ED%A0%80/a.mp3", "URL path is not valid UTF-8"),
    ],
)
def test_path_and_query_must_be_utf8(server: Server, tenant: Tenant, url: str, text: str) -> None:
    # Starlette turns these bytes into U+FFFD; they are refused instead of looked up as something else
    response = httpx.get(server.base_url + url, headers={"Authorization": f"Bearer {tenant.partner.api_key.secret}"})
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (400, 1005) and text in error["message"]


@pytest.fixture(scope="module")
def small_cap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("small-cap"), json_body_max_bytes=4096) as s:
        yield s


def _padded_chat(tenant_line: str, size: int) -> bytes:
    body = b'{"from":"%s","to":["%s"],"message":{"parts":[{"type":"text","value":"hi"}]}}' % (
        tenant_line.encode(),
        new_handle().encode(),
    )
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_json_bodies_are_capped_before_parsing(small_cap: Server) -> None:
    made = small_cap.new_partner()
    auth = {"Authorization": f"Bearer {made.api_key.secret}", "Content-Type": "application/json"}
    line = made.line.phone_number
    url = f"{small_cap.base_url}/v3/chats"
    assert httpx.post(url, content=_padded_chat(line, 4096), headers=auth).status_code == 201
    too_big = _padded_chat(line, 4097)
    declared = httpx.post(url, content=too_big, headers=auth)
    chunked = httpx.post(url, content=iter([too_big[:3000], too_big[3000:]]), headers=auth)  # no Content-Length
    keyed = httpx.post(url, content=too_big, headers={**auth, "Idempotency-Key": "big"})
    for response in (declared, chunked, keyed):
        error = response.json()["error"]
        assert (response.status_code, error["code"]) == (413, 5001), response.text
        assert "4,096 bytes" in error["message"] and response.json()["trace_id"] == response.headers["x-trace-id"]
    assert "content-length" not in chunked.request.headers
    assert len(list(small_cap.client(made.api_key.secret).chats.list_chats())) == 1


def test_uploads_and_provider_hooks_keep_their_own_limits(small_cap: Server, corpus: dict[str, Made]) -> None:
    made = small_cap.new_partner()
    client = small_cap.client(made.api_key.secret)
    data = Path(corpus["wav-u8"].path).read_bytes()
    assert len(data) > 4096
    slot = client.attachments.create(filename="a.wav", content_type="audio/wav", size_bytes=len(data))
    put = httpx.put(slot.upload_url, content=data, headers=slot.required_headers)
    assert put.status_code == 200, put.text
    hook = httpx.post(
        f"{small_cap.base_url}/hooks/lines/{made.line.id}/wrong-token",
        content=b'{"type":"updated-message","data":{}}' + b" " * 8000,
        headers={"Content-Type": "application/json"},
    )
    assert hook.status_code == 404  # read in full (its own 1 MB cap), then refused for the token


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/v3/chats", {"GET", "POST"}),
        ("PUT", "/api/partner/v3/chats", {"GET", "POST"}),
        ("PATCH", "/v3/webhook-subscriptions/x", {"GET", "PUT", "DELETE"}),
        ("GET", "/v3/chats/x/participants", {"POST", "DELETE"}),
        ("GET", "/uploads/x", {"PUT"}),
        ("POST", "/media/a/b.mp3", {"GET", "HEAD"}),
    ],
)
def test_405_names_every_method_the_path_accepts(server: Server, method: str, path: str, allow: set[str]) -> None:
    response = httpx.request(method, server.base_url + path)
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == allow
    body = response.json()
    assert body["success"] is False and body["error"]["status"] == 405 and body["trace_id"]
    assert method in body["error"]["message"] and ", ".join(sorted(allow)) in body["error"]["message"]
