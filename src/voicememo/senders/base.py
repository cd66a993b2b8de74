"""The sender port: whoever actually talks to Apple (or a carrier) for a line.

This issue needs only the capability check; sending and receipts join the port with
the delivery work, so every sender kind implements one small, growing interface.
"""

from __future__ import annotations

from typing import Protocol

from voicememo.domain.models import Service


class Sender(Protocol):
    kind: str

    def service_for(self, handle: str) -> Service:
        """The service a message to ``handle`` goes over from this sender's lines."""
        ...


class SenderRegistry:
    """Sender kinds by name, wired once in the container."""

    def __init__(self, senders: list[Sender]) -> None:
        self._by_kind = {s.kind: s for s in senders}

    @property
    def kinds(self) -> list[str]:
        return sorted(self._by_kind)

    def get(self, kind: str) -> Sender:
        try:
            return self._by_kind[kind]
        except KeyError:
            raise LookupError(f"unknown sender kind {kind!r}; known: {', '.join(self.kinds)}") from None
