"""The operator's admin token: ``VOICEMEMO_ADMIN_TOKEN`` (SecretStr), compared in constant time.

Unset: the operator view is disabled. ``serve --dev`` calls :func:`with_dev_admin_token`, which keeps
one in DATA_DIR/admin_token (0600) when none is configured and returns settings carrying it.
"""

from __future__ import annotations

from voicememo.settings import Settings


def operator_enabled(settings: Settings) -> bool:
    """Whether an admin token is configured (else the operator view answers 404)."""
    raise NotImplementedError


def check_admin_token(settings: Settings, presented: str | None) -> bool:
    """Whether ``presented`` is the admin token (constant time); always False when none is set."""
    raise NotImplementedError


def with_dev_admin_token(settings: Settings) -> tuple[Settings, str]:
    """For ``serve --dev``: settings with an admin token (the configured one, or one created once in
    DATA_DIR/admin_token, 0600, and reused on later runs) and the token itself, to print."""
    raise NotImplementedError
