"""SafeFetcher against a real local HTTPS origin: success, redirects, refusals, caps, deadlines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from origin import Origin, https_origin
from voicememo.errors import FetchFailed, PayloadTooLarge
from voicememo.net.fetch import FetchPolicy, SafeFetcher

LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Origin]:
    with https_origin(tmp_path_factory.mktemp("origin"), limit_hint=LIMIT) as o:
        o.add("memo.mp3", b"ID3 audio bytes", "audio/mpeg")
        yield o


def fetcher(origin: Origin, **overrides: object) -> SafeFetcher:
    policy = {"allow_private": True, "ca_bundle": origin.ca_file, "max_bytes": LIMIT, "total_timeout": 2.0, **overrides}
    return SafeFetcher(FetchPolicy(**policy))  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_download(origin: Origin, tmp_path: Path) -> None:
    got = await fetcher(origin).fetch_to(f"{origin.base}/files/memo.mp3", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"ID3 audio bytes"
    assert (got.size, got.filename, got.content_type) == (15, "memo.mp3", "audio/mpeg")


@pytest.mark.anyio
async def test_three_redirects_are_followed_four_are_not(origin: Origin, tmp_path: Path) -> None:
    got = await fetcher(origin).fetch_to(f"{origin.base}/redirect/3/memo.mp3", tmp_path / "a")
    assert got.final_url.endswith("/files/memo.mp3")
    with pytest.raises(FetchFailed, match="redirected more than 3 times"):
        await fetcher(origin).fetch_to(f"{origin.base}/redirect/4/memo.mp3", tmp_path / "b")


@pytest.mark.anyio
async def test_redirect_to_plain_http_is_refused(origin: Origin, tmp_path: Path) -> None:
    with pytest.raises(FetchFailed, match="redirected to a non-HTTPS URL"):
        await fetcher(origin).fetch_to(f"{origin.base}/to-http", tmp_path / "x")


@pytest.mark.anyio
async def test_redirect_to_a_url_with_credentials_is_refused_like_the_first_url(origin: Origin, tmp_path: Path) -> None:
    with pytest.raises(FetchFailed, match=r"redirected to a refused URL: .*must not contain a user name or password"):
        await fetcher(origin).fetch_to(f"{origin.base}/to-userinfo", tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.anyio
async def test_redirect_hops_are_checked_again(origin: Origin, tmp_path: Path) -> None:
    """With private networks refused, even the first hop (localhost) is refused by address."""
    with pytest.raises(FetchFailed, match=r"resolves to 127\.0\.0\.1, a loopback address"):
        await fetcher(origin, allow_private=False).fetch_to(f"{origin.base}/redirect/1/memo.mp3", tmp_path / "x")


@pytest.mark.anyio
async def test_http_error_status_is_named(origin: Origin, tmp_path: Path) -> None:
    with pytest.raises(FetchFailed, match="answered HTTP 404 Not Found"):
        await fetcher(origin).fetch_to(f"{origin.base}/status/404", tmp_path / "x")


@pytest.mark.anyio
async def test_untrusted_certificate_is_a_tls_error(origin: Origin, tmp_path: Path) -> None:
    with pytest.raises(FetchFailed, match="TLS certificate of localhost could not be verified"):
        await fetcher(origin, ca_bundle=None).fetch_to(f"{origin.base}/files/memo.mp3", tmp_path / "x")


@pytest.mark.anyio
async def test_declared_size_over_the_cap_is_refused_early(origin: Origin, tmp_path: Path) -> None:
    with pytest.raises(PayloadTooLarge, match=re.escape(f"a file of {LIMIT + 1:,} bytes; the limit is {LIMIT:,}")):
        await fetcher(origin).fetch_to(f"{origin.base}/declared-big", tmp_path / "x")


@pytest.mark.anyio
async def test_streamed_size_over_the_cap_is_cut_off(origin: Origin, tmp_path: Path) -> None:
    with pytest.raises(PayloadTooLarge, match="sent more than"):
        await fetcher(origin).fetch_to(f"{origin.base}/chunked-big", tmp_path / "x")
    assert (tmp_path / "x").stat().st_size <= LIMIT


@pytest.mark.anyio
async def test_whole_download_deadline(origin: Origin, tmp_path: Path) -> None:
    with pytest.raises(FetchFailed, match="took longer than 1 s"):
        await fetcher(origin, total_timeout=1.0).fetch_to(f"{origin.base}/slow", tmp_path / "x")


@pytest.mark.anyio
async def test_proxy_environment_is_ignored(origin: Origin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # a proxy that would refuse every connection
    got = await fetcher(origin).fetch_to(f"{origin.base}/files/memo.mp3", tmp_path / "x")
    assert got.size == 15
