"""SafeFetcher refuses before connecting: scheme, credentials, DNS answers (with a fake resolver)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from voicememo.errors import FetchFailed, InvalidParameter
from voicememo.net.addresses import IPAddress
from voicememo.net.fetch import FetchPolicy, SafeFetcher


def resolver_for(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        calls.append(host)
        if host not in answers:
            raise OSError("Name or service not known")
        return [ipaddress.ip_address(a) for a in answers[host]]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/a.mp3", "must be an HTTPS URL"),
        ("ftp://example.com/a.mp3", "must be an HTTPS URL"),
        ("https://user:pw@example.com/a.mp3", "must not contain a user name or password"),
        ("not a url", "must be an HTTPS URL"),
    ],
)
async def test_refused_before_any_lookup(tmp_path: Path, url: str, message: str) -> None:
    resolve = resolver_for({})
    with pytest.raises(InvalidParameter, match=message):
        await SafeFetcher(FetchPolicy(), resolve).fetch_to(url, tmp_path / "x")
    assert resolve.calls == []  # type: ignore[attr-defined]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (["10.0.0.7"], "resolves to 10.0.0.7, a private-network address"),
        (["93.184.216.34", "127.0.0.1"], "resolves to 127.0.0.1, a loopback address"),
        (["169.254.169.254"], "the cloud metadata address"),
        (["::ffff:10.0.0.1"], "an IPv6 form of 10.0.0.1, a private-network address"),
    ],
)
async def test_private_answers_are_refused(tmp_path: Path, answers: list[str], message: str) -> None:
    fetcher = SafeFetcher(FetchPolicy(), resolver_for({"cdn.example": answers}))
    with pytest.raises(FetchFailed, match=message):
        await fetcher.fetch_to("https://cdn.example/memo.m4a", tmp_path / "x")


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "0x7f.1", "[::1]", "[::ffff:127.0.0.1]"])
async def test_literal_hosts_are_checked_without_dns(tmp_path: Path, host: str) -> None:
    resolve = resolver_for({})
    with pytest.raises(FetchFailed, match="loopback address"):
        await SafeFetcher(FetchPolicy(), resolve).fetch_to(f"https://{host}/memo.mp3", tmp_path / "x")
    assert resolve.calls == []  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_dns_failure_is_named(tmp_path: Path) -> None:
    with pytest.raises(FetchFailed, match=r"host 'nowhere.invalid' of the voice memo URL could not be resolved"):
        await SafeFetcher(FetchPolicy(), resolver_for({})).fetch_to("https://nowhere.invalid/a.mp3", tmp_path / "x")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"https://{'a' * 64}.example/a.mp3", "a label is 64 characters long; at most 63"),
        (f"https://{'abcdefghi.' * 26}example/a.mp3", "at most 253 are allowed"),
        ("https://a..example/a.mp3", "empty label"),
    ],
)
async def test_host_names_that_can_never_resolve_are_refused_by_name(tmp_path: Path, url: str, message: str) -> None:
    resolve = resolver_for({})
    with pytest.raises(InvalidParameter, match=f"voice_memo_url has an invalid host name: .*{message}"):
        await SafeFetcher(FetchPolicy(), resolve).fetch_to(url, tmp_path / "x")
    assert resolve.calls == []  # type: ignore[attr-defined]


@pytest.mark.anyio
@pytest.mark.parametrize("error", [UnicodeError("label too long"), ValueError("bad"), OSError("nope")])
async def test_any_resolver_failure_is_a_named_fetch_failure(tmp_path: Path, error: Exception) -> None:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        raise error

    with pytest.raises(FetchFailed, match=r"host 'cdn.example' of the voice memo URL could not be resolved"):
        await SafeFetcher(FetchPolicy(), resolve).fetch_to("https://cdn.example/a.mp3", tmp_path / "x")


@pytest.mark.anyio
@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "100.100.100.200"])
async def test_metadata_addresses_are_refused_even_on_private_networks(tmp_path: Path, address: str) -> None:
    fetcher = SafeFetcher(FetchPolicy(allow_private=True), resolver_for({"cdn.example": [address]}))
    with pytest.raises(FetchFailed, match="the cloud metadata address"):
        await fetcher.fetch_to("https://cdn.example/memo.m4a", tmp_path / "x")
