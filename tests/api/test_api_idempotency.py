"""An Idempotency-Key left in flight by a request that can no longer be running is taken over.

Set up here is only what a restart, or a process on another host, finds: a claim whose owner is
gone or whose deadline has passed. Killing a real server at each step of a request is the
acceptance test's job (tests/acceptance/test_idempotency_crash.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
from datetime import timedelta

import httpx
import pytest
from apiserver import Server, Tenant
from sqlalchemy import select

from api.helpers import new_handle
from gone import a_dead_pid
from voicememo.container import Container
from voicememo.domain.models import utcnow
from voicememo.storage.tables import IdempotencyRow


def chat_request(tenant: Tenant) -> bytes:
    body = {"from": tenant.line, "to": [new_handle()], "message": {"parts": [{"type": "text", "value": "hi"}]}}
    return json.dumps(body).encode()


def plant_claim(server: Server, tenant: Tenant, key: str, body: bytes, owner: str, deadline_in: float) -> None:
    """The claim an interrupted request leaves: this request's hash, no answer, no effect."""

    async def go() -> None:
        c = Container(server.settings)
        try:
            async with c.ctx.db.write() as s:
                now = utcnow()
                s.add(
                    IdempotencyRow(
                        scope=hashlib.sha256(f"Bearer {tenant.partner.api_key.secret}".encode()).hexdigest(),
                        key=key,
                        request_hash=hashlib.sha256(b"/v3/chats\n" + body).hexdigest(),
                        created_at=now,
                        owner=owner,
                        deadline=now + timedelta(seconds=deadline_in),
                    )
                )
        finally:
            await c.aclose()

    asyncio.run(go())


def post(server: Server, tenant: Tenant, key: str, body: bytes) -> httpx.Response:
    headers = {
        "Authorization": f"Bearer {tenant.partner.api_key.secret}",
        "Idempotency-Key": key,
        "Content-Type": "application/json",
    }
    return httpx.post(f"{server.base_url}/v3/chats", content=body, headers=headers, timeout=30)


@pytest.mark.parametrize(
    ("owner", "deadline_in", "status"),
    [
        pytest.param(f"{socket.gethostname()}:{{dead}}:abc", 300, 201, id="same-host-process-gone"),
        pytest.param("elsewhere.example:4242:abc", -1, 201, id="deadline-passed"),
        pytest.param("elsewhere.example:4242:abc", 300, 409, id="other-host-still-within-deadline"),
    ],
)
def test_a_claim_whose_request_cannot_be_running_is_taken_over(
    server: Server, tenant: Tenant, owner: str, deadline_in: float, status: int
) -> None:
    body = chat_request(tenant)
    key = f"planted-{owner}-{deadline_in}"
    plant_claim(server, tenant, key, body, owner.replace("{dead}", str(a_dead_pid())), deadline_in)
    first = post(server, tenant, key, body)
    assert first.status_code == status, first.text
    if status == 409:
        assert first.headers["x-should-retry"] == "true"
        return
    again = post(server, tenant, key, body)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["chat"]["id"] == first.json()["chat"]["id"]


def test_a_keyed_request_cut_short_does_not_run_or_hold_its_key(server: Server, tenant: Tenant) -> None:
    body = chat_request(tenant)
    head = (
        f"POST /v3/chats HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {tenant.partner.api_key.secret}\r\n"
        f"Idempotency-Key: cut-short\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head.encode() + body[: len(body) // 2])
        conn.shutdown(socket.SHUT_WR)  # the client hangs up half-way through its body
        assert conn.recv(1024) == b""  # no answer for half a request
    whole = post(server, tenant, "cut-short", body)
    assert whole.status_code == 201, whole.text
    assert "idempotent-replayed" not in whole.headers


def test_requests_that_do_not_authenticate_leave_no_idempotency_record(server: Server) -> None:
    for auth in ("Bearer not-a-key", ""):
        response = httpx.post(
            f"{server.base_url}/v3/chats",
            content=b'{"from": "\\ud800"}',
            headers={"Authorization": auth, "Idempotency-Key": "anonymous", "Content-Type": "application/json"},
        )
        assert response.status_code in (400, 401), response.text

    async def count() -> int:
        c = Container(server.settings)
        try:
            async with c.ctx.db.read() as s:
                return len(list(await s.scalars(select(IdempotencyRow).where(IdempotencyRow.key == "anonymous"))))
        finally:
            await c.aclose()

    assert asyncio.run(count()) == 0
