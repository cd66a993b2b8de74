"""Chats, participants, lines and messages through the SDK."""

from __future__ import annotations

import base64

import linq
import pytest
from apiserver import Server, Tenant
from helpers import new_chat, new_handle

TEXT = {"parts": [{"type": "text", "value": "hi"}]}


def error_of(call: object) -> linq.APIStatusError:
    assert callable(call)
    with pytest.raises(linq.APIStatusError) as info:
        call()
    return info.value


def test_phone_numbers_list_only_my_lines(tenant: Tenant, other_tenant: Tenant) -> None:
    numbers = tenant.client.phone_numbers.list().phone_numbers
    assert [n.phone_number for n in numbers] == [tenant.line]
    assert numbers[0].reputation.status == "HEALTHY" and numbers[0].line_type == "iMessage"


def test_create_retrieve_and_reuse(tenant: Tenant) -> None:
    to = new_handle()
    first = tenant.client.chats.create(from_=tenant.line, to=[to], message=TEXT).chat
    assert (first.is_group, first.service, first.message.delivery_status) == (False, "iMessage", "queued")
    assert [(h.handle, h.is_me) for h in first.handles] == [(tenant.line, True), (to, False)]
    assert first.message.from_handle is not None and first.message.from_handle.handle == tenant.line
    again = tenant.client.chats.create(from_=tenant.line, to=[to], message=TEXT).chat
    assert again.id == first.id and again.message.id != first.message.id
    chat = tenant.client.chats.retrieve(first.id)
    assert (chat.id, chat.is_archived, chat.health_status.status) == (first.id, False, "HEALTHY")


def test_same_set_in_another_order_is_the_same_group(tenant: Tenant) -> None:
    a, b = new_handle(), new_handle()
    one = tenant.client.chats.create(from_=tenant.line, to=[a, b], message=TEXT).chat
    two = tenant.client.chats.create(from_=tenant.line, to=[b, a], message=TEXT).chat
    assert one.id == two.id and one.is_group


@pytest.mark.parametrize(("digits", "service"), [((0, 1), "iMessage"), ((0, 8), "RCS"), ((8, 9), "SMS")])
def test_chat_service_follows_the_sender_rule(tenant: Tenant, digits: tuple[int, int], service: str) -> None:
    handles = [new_handle(d) for d in digits]
    chat = tenant.client.chats.create(from_=tenant.line, to=handles, message=TEXT).chat
    assert chat.service == service


def test_email_handles(tenant: Tenant) -> None:
    chat = tenant.client.chats.create(from_=tenant.line, to=["Someone@Example.com"], message=TEXT).chat
    assert chat.handles[1].handle == "someone@example.com" and chat.service == "iMessage"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"from_": "+15550000000"}, 403, 2006),
        ({"from_": "5550000000"}, 400, 1002),
        ({"to": []}, 400, 1001),
        ({"to": ["not-a-handle"]}, 400, 1005),
        ({"to": ["+1 555 000"]}, 400, 1002),
        ({"message": {"parts": []}}, 400, 1001),
        ({"message": {"parts": [{"type": "text", "value": ""}]}}, 400, 1001),
        ({"message": {"parts": [{"type": "media", "url": "https://x.example/a.png"}]}}, 400, 1005),
        ({"message": {"parts": [{"type": "media", "attachment_id": "missing"}]}}, 404, 2003),
        ({"to": [f"+1777000{i:04d}" for i in range(32)]}, 400, 1005),
    ],
)
def test_create_errors(tenant: Tenant, kwargs: dict[str, object], status: int, code: int) -> None:
    args: dict[str, object] = {"from_": tenant.line, "to": [new_handle()], "message": TEXT, **kwargs}
    err = error_of(lambda: tenant.client.chats.create(**args))  # type: ignore[arg-type]
    assert (err.status_code, err.code) == (status, code)


def test_other_partners_line_is_not_mine(tenant: Tenant, other_tenant: Tenant) -> None:
    err = error_of(lambda: tenant.client.chats.create(from_=other_tenant.line, to=[new_handle()], message=TEXT))
    assert (err.status_code, err.code) == (403, 2006)


def test_list_paginates_and_filters(tenant: Tenant, other_tenant: Tenant) -> None:
    target = new_handle()
    ids = [new_chat(tenant.client, tenant.line) for _ in range(4)] + [new_chat(tenant.client, tenant.line, target)]
    new_chat(other_tenant.client, other_tenant.line)
    first_page = tenant.client.chats.list_chats(limit=2)
    assert len(first_page.chats) == 2 and first_page.next_cursor
    everything = [c.id for c in tenant.client.chats.list_chats(limit=2)]  # the SDK follows next_cursor
    assert everything == list(reversed(ids))
    assert [c.id for c in tenant.client.chats.list_chats(to=target)] == [ids[-1]]
    assert len(list(tenant.client.chats.list_chats(from_=tenant.line))) == 5
    err = error_of(lambda: tenant.client.chats.list_chats(cursor="!!garbage"))
    assert (err.status_code, err.code) == (400, 1005)


def test_participants_in_groups_only(tenant: Tenant) -> None:
    a, b, c = new_handle(), new_handle(), new_handle(9)
    group = new_chat(tenant.client, tenant.line, a, b)
    added = tenant.client.chats.participants.add(group, handle=c)
    assert added.status == "accepted" and added.trace_id and len(added.trace_id) == 32
    chat = tenant.client.chats.retrieve(group)
    assert {h.handle for h in chat.handles} == {tenant.line, a, b, c} and chat.service == "SMS"
    tenant.client.chats.participants.remove(group, handle=c)
    chat = tenant.client.chats.retrieve(group)
    removed = next(h for h in chat.handles if h.handle == c)
    assert (removed.status, chat.service) == ("removed", "iMessage") and removed.left_at is not None
    err = error_of(lambda: tenant.client.chats.participants.add(group, handle=a))
    assert err.status_code == 409 and err.response.headers["x-should-retry"] == "false"
    err = error_of(lambda: tenant.client.chats.participants.remove(group, handle=a))
    assert (err.status_code, err.code) == (400, 1005)  # a group keeps two others
    one_to_one = new_chat(tenant.client, tenant.line)
    err = error_of(lambda: tenant.client.chats.participants.add(one_to_one, handle=c))
    assert (err.status_code, err.code) == (400, 1005)


def test_messages_list_pages(tenant: Tenant) -> None:
    to = new_handle()
    for _ in range(3):
        tenant.client.chats.create(from_=tenant.line, to=[to], message=TEXT)
    chat_id = tenant.client.chats.list_chats(to=to).chats[0].id
    page = tenant.client.chats.messages.list(chat_id, limit=2)
    assert len(page.messages) == 2 and page.next_cursor
    assert len(list(tenant.client.chats.messages.list(chat_id, limit=2))) == 3


@pytest.mark.parametrize(
    "payload",
    [
        b"2024-01-01T00:00:00|00000000-0000-4000-8000-000000000000",  # no offset: used to crash the DB bind (500)
        b"0001-01-01T00:00:00+01:00|00000000-0000-4000-8000-000000000000",  # out of range once in UTC
        b"2024-01-01T00:00:00+00:00|x",
    ],
)
def test_crafted_cursors_are_400_on_every_list(tenant: Tenant, payload: bytes) -> None:
    cursor = base64.urlsafe_b64encode(payload).decode()
    chat_id = new_chat(tenant.client, tenant.line)
    for call in (
        lambda: tenant.client.chats.list_chats(cursor=cursor),
        lambda: tenant.client.chats.messages.list(chat_id, cursor=cursor),
    ):
        err = error_of(call)
        assert (err.status_code, err.code) == (400, 1005) and "cursor is not valid" in err.message


def test_served_under_api_partner_prefix_too(server: Server, tenant: Tenant) -> None:
    client = server.client(tenant.partner.api_key.secret, prefix="/api/partner")
    assert client.phone_numbers.list().phone_numbers[0].phone_number == tenant.line
