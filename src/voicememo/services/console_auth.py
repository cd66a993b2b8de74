"""Who is signed in to the web console: an API key's id, checked on every request.

The console's session cookie holds the key's id, never the key. Each request asks whether that key is
still active, through the API's own key cache (``ApiKeyCache``, entries under ``id:<key id>``), so a
key revoked through this process stops working at once and one revoked elsewhere within
``API_KEY_CACHE_SECONDS``, exactly as for the API.
"""

from __future__ import annotations

from voicememo.domain.models import ApiKey, Partner
from voicememo.errors import Unauthorized
from voicememo.services.admin import hash_key
from voicememo.services.api_keys import ApiKeyCache
from voicememo.services.context import ServiceContext
from voicememo.storage.repos.partners import PartnerRepo


class ConsoleAuth:
    def __init__(self, ctx: ServiceContext, keys: ApiKeyCache) -> None:
        self.ctx = ctx
        self.keys = keys

    async def sign_in(self, api_key: str) -> tuple[ApiKey, Partner]:
        """The key and its partner, or Unauthorized with a message a person can act on."""
        api_key = api_key.strip()
        if not api_key:
            raise Unauthorized("Enter an API key (it starts with vm_).")
        async with self.ctx.db.read() as s:
            found = await PartnerRepo(s).active_key_for_hash(hash_key(api_key))
        if found is None:
            raise Unauthorized("That API key is not valid, or it was revoked. Check it and try again.")
        return found

    async def partner_for_key(self, key_id: str) -> Partner | None:
        """The partner of an active key, or None once the key is revoked or gone."""
        cached = self.keys.get(f"id:{key_id}")
        if cached is not None:
            return cached
        async with self.ctx.db.read() as s:
            found = await PartnerRepo(s).active_key(key_id)
        if found is None:
            return None
        self.keys.put(f"id:{key_id}", found[1])
        return found[1]
