"""Which partner an API key belongs to, remembered for a few seconds.

Every request is authenticated; asking the database each time cost a read transaction per request
(on the accept path one of four). A hit is trusted for ``ttl`` (``API_KEY_CACHE_SECONDS``), so a key
revoked by another process keeps working in this one for at most that long; a revocation through
this process's own container forgets every cached key at once. Only keys that were found are kept
(an unknown key always asks the database), and the map is emptied when it grows past ``limit``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from voicememo.domain.models import Partner


class ApiKeyCache:
    def __init__(self, ttl_seconds: float, clock: Callable[[], datetime], *, limit: int = 10_000) -> None:
        self.ttl = timedelta(seconds=ttl_seconds)
        self.clock = clock
        self.limit = limit
        self._entries: dict[str, tuple[Partner, datetime]] = {}

    def get(self, key_hash: str) -> Partner | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        partner, expires = entry
        if self.clock() >= expires:
            del self._entries[key_hash]
            return None
        return partner

    def put(self, key_hash: str, partner: Partner) -> None:
        if not self.ttl:
            return
        if len(self._entries) >= self.limit:
            self._entries.clear()
        self._entries[key_hash] = (partner, self.clock() + self.ttl)

    def forget_all(self) -> None:
        self._entries.clear()
