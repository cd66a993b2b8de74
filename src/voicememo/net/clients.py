"""Keep-alive HTTP clients for webhook targets, one per origin, so each POST does not open a connection.

A new client per webhook attempt cost a TCP (and TLS) handshake every time, and more CPU than the
rest of the attempt. The pool is keyed by the URL's own origin (scheme, host name, port), never by
address alone: a connection authenticated for one host name (SNI, certificate) is never reused for
another that happens to share its address. Requests still go to the address that was checked.
At most ``limit`` origins are kept; the least recently used is closed. Clients belong to the event
loop that made them: a different running loop starts a fresh pool.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import OrderedDict

import httpx


class OriginClients:
    def __init__(self, ssl_context: ssl.SSLContext, limit: int = 32) -> None:
        self._ssl = ssl_context
        self._limit = limit
        self._clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def get(self, origin: str) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # connections of another (maybe closed) loop cannot be used here
            self._clients = OrderedDict()
            self._loop = loop
        client = self._clients.get(origin)
        if client is not None:
            self._clients.move_to_end(origin)
            return client
        client = httpx.AsyncClient(verify=self._ssl, trust_env=False, follow_redirects=False)
        self._clients[origin] = client
        while len(self._clients) > self._limit:
            _, oldest = self._clients.popitem(last=False)
            await oldest.aclose()
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), OrderedDict()
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            return  # made on another loop: nothing can be awaited on them here
        for client in clients:
            await client.aclose()
