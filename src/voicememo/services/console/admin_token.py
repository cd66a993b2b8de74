"""The operator's admin token: ``VOICEMEMO_ADMIN_TOKEN`` (SecretStr), compared in constant time.

Unset or empty: the operator view is disabled. ``serve --dev`` calls :func:`with_dev_admin_token`,
which keeps a token in DATA_DIR/admin_token (0600, made once, reused) when none is configured and
returns settings carrying it: pass those to the app (and its worker processes: ``to_environ`` carries
SecretStr values) and print the token.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets

from pydantic import SecretStr

from voicememo.settings import Settings

DEV_TOKEN_FILENAME = "admin_token"  # noqa: S105 (a file name, not a secret)


def _configured(settings: Settings) -> str | None:
    value = settings.admin_token.get_secret_value() if settings.admin_token is not None else ""
    return value or None


def operator_enabled(settings: Settings) -> bool:
    """Whether an admin token is configured (else the operator view should answer 404)."""
    return _configured(settings) is not None


def check_admin_token(settings: Settings, presented: str | None) -> bool:
    """Whether ``presented`` is the admin token (constant time); always False when none is set."""
    expected = _configured(settings)
    if expected is None or not presented:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def with_dev_admin_token(settings: Settings) -> tuple[Settings, str]:
    """For ``serve --dev``: settings with an admin token (the configured one, or one created once in
    DATA_DIR/admin_token, 0600, and reused on later runs) and the token itself, to print."""
    configured = _configured(settings)
    if configured is not None:
        return settings, configured
    settings.ensure_dirs()
    path = settings.data_dir / DEV_TOKEN_FILENAME
    if not path.exists():
        staging = path.with_name(f".{DEV_TOKEN_FILENAME}.{os.getpid()}")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
        with contextlib.suppress(FileExistsError):
            os.link(staging, path)  # atomic: two processes starting together agree on one token
        staging.unlink(missing_ok=True)
    token = path.read_text().strip()
    return settings.model_copy(update={"admin_token": SecretStr(token)}), token
