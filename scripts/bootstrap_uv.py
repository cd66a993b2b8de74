"""Fetch a pinned uv into .tools/bin using only the Python standard library.

A fresh Debian machine may have python3 without pip or venv (those are separate
Debian packages); uv creates the project's virtualenv itself, so uv is all we need.
The wheel comes from the package index and is checked against a pinned sha256.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import stat
import sys
import urllib.request
import zipfile
from pathlib import Path

VERSION = "0.13.8"
WHEELS = {
    "x86_64": (
        f"uv-{VERSION}-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "e18a57b8b352eb7c8feb317b9f6f533c8f0ad9673fd6cf34bbe3cf1a9f6a8984",
    ),
    "aarch64": (
        f"uv-{VERSION}-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl",
        "0b3e8b1a4f5e405e31e2ff33de8af4744831e9f7338539671efbd8c3c94e791d",
    ),
}


def main() -> int:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".tools/bin/uv")
    if target.exists():
        return 0
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if machine not in WHEELS:
        print(f"no pinned uv wheel for {machine}; install uv {VERSION} yourself into {target}", file=sys.stderr)
        return 1
    filename, sha256 = WHEELS[machine]
    index = os.environ.get("UV_BOOTSTRAP_INDEX", "https://pypi.org/simple").rstrip("/")
    url = _find_url(f"{index}/uv/", filename)
    print(f"downloading {filename}", file=sys.stderr)
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 (https index URL)
        data = response.read()
    if hashlib.sha256(data).hexdigest() != sha256:
        print("uv wheel checksum mismatch; refusing to install it", file=sys.stderr)
        return 1
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        binary = wheel.read(f"uv-{VERSION}.data/scripts/uv")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    partial.replace(target)
    return 0


def _find_url(index_page: str, filename: str) -> str:
    """The file's URL from the PEP 503 simple page (mirrors may host files elsewhere)."""
    with urllib.request.urlopen(index_page, timeout=60) as response:  # noqa: S310
        page = response.read().decode()
    marker = f">{filename}<"
    at = page.find(marker)
    if at < 0:
        raise SystemExit(f"{filename} is not listed at {index_page}")
    href_start = page.rfind('href="', 0, at) + len('href="')
    href = page[href_start : page.find('"', href_start)].split("#", 1)[0]
    return urllib.request.urljoin(index_page, href.replace("&amp;", "&"))


if __name__ == "__main__":
    raise SystemExit(main())
