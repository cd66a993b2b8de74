"""Auth, the error envelope, idempotency, webhook subscriptions, OpenAPI, health."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import linq
import pytest
from apiserver import Server, Tenant, running_server
from helpers import new_chat, new_handle, upload_file

from audiogen import Made


def error_of(call: object) -> linq.APIStatusError:
    assert callable(call)
    with pytest.raises(linq.APIStatusError) as info:
        call()
    return info.value


def test_missing_and_wrong_keys(server: Server) -> None:
    response = httpx.get(f"{server.base_url}/v3/phone_numbers")
    body = response.json()
    assert response.status_code == 401 and body["error"]["code"] == 2004 and body["success"] is False
    assert "Authorization: Bearer" in body["error"]["message"]
    err = error_of(lambda: server.client("vm_not-a-key").phone_numbers.list())
    assert (err.status_code, err.code) == (401, 2004)


def test_revoked_key_stops_working(tmp_path: Path) -> None:
    """Revoked by another process (the CLI): refused once this server's key cache no longer holds it
    (here API_KEY_CACHE_SECONDS=0; tests/integration/test_api_key_cache.py covers the cache's lifetime)."""
    import asyncio

    from voicememo.container import Container

    with running_server(tmp_path, api_key_cache_seconds=0) as own:
        made = own.new_partner()
        client = own.client(made.api_key.secret)

        async def revoke() -> None:
            container = Container(own.settings)
            try:
                await container.admin.revoke_key(made.api_key.key.id)
            finally:
                await container.aclose()

        assert client.phone_numbers.list().phone_numbers
        asyncio.run(revoke())
        err = error_of(lambda: client.phone_numbers.list())
        assert (err.status_code, err.code) == (401, 2004)


def test_every_response_has_a_trace_id_and_errors_repeat_it(server: Server, tenant: Tenant) -> None:
    ok = httpx.get(f"{server.base_url}/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", ok.headers["x-trace-id"])
    err = error_of(lambda: tenant.client.chats.retrieve("missing"))
    assert err.response.headers["x-trace-id"] == err.response.json()["trace_id"]
    assert err.doc_url == f"{server.base_url}/errors/2001"
    assert httpx.get(err.doc_url).json()["code"] == 2001


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", 1003),
        (b"[1, 2]", 1003),
        (b'{"from": 5, "to": ["+15551234567"], "message": {}}', 1003),
        (b'{"to": ["+15551234567"], "message": {}}', 1001),
    ],
)
def test_malformed_bodies(server: Server, tenant: Tenant, body: bytes, code: int) -> None:
    response = httpx.post(
        f"{server.base_url}/v3/chats",
        content=body,
        headers={"Authorization": f"Bearer {tenant.partner.api_key.secret}", "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["error"]["code"]) == (400, code)


def test_idempotency_key_replays_the_first_response(tenant: Tenant, corpus: dict[str, Made]) -> None:
    chat_id = new_chat(tenant.client, tenant.line)
    attachment_id = upload_file(tenant.client, corpus["wav-u8"].path, "audio/wav")
    send = tenant.client.chats.with_raw_response.send_voicememo
    first = send(chat_id, attachment_id=attachment_id, extra_headers={"Idempotency-Key": "memo-1"})
    second = send(chat_id, attachment_id=attachment_id, extra_headers={"Idempotency-Key": "memo-1"})
    assert second.status_code == first.status_code == 202
    assert second.http_response.json() == first.http_response.json()
    assert second.headers["idempotent-replayed"] == "true"
    memos = [m for m in tenant.client.chats.messages.list(chat_id) if m.parts and m.parts[0].type == "media"]
    assert len(memos) == 1, "the retry must not send a second memo"
    err = error_of(
        lambda: tenant.client.chats.send_voicememo(
            chat_id, voice_memo_url="https://example.com/other.mp3", extra_headers={"Idempotency-Key": "memo-1"}
        )
    )
    assert err.status_code == 422
    third = send(chat_id, attachment_id=attachment_id, extra_headers={"Idempotency-Key": "memo-2"})
    assert third.parse().voice_memo.id != first.parse().voice_memo.id


def test_idempotency_keys_are_per_partner(tenant: Tenant, other_tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "shared-key"}
    mine = tenant.client.chats.create(
        from_=tenant.line, to=[new_handle()], extra_headers=headers, message={"parts": [{"type": "text", "value": "a"}]}
    )
    theirs = other_tenant.client.chats.create(
        from_=other_tenant.line,
        to=[new_handle()],
        extra_headers=headers,
        message={"parts": [{"type": "text", "value": "a"}]},
    )
    assert mine.chat.id != theirs.chat.id


def test_errors_are_not_stored_as_idempotent_results_when_retryable(tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "after-fix"}
    err = error_of(lambda: tenant.client.chats.send_voicememo("missing", attachment_id="x", extra_headers=headers))
    assert err.status_code == 404
    again = error_of(lambda: tenant.client.chats.send_voicememo("missing", attachment_id="x", extra_headers=headers))
    assert again.response.headers.get("idempotent-replayed") == "true"  # a 404 is final: replayed


def test_webhook_subscription_crud(tenant: Tenant) -> None:
    subs = tenant.client.webhook_subscriptions
    created = subs.create(
        target_url="https://hooks.example.com/voicememo",
        subscribed_events=["message.sent", "message.failed"],
        phone_numbers=[tenant.line],
    )
    assert created.signing_secret.startswith("whsec_") and created.is_active
    fetched = subs.retrieve(created.id)
    assert "signing_secret" not in fetched.model_dump() and fetched.phone_numbers == [tenant.line]
    updated = subs.update(created.id, subscribed_events=["message.delivered"], is_active=False)
    assert (updated.subscribed_events, updated.is_active) == (["message.delivered"], False)
    assert [s.id for s in subs.list().subscriptions] == [created.id]
    subs.delete(created.id)
    err = error_of(lambda: subs.retrieve(created.id))
    assert err.status_code == 404


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"subscribed_events": ["poll.sent"]}, "this server emits"),
        ({"target_url": "ftp://hooks.example.com"}, "must be an HTTPS URL"),
        # every delivery would refuse it (SafeFetcher.post): refused when subscribing, not on each event
        ({"target_url": "https://user:pw@hooks.example.com"}, "must not contain a user name"),
        ({"phone_numbers": ["+15550009999"]}, "not one of your lines"),
    ],
)
def test_webhook_subscription_errors(tenant: Tenant, kwargs: dict[str, object], text: str) -> None:
    args: dict[str, object] = {
        "target_url": "https://hooks.example.com",
        "subscribed_events": ["message.sent"],
        **kwargs,
    }
    err = error_of(lambda: tenant.client.webhook_subscriptions.create(**args))  # type: ignore[arg-type]
    assert (err.status_code, err.code) == (400, 1005) and text in err.response.json()["error"]["message"]


@pytest.mark.parametrize(
    "target", ["https://127.0.0.1/hook", "https://localhost/hook", "https://[::1]/h", "https://169.254.169.254/latest"]
)
def test_strict_server_refuses_private_webhook_targets(strict_server: Server, target: str) -> None:
    made = strict_server.new_partner()
    client = strict_server.client(made.api_key.secret)
    err = error_of(lambda: client.webhook_subscriptions.create(target_url=target, subscribed_events=["message.sent"]))
    assert (err.status_code, err.code) == (400, 1005) and "webhooks go to public hosts" in err.response.text


def test_openapi_describes_what_we_serve(server: Server) -> None:
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    memo = spec["paths"]["/v3/chats/{chat_id}/voicememo"]["post"]
    assert "202" in memo["responses"] and memo["operationId"] == "chats_send_voicememo"
    for path in (
        "/v3/phone_numbers",
        "/v3/chats",
        "/v3/attachments",
        "/v3/messages/{message_id}",
        "/v3/webhook-subscriptions",
        "/uploads/{attachment_id}",
        "/media/{attachment_id}/{filename}",
    ):
        assert path in spec["paths"], path


def test_subscribed_events_may_not_be_empty_on_create_or_update(tenant: Tenant) -> None:
    subs = tenant.client.webhook_subscriptions
    refused = error_of(lambda: subs.create(target_url="https://hooks.example.com/h", subscribed_events=[]))
    sub = subs.create(target_url="https://hooks.example.com/h", subscribed_events=["message.sent"])
    emptied = error_of(lambda: subs.update(sub.id, subscribed_events=[]))  # was stored: a subscription to nothing
    for err in (refused, emptied):
        assert (err.status_code, err.code) == (400, 1005) and "at least one of" in err.message
    assert subs.retrieve(sub.id).subscribed_events == ["message.sent"]


def test_openapi_marks_what_the_server_refuses(server: Server) -> None:
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    schemas = spec["components"]["schemas"]

    def field(model: str, name: str) -> dict[str, object]:
        prop: dict[str, object] = schemas[model]["properties"][name]
        branches = prop.get("anyOf", [prop])
        assert isinstance(branches, list)
        return next(b for b in branches if b.get("type") != "null")  # optional fields: the given value

    for model in ("WebhookSubscriptionCreateParams", "WebhookSubscriptionUpdateParams"):
        assert field(model, "subscribed_events")["minItems"] == 1  # the server refuses [] on both
        assert field(model, "target_url")["pattern"] == "^https?://[^/?#@\\s]+"
    assert field("ChatCreateParams", "to")["minItems"] == 1
    parts = schemas["ChatCreateParams"]["properties"]["message"]["properties"]["parts"]
    assert parts["minItems"] == 1 and parts["items"]["oneOf"][0]["properties"]["value"]["minLength"] == 1
    assert field("ChatSendVoicememoParams", "attachment_id")["minLength"] == 1
    assert field("AttachmentCreateParams", "filename")["minLength"] == 1
    assert "audio/mpeg" in field("AttachmentCreateParams", "content_type")["enum"]  # type: ignore[operator]
    assert field("AttachmentCreateParams", "size_bytes")["minimum"] == 1
    assert field("ParticipantParams", "handle")["pattern"]
    assert field("ChatCreateParams", "override_optout") == {"type": "boolean"}  # 0 and "yes" are refused
    upload = spec["paths"]["/uploads/{attachment_id}"]["put"]
    assert "signature" in upload["responses"]["403"]["description"]
    assert upload["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/UploadOut"
    }
    assert upload["requestBody"]["required"] is True


def test_health(server: Server) -> None:
    body = httpx.get(f"{server.base_url}/healthz").json()
    assert body["status"] == "ok"
    assert body["lines"]["total"] == body["lines"]["HEALTHY"] >= 1  # the sandbox lines are healthy
    assert body["line_problems"] == []
