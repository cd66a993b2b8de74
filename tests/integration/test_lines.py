"""Line settings as the operator lives with them: a callback the Mac cannot reach is said, and a
password sealed under a server key that has changed fails clearly instead of being sent wrong."""

from __future__ import annotations

import pytest

from fakebb import FakeMac, running_mac
from voicememo.container import Container
from voicememo.domain.models import Line, utcnow
from voicememo.errors import InvalidParameter
from voicememo.senders.base import SendRejected
from voicememo.settings import Settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def with_key(settings: Settings, secret_key: str) -> Settings:
    """The same data dir and database under another server key, as after a rotation."""
    return Settings(**{**settings.model_dump(), "secret_key": secret_key})


@pytest.mark.anyio
async def test_a_loopback_callback_for_a_mac_elsewhere_is_called_out(container: Container) -> None:
    # PUBLIC_BASE_URL defaults to http://127.0.0.1:8080
    remote = Line("l1", "p", "+15550700001", "bluebubbles", utcnow(), {"url": "http://my-mac.local:1234"})
    local = Line("l2", "p", "+15550700002", "bluebubbles", utcnow(), {"url": "http://127.0.0.1:1234"})
    note = container.lines._unreachable_callback_note(remote)
    assert "the Mac cannot reach" in note and "VOICEMEMO_SENDER_CALLBACK_BASE_URL" in note
    assert container.lines._unreachable_callback_note(local) == ""


@pytest.mark.anyio
async def test_a_password_sealed_under_an_old_server_key_fails_clearly(settings: Settings) -> None:
    with running_mac(FakeMac(password="pw")) as running:
        first = Container(with_key(settings, "the first server key, long enough"))
        try:
            made = await first.admin.create_partner("P", "+15550700009")
            report = await first.lines.add(made.partner.id, "+15550700003", "bluebubbles", {"url": running.url}, "pw")
            assert report.health.status == "HEALTHY"
        finally:
            await first.aclose()
        second = Container(with_key(settings, "another server key, after a rotation"))
        try:
            with pytest.raises(SendRejected, match="sealed under another server key"):
                await second.lines.sender_for(report.line.id)
            with pytest.raises(InvalidParameter, match="give it again"):
                await second.lines.update("+15550700003", {})
            fixed = await second.lines.update("+15550700003", {}, "pw")  # the operator gives it again
            assert fixed.health.status == "HEALTHY"
        finally:
            await second.aclose()
