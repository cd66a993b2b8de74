"""Webhook secrets sealed at rest under the server key."""

from __future__ import annotations

import pytest

from voicememo.services.webhooks import new_signing_secret
from voicememo.storage.sealing import SealBroken, Sealer


def test_seal_round_trips_and_hides_the_secret() -> None:
    secret = new_signing_secret()
    sealer = Sealer(b"server key one")
    sealed = sealer.seal(secret)
    assert sealed.startswith("sealed:v1:") and secret not in sealed and secret.split("_", 1)[1] not in sealed
    assert sealer.seal(secret) != sealed  # a fresh IV every time
    assert sealer.open(sealed) == secret
    assert len(sealed) <= 255  # fits the column


def test_another_server_key_cannot_open_it_and_says_what_to_do() -> None:
    sealed = Sealer(b"server key one").seal(new_signing_secret())
    with pytest.raises(SealBroken, match="recreate the subscription"):
        Sealer(b"server key two").open(sealed)


def test_a_secret_stored_before_sealing_is_read_as_it_is() -> None:
    legacy = new_signing_secret()
    assert Sealer(b"k").open(legacy) == legacy
