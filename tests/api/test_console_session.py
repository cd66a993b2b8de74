"""The web console's session over real HTTP: sign-in with an API key into a signed cookie that never holds
the key, CSRF on every form, sign-out, revocation, and clear refusals (no stack trace, no JSON)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time

import httpx
import pytest
from apiserver import Server, Tenant

from voicememo.container import Container

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


def console(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, follow_redirects=False, timeout=30)


def sign_in(client: httpx.Client, key: str, next_path: str = "/console/chats") -> httpx.Response:
    token = csrf_of(client.get("/console/sign-in"))
    return client.post("/console/sign-in", data={"csrf": token, "api_key": key, "next": next_path})


def set_cookie_header(response: httpx.Response) -> str:
    headers = [v for k, v in response.headers.multi_items() if k.lower() == "set-cookie"]
    assert len(headers) == 1, headers
    return headers[0]


def test_sign_in_sets_a_signed_httponly_strict_cookie_without_the_key(server: Server, tenant: Tenant) -> None:
    key = tenant.partner.api_key.secret
    with console(server) as client:
        answer = sign_in(client, key, "/console/webhooks")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/webhooks"
        cookie = set_cookie_header(answer)
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "path", "samesite"} <= attributes
        assert "; Path=/console" in cookie
        assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
        assert "secure" not in attributes  # plain http on loopback: a Secure cookie would never come back
        value = cookie.split(";", 1)[0].split("=", 1)[1]
        assert key not in value and key[10:30] not in value
        payload = json.loads(base64.urlsafe_b64decode(value.split(".")[0] + "=="))
        assert payload["k"] == tenant.partner.api_key.key.id  # the key's id, never the key
        # a tampered cookie is no session: back to the sign-in page
        client.cookies.set(
            "voicememo_console", value[:-2] + ("AA" if not value.endswith("AA") else "BB"), path="/console"
        )
        assert client.get("/console/lines").status_code == 303


def test_wrong_key_is_a_clear_message_not_a_stack_trace(server: Server) -> None:
    with console(server) as client:
        answer = sign_in(client, "vm_not-a-key")
        assert answer.status_code == 401
        assert answer.headers["content-type"].startswith("text/html")
        assert "That API key is not valid, or it was revoked." in answer.text
        assert "Traceback" not in answer.text
        assert "set-cookie" not in answer.headers or "vm_not-a-key" not in answer.headers["set-cookie"]
        empty = client.post("/console/sign-in", data={"csrf": csrf_of(answer), "api_key": "  "})
        assert empty.status_code == 401 and "Enter an API key" in empty.text


def test_every_form_needs_the_session_csrf_token(server: Server, tenant: Tenant) -> None:
    with console(server) as client:
        page = client.get("/console/sign-in")
        refused = client.post("/console/sign-in", data={"api_key": tenant.partner.api_key.secret})
        assert refused.status_code == 403
        assert "CSRF check failed" in refused.text and "Reload the page" in refused.text
        assert sign_in(client, tenant.partner.api_key.secret).status_code == 303
        # the token seen before sign-in no longer works after it (a fresh one per signed-in session)
        stale = client.post("/console/sign-out", data={"csrf": csrf_of(page)})
        assert stale.status_code == 403
        forged = client.post("/console/send", data={"csrf": "x" * 43, "chat_id": "c"}, files={"file": ("a.mp3", b"x")})
        assert forged.status_code == 403 and "CSRF check failed" in forged.text
        # the header works for scripts, the form field for forms
        assert client.post("/console/sign-out", headers={"X-CSRF-Token": "wrong"}).status_code == 403


def test_sign_out_ends_the_session(server: Server, tenant: Tenant) -> None:
    with console(server) as client:
        signed = sign_in(client, tenant.partner.api_key.secret)
        token = csrf_of(client.get("/console/sign-in"))  # the signed-in session's token is in every page
        out = client.post("/console/sign-out", data={"csrf": token})
        assert out.status_code == 303 and out.headers["location"].startswith("/console/sign-in")
        assert 'voicememo_console=""' in set_cookie_header(out) or "Max-Age=0" in set_cookie_header(out)
        # the old cookie value replayed: still signed, still the key's id, so still valid until revoked;
        # the browser drops it on sign-out. Without it the console asks for a sign-in again:
        client.cookies.clear()
        assert client.get("/console/chats").status_code == 303
        assert signed.status_code == 303


def test_a_revoked_key_ends_its_console_sessions(server: Server, tenant: Tenant) -> None:
    with console(server) as client:
        assert sign_in(client, tenant.partner.api_key.secret).status_code == 303
        assert client.get("/console/lines").status_code == 200

        async def revoke() -> None:
            container = Container(server.settings)
            try:
                await container.admin.revoke_key(tenant.partner.api_key.key.id)
            finally:
                await container.aclose()

        asyncio.run(revoke())
        # another process revoked it: the server's key cache trusts it at most API_KEY_CACHE_SECONDS more
        answer = _eventually_redirected(client, "/console/lines", seconds=server.settings.api_key_cache_seconds + 10)
        assert answer.headers["location"].startswith("/console/sign-in?next=/console/lines&note=")
        assert "revoked" in client.get(answer.headers["location"]).text


def _eventually_redirected(client: httpx.Client, path: str, seconds: float) -> httpx.Response:
    """Poll until the page sends us to the sign-in, with a deadline."""
    end = time.monotonic() + seconds
    while True:
        answer = client.get(path)
        if answer.status_code == 303 or time.monotonic() > end:
            assert answer.status_code == 303, answer.status_code
            return answer
        time.sleep(0.1)  # between polls of a condition, not as the synchronisation itself


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/v3/chats", "/console\\x"])
def test_sign_in_never_redirects_off_the_console(server: Server, tenant: Tenant, target: str) -> None:
    with console(server) as client:
        answer = sign_in(client, tenant.partner.api_key.secret, target)
        assert answer.headers["location"] == "/console/chats"
