"""The sandbox sender: behaves like an Apple-side sender, deterministically, on Linux.

Service rule (documented in the README, stable so tests and users can rely on it):
an e-mail address is always iMessage; a phone number ending in 9 is SMS-only, one
ending in 8 is RCS; every other phone number is iMessage.
"""

from __future__ import annotations

from voicememo.domain.models import Service


class SandboxSender:
    kind = "sandbox"

    def service_for(self, handle: str) -> Service:
        if "@" in handle:
            return Service.IMESSAGE
        last = handle[-1:]
        if last == "9":
            return Service.SMS
        if last == "8":
            return Service.RCS
        return Service.IMESSAGE
