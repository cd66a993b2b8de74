"""Webhook signing secrets, encrypted at rest.

API keys are stored as one-way hashes, but a signing secret must stay usable: every webhook
is signed with it. So it is sealed (Fernet: AES-128-CBC + HMAC-SHA256) under a key derived
from the server's secret key (VOICEMEMO_SECRET_KEY or DATA_DIR/secret_key), which never
enters the database: a copy of the database alone does not reveal a secret.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_PREFIX = "sealed:v1:"


class SealBroken(Exception):
    """A sealed value cannot be opened with this server's key; the message says what to do."""


class Sealer:
    def __init__(self, server_key: bytes) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"voicememo.webhook-secrets").derive(
            server_key
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, plain: str) -> str:
        return _PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(_PREFIX):
            return stored  # written before secrets were sealed
        try:
            return self._fernet.decrypt(stored[len(_PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise SealBroken(
                "The subscription's signing secret was sealed under another server key (VOICEMEMO_SECRET_KEY "
                "or DATA_DIR/secret_key changed), so deliveries cannot be signed; delete and recreate the "
                "subscription to get a new secret."
            ) from exc
