"""The console's session: a signed cookie holding the API key's id and a CSRF token, nothing secret.

The cookie is signed (itsdangerous, HMAC-SHA256) under a key derived from the server key
(``SECRET_KEY`` or DATA_DIR/secret_key, the one that signs upload URLs) with its own HKDF label, so
it cannot be forged or replayed as anything else. It is HttpOnly, SameSite=Strict, scoped to
``/console`` and Secure when the console is served over HTTPS. It never holds the raw API key: the key's
id, checked on every request (services/console_auth.py). The CSRF token is a synchroniser token:
random per session, put in every form, compared in constant time on every POST.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "voicememo_console"
PATH = "/console"
#: a session lasts this long after sign-in, then the console asks again
MAX_AGE_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Session:
    csrf: str
    key_id: str | None = None
    #: set after the operator sign-in: a fingerprint of the admin token it was made with
    operator: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.key_id is not None


def new_session() -> Session:
    return Session(csrf=secrets.token_urlsafe(32))


class SessionCodec:
    def __init__(self, server_key: bytes) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"voicememo.console-session").derive(
            server_key
        )
        self._serializer = URLSafeTimedSerializer(derived, salt="voicememo.console")
        self._fingerprint_key = derived

    def read(self, request: Request) -> Session | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        key_id, operator = data.get("k"), data.get("o")
        return Session(
            csrf=data["c"],
            key_id=key_id if isinstance(key_id, str) else None,
            operator=operator if isinstance(operator, str) else None,
        )

    def write(self, response: Response, request: Request, session: Session) -> None:
        data = {"c": session.csrf, "k": session.key_id, "o": session.operator}
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(data),
            max_age=MAX_AGE_SECONDS,
            path=PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    def clear(self, response: Response, request: Request) -> None:
        response.delete_cookie(
            COOKIE, path=PATH, httponly=True, samesite="strict", secure=request.url.scheme == "https"
        )

    def operator_fingerprint(self, admin_token: str) -> str:
        """What the session keeps of the admin token: changing the token ends every operator session."""
        return hmac.new(self._fingerprint_key, admin_token.encode(), "sha256").hexdigest()[:32]


def signed_in_as(session: Session, key_id: str) -> Session:
    """After sign-in: a fresh CSRF token (a token seen before sign-in is not carried over)."""
    return replace(session, key_id=key_id, csrf=secrets.token_urlsafe(32))


def csrf_matches(session: Session | None, sent: str | None) -> bool:
    return session is not None and bool(sent) and hmac.compare_digest(session.csrf.encode(), (sent or "").encode())
