"""SSRF-safe HTTPS download of a user-supplied URL into a temp file.

The host is resolved here, every address is checked, and the connection goes to the
address that was checked (the URL is rewritten to it; TLS still verifies the real
host name through SNI), so a DNS answer cannot change between check and connect.
Redirects are followed by hand, each hop checked again. Proxy variables are ignored,
the body is capped while it streams, and the whole download has a deadline.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import Message
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

import aiohttp
import anyio
import certifi
import httpx
from yarl import URL

from voicememo.errors import AddressRefused, FetchFailed, InvalidParameter, PayloadTooLarge
from voicememo.net.addresses import IPAddress, address_problem, literal_address
from voicememo.net.clients import OriginClients

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
_REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    allow_private: bool = False
    ca_bundle: Path | None = None
    max_bytes: int = 10 * 1024 * 1024
    connect_timeout: float = 5.0
    total_timeout: float = 15.0
    max_redirects: int = 3


@dataclass(frozen=True, slots=True)
class Fetched:
    final_url: str
    size: int
    content_type: str | None
    filename: str


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for info in infos:
        ip = literal_address(str(info[4][0]).split("%", 1)[0])
        if ip is not None and ip not in found:
            found.append(ip)
    return found


def check_url(url: str, *, allow_http: bool = False, field: str = "voice_memo_url") -> httpx.URL:
    """Parse and check a user-given URL (400/1005 when it is not HTTPS; plain HTTP only on LANs).
    ``field``: the request field the URL came in, named in the messages."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidParameter(f"{field} is not a valid URL: {exc}.") from exc
    if parsed.scheme != "https" and not (allow_http and parsed.scheme == "http"):
        raise InvalidParameter(f"{field} must be an HTTPS URL (https://…); other schemes are refused.")
    if not parsed.host:
        raise InvalidParameter(f"{field} has no host name.")
    if parsed.userinfo:
        raise InvalidParameter(f"{field} must not contain a user name or password.")
    problem = host_name_problem(parsed.host)
    if problem:
        raise InvalidParameter(f"{field} has an invalid host name: {problem}.")
    return parsed


def host_name_problem(host: str) -> str | None:
    """Why a host name can never resolve (RFC 1035 lengths), or None; the resolver would raise oddly."""
    if literal_address(host) is not None:
        return None
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return "it cannot be encoded as an international domain name"
    labels = ascii_host.rstrip(".").split(".")
    if len(ascii_host) > 253:
        return f"it is {len(ascii_host)} characters long; at most 253 are allowed"
    longest = max(labels, key=len)
    if len(longest) > 63:
        return f"a label is {len(longest)} characters long; at most 63 are allowed"
    if "" in labels:
        return "it has an empty label"
    return None


class SafeFetcher:
    def __init__(self, policy: FetchPolicy, resolver: Resolver = system_resolver) -> None:
        self.policy = policy
        self.resolver = resolver
        self._ssl = ssl.create_default_context(cafile=certifi.where())
        if policy.ca_bundle is not None:
            self._ssl.load_verify_locations(cafile=str(policy.ca_bundle))
        self._origins = OriginClients(self._ssl)

    async def aclose(self) -> None:
        """Close the webhook targets' kept-alive connections."""
        await self._origins.aclose()

    async def fetch_to(self, url: str, dest: Path) -> Fetched:
        """Download ``url`` into ``dest``; every refusal is a FetchFailed/PayloadTooLarge saying why."""
        current = check_url(url)
        try:
            async with asyncio.timeout(self.policy.total_timeout):
                for _hop in range(self.policy.max_redirects + 1):
                    result = await self._one_hop(current, dest)
                    if isinstance(result, Fetched):
                        return result
                    current = result
        except TimeoutError as exc:
            raise FetchFailed(
                f"Downloading the voice memo URL took longer than {self.policy.total_timeout:g} s."
            ) from exc
        raise FetchFailed(f"The voice memo URL redirected more than {self.policy.max_redirects} times.")

    async def _one_hop(self, url: httpx.URL, dest: Path) -> Fetched | httpx.URL:
        host = url.host
        port = url.port or 443
        addresses = await self._addresses(host, port)
        last_error: FetchFailed | None = None
        for ip in addresses:
            try:
                return await self._request(url, ip, dest)
            except _ConnectFailed as exc:
                last_error = exc.error
        assert last_error is not None
        raise last_error

    async def _addresses(self, host: str, port: int, what: str = "voice memo URL") -> list[IPAddress]:
        """The host's addresses, all checked; ``what`` names the URL in messages (a memo or a webhook)."""
        literal = literal_address(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                async with asyncio.timeout(self.policy.connect_timeout):
                    addresses = await self.resolver(host, port)
            except (OSError, TimeoutError, UnicodeError, ValueError) as exc:
                # Any failure of the resolver is the URL's problem to report, never a crash.
                raise FetchFailed(f"The host {host!r} of the {what} could not be resolved (DNS).") from exc
            if not addresses:
                raise FetchFailed(f"The host {host!r} of the {what} has no addresses (DNS).")
        for ip in addresses:
            problem = address_problem(ip, allow_private=self.policy.allow_private)
            if problem:
                raise AddressRefused(
                    f"The URL's host {host!r} resolves to {ip}, {problem}; only public internet addresses are fetched."
                )
        return addresses

    async def _request(self, url: httpx.URL, ip: IPAddress, dest: Path) -> Fetched | httpx.URL:
        host = url.host
        host_header = _host_header(host, url.port, 443)
        pinned = url.copy_with(host=str(ip))
        timeout = httpx.Timeout(self.policy.total_timeout, connect=self.policy.connect_timeout)
        headers = {"Host": host_header, "Accept-Encoding": "identity", "User-Agent": "voicememo/1 (+fetch)"}
        async with httpx.AsyncClient(verify=self._ssl, trust_env=False, timeout=timeout) as client:
            try:
                async with client.stream("GET", pinned, headers=headers, extensions={"sni_hostname": host}) as response:
                    if response.status_code in _REDIRECTS:
                        return self._redirect_target(url, response)
                    if response.status_code != 200:
                        raise FetchFailed(
                            f"The voice memo URL answered HTTP {response.status_code} "
                            f"{response.reason_phrase}; expected 200 with the audio file."
                        )
                    return await self._save(url, response, dest)
            except httpx.ConnectTimeout as exc:
                raise _ConnectFailed(
                    FetchFailed(f"Connecting to {host} timed out after {self.policy.connect_timeout:g} s.")
                ) from exc
            except httpx.ConnectError as exc:
                if _is_tls_error(exc):
                    raise FetchFailed(f"The TLS certificate of {host} could not be verified: {_cause(exc)}.") from exc
                raise _ConnectFailed(FetchFailed(f"Could not connect to {host} ({ip}): {_cause(exc)}.")) from exc
            except httpx.TimeoutException as exc:
                raise FetchFailed(f"{host} stopped sending data (timed out).") from exc
            except httpx.HTTPError as exc:
                raise FetchFailed(f"Downloading from {host} failed: {_cause(exc)}.") from exc

    async def post_answer(
        self, url: str, body: bytes, headers: dict[str, str], seconds: float, *, excerpt_chars: int = 512
    ) -> PostAnswer:
        """POST to a user-given URL through the same address checks (webhooks): the status and the start
        of the answer's body (at most ``excerpt_chars`` characters; the rest is never read).

        Redirects are not followed. Raises FetchFailed when no answer came back.
        """
        parsed = check_url(url, allow_http=self.policy.allow_private, field="target_url")
        host = parsed.host
        default_port = 443 if parsed.scheme == "https" else 80
        addresses = await self._addresses(host, parsed.port or default_port, "webhook target URL")
        host_header = _host_header(host, parsed.port, default_port)
        # the whole attempt is bounded by asyncio.timeout below; aiohttp bounds only the connect
        limits = aiohttp.ClientTimeout(connect=min(seconds, self.policy.connect_timeout))
        sni = host if parsed.scheme == "https" else None
        last: Exception | None = None
        session = await self._origins.get(f"{parsed.scheme}://{host_header}")  # kept alive between attempts
        for ip in addresses:
            pinned = URL(str(parsed.copy_with(host=str(ip))), encoded=True)
            try:
                async with (
                    asyncio.timeout(seconds),
                    session.post(
                        pinned,
                        data=body,
                        headers={**headers, "Host": host_header, "User-Agent": "voicememo/1 (+webhooks)"},
                        server_hostname=sni,
                        timeout=limits,
                        allow_redirects=False,
                    ) as response,
                ):
                    head = await _read_head(response, excerpt_chars * 4)  # UTF-8: ≤ 4 bytes a character
                return PostAnswer(response.status, head.decode("utf-8", "replace")[:excerpt_chars])
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = exc
        raise FetchFailed(f"No answer from {host}: {_cause(last) if last else 'no address'}.")

    def _redirect_target(self, url: httpx.URL, response: httpx.Response) -> httpx.URL:
        location = response.headers.get("location")
        if not location:
            raise FetchFailed(f"The voice memo URL answered HTTP {response.status_code} without a Location.")
        try:
            target = url.join(location)
        except httpx.InvalidURL as exc:
            raise FetchFailed(f"The voice memo URL redirected to an invalid URL: {exc}.") from exc
        if target.scheme != "https":
            raise FetchFailed(f"The voice memo URL redirected to a non-HTTPS URL ({target.scheme}://…); refused.")
        try:
            return check_url(str(target), field="the redirect target")
        except InvalidParameter as exc:  # refused like the first URL, reported as a failed fetch (5002)
            raise FetchFailed(f"The voice memo URL redirected to a refused URL: {exc.message}") from exc

    async def _save(self, url: httpx.URL, response: httpx.Response, dest: Path) -> Fetched:
        limit = self.policy.max_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(
                f"The voice memo URL points to a file of {int(declared):,} bytes; the limit is {limit:,} bytes."
            )
        size = 0
        async with await anyio.open_file(dest, "wb") as fh:
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"The voice memo URL sent more than {limit:,} bytes; the limit is {limit:,}.")
                await fh.write(chunk)
        return Fetched(
            final_url=str(url),
            size=size,
            content_type=response.headers.get("content-type"),
            filename=_filename(url, response.headers.get("content-disposition")),
        )


class _ConnectFailed(Exception):
    """Connecting to one address failed; the next address may still work."""

    def __init__(self, error: FetchFailed) -> None:
        super().__init__(error.message)
        self.error = error


def _filename(url: httpx.URL, disposition: str | None) -> str:
    if disposition:
        msg = Message()
        msg["content-disposition"] = disposition
        name = msg.get_filename()
        if name:
            return name
    return unquote(PurePosixPath(url.path).name)


def _is_tls_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError | ssl.CertificateError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc) or "SSL" in str(exc)


def _host_header(host: str, port: int | None, default_port: int) -> str:
    """The Host header for a URL's host and port (an IPv6 literal in brackets, as in the URL itself)."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port in (None, default_port) else f"{shown}:{port}"


def _cause(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.rstrip(".")


@dataclass(frozen=True, slots=True)
class PostAnswer:
    status: int
    #: the start of the answer's body, decoded as UTF-8 (undecodable bytes replaced)
    excerpt: str


async def _read_head(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body; a receiver that answers forever is not read to the end."""
    head = b""
    while len(head) < limit:
        chunk = await response.content.read(limit - len(head))
        if not chunk:
            break
        head += chunk
    return head
