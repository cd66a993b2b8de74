"""A real `voicememo serve` process and Debian's Chromium driven by Playwright, headless.

Playwright is used with ``executable_path=/usr/bin/chromium`` (`.ci/run` installs Debian's package);
it never downloads a browser. One server and one browser per module keep the suite quick; each test
gets its own browser context (cookies) and its own partner where it matters.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import linq
import numpy as np
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

sys.path.insert(0, str(Path(__file__).parents[1] / "acceptance"))

from serving import serving
from test_cli_and_serve import cli, free_port

from audiogen import encode, voice_signal
from receiver import Receiver, webhook_receiver

CHROMIUM = Path(os.environ.get("VOICEMEMO_CHROMIUM", "/usr/bin/chromium"))
ADMIN_TOKEN = "browser-tests-admin-token"
_lines = count(1)


@dataclass(frozen=True)
class Partner:
    id: str
    key: str
    line: str


@dataclass
class Served:
    base_url: str
    data_dir: Path
    hooks: Receiver
    failing_hooks: Receiver

    def new_partner(self) -> Partner:
        """A partner with its own sandbox line and key, made with the CLI on the server's data dir."""
        line = f"+1555030{next(_lines):04d}"
        made = json.loads(cli(self.data_dir, "partners", "create", f"Partner {line}", "--line", line, "--json").stdout)
        return Partner(made["partner_id"], made["api_key"], made["line"])

    def client(self, partner: Partner) -> linq.LinqAPIV3:
        return linq.LinqAPIV3(api_key=partner.key, base_url=self.base_url, max_retries=0)

    def new_chat(self, partner: Partner, handle: str) -> str:
        created = self.client(partner).chats.create(
            from_=partner.line, to=[handle], message={"parts": [{"type": "text", "value": "Hi there"}]}
        )
        return created.chat.id


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("console-server")
    port = free_port()
    with webhook_receiver() as hooks, webhook_receiver(fail_first=10**9) as failing:
        settings = {
            "admin_token": ADMIN_TOKEN,
            "fetch_allow_private_networks": "true",  # the webhook receivers listen on 127.0.0.1
            "sandbox_delivered_delay": "0.6",  # slow enough to watch the ticks move
            "job_poll_interval": "0.2",
            "webhook_retry_base_seconds": "0.1",
            "webhook_give_up_after_seconds": "0.5",  # the failing receiver's jobs die at once
            "webhook_timeout": "3",
            "api_key_cache_seconds": "0",
        }
        # one server for the module: its watchdog must outlast every test of it on a busy machine
        with serving(data_dir, port, watchdog_seconds=900, **settings):
            yield Served(f"http://127.0.0.1:{port}", data_dir, hooks, failing)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=["--autoplay-policy=no-user-gesture-required", "--no-sandbox"],
    )
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    context = browser.new_context(base_url=served.base_url, viewport={"width": 1100, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A loud spoken-like memo (M4A/AAC), the same length of digital silence (WAV), and a fake MP3."""
    d = tmp_path_factory.mktemp("sounds")
    rate = 24000
    loud = encode(d / "loud memo.m4a", fmt="ipod", codec="aac", seconds=2.4, rate=rate, bit_rate=64000)
    silent = encode(
        d / "silence.wav", fmt="wav", codec="pcm_s16le", rate=rate, signal=np.zeros((1, int(2.4 * rate)), np.float32)
    )
    quiet = encode(
        d / "quiet.wav", fmt="wav", codec="pcm_s16le", rate=rate, signal=voice_signal(2.4, rate) * np.float32(0.3)
    )
    bad = d / "not-audio.mp3"
    bad.write_bytes(b"These are the minutes of the meeting, not a recording.\n" * 40)
    return {"loud": loud.path, "silent": silent.path, "quiet": quiet.path, "bad": bad}
