"""`voicememo send` as a person runs it: a subprocess against a real `voicememo serve --dev`.

One server for the module (its dev partner, sandbox line +15550100001); the sandbox fails any
recipient matching "unreachable" (SANDBOX_FAIL_PATTERN) and never reads, so --wait ends at delivered.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import pty
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import linq
import pytest
from serving import voicememo_process
from test_cli_and_serve import BIN, cli, free_port

from audiogen import Made
from voicememo.audio.probe import probe_file

pytestmark = pytest.mark.xdist_group("cli_send")
LINE = "+15550100001"


@dataclass(frozen=True)
class Server:
    base_url: str
    key: str
    data_dir: Path

    def sdk(self, key: str | None = None) -> linq.LinqAPIV3:
        return linq.LinqAPIV3(api_key=key or self.key, base_url=self.base_url, max_retries=0)


@contextmanager
def dev_server(data_dir: Path, **settings: str) -> Iterator[Server]:
    """`voicememo serve --dev` on ``data_dir``: its dev partner's key, read from what it prints.

    It may serve the whole module (a few minutes on a loaded machine): killed after 15 minutes at most."""
    port = free_port()
    found: list[str] = []

    def is_up(lines: Iterator[str]) -> None:
        for line in lines:
            if "API key:" in line:
                found.append(line.split("API key:", 1)[1].split()[0])
            if "Uvicorn running on" in line:
                return

    with voicememo_process(["serve", "--dev"], data_dir, is_up, watchdog_seconds=900, port=str(port), **settings):
        assert found, "serve --dev printed no API key"
        yield Server(f"http://127.0.0.1:{port}", found[0], data_dir)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("send") / "data"
    with dev_server(data_dir, sandbox_fail_pattern="unreachable", sandbox_read_delay="-1") as running:
        yield running


def send(server: Server | None, *args: str, key: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """`voicememo send …` with the SDK's environment variables, as a user's shell would have them."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LINQ_API_V3_")}
    if server is not None:
        environ |= {"LINQ_API_V3_BASE_URL": server.base_url, "LINQ_API_V3_API_KEY": key or server.key}
    return subprocess.run(
        [str(BIN), "send", *args], capture_output=True, text=True, env={**environ, **env}, timeout=120
    )


def outcome(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    """The one JSON object --json prints, and nothing else on stdout."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    answer: dict[str, object] = json.loads(lines[0])
    return answer


def test_wait_json_reaches_delivered_and_the_next_send_reuses_the_chat(server: Server, corpus: dict[str, Made]) -> None:
    memo = corpus["m4a-moov-first"]
    first = send(server, str(memo.path), "--to", "+15557654321", "--text", "a memo follows", "--wait", "--json")
    assert first.returncode == 0, first.stderr
    made = outcome(first)
    assert made["ok"] is True and made["status"] == "delivered" and made["chat_created"] is True
    assert made["duration_ms"] == round(memo.samples * 1000 / memo.rate) == 3000
    assert [t["status"] for t in made["transitions"]] == ["sent", "delivered"]  # type: ignore[attr-defined]

    message = server.sdk().messages.retrieve(str(made["message_id"]))
    assert message.delivery_status == "delivered" and message.chat_id == made["chat_id"]
    # what the sandbox "sent": a voice-memo bubble of the memo's exact length
    outbox = server.data_dir / "sandbox" / "outbox" / str(made["message_id"])
    assert json.loads((outbox / "message.json").read_text())["audio_message"] is True
    assert probe_file(outbox / "Audio Message.caf").duration_ms == 3000

    again = send(server, str(corpus["mp3-xing"].path), "--to", "+15557654321", "--from", LINE, "--wait")
    assert again.returncode == 0, again.stderr
    assert f"chat {made['chat_id']} from {LINE} with +15557654321 (existing)" in again.stdout
    assert again.stdout.rstrip().endswith("delivered")
    chats = server.sdk().chats.list_chats(from_=LINE, to="+15557654321").chats
    assert [c.id for c in chats] == [made["chat_id"]]


def test_a_rerun_with_the_same_idempotency_key_does_not_send_again(server: Server, corpus: dict[str, Made]) -> None:
    args = (str(corpus["adts"].path), "--to", "+15557654329", "--text", "hi", "--idempotency-key", "run-1", "--json")
    first = outcome(send(server, *args))
    again = outcome(send(server, *args))
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["message_id"] == first["message_id"] and again["attachment_id"] == first["attachment_id"]
    messages = server.sdk().chats.messages.list(str(first["chat_id"])).messages
    assert sorted(m.id for m in messages if m.parts[0].type == "media") == [first["message_id"]]
    other = outcome(send(server, *args[:-3], "--idempotency-key", "run-2", "--json"))
    assert other["message_id"] != first["message_id"] and other["chat_id"] == first["chat_id"]


def test_a_new_chat_needs_its_opening_text(server: Server, corpus: dict[str, Made]) -> None:
    done = send(server, str(corpus["wav-s16"].path), "--to", "+15557654322")
    assert done.returncode == 2 and "--text" in done.stderr and "Traceback" not in done.stderr
    assert server.sdk().chats.list_chats(from_=LINE, to="+15557654322").chats == []


def test_a_png_renamed_m4a_is_refused_with_the_servers_reason(server: Server, tmp_path: Path) -> None:
    png = tmp_path / "memo.m4a"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    human = send(server, str(png), "--to", "+15557654323", "--text", "hi")
    assert human.returncode == 3
    assert "400/5004" in human.stderr and "it looks like a PNG image" in human.stderr
    scripted = outcome(send(server, str(png), "--to", "+15557654323", "--text", "hi", "--json"))
    assert (scripted["ok"], scripted["exit_code"], scripted["http_status"], scripted["error_code"]) == (
        False, 3, 400, 5004,
    )  # fmt: skip
    assert "PNG image" in str(scripted["error_reason"])
    # refused before the chat was opened: no chat, no opening text sent
    assert server.sdk().chats.list_chats(from_=LINE, to="+15557654323").chats == []


def test_a_failed_delivery_gives_its_code_and_reason(server: Server, corpus: dict[str, Made]) -> None:
    args = (str(corpus["wav-s16"].path), "--to", "unreachable@example.com", "--text", "hi", "--wait")
    scripted = send(server, *args, "--json")
    assert scripted.returncode == 1
    failed = outcome(scripted)
    assert (failed["ok"], failed["status"], failed["error_code"]) == (False, "failed", 4001)
    assert "unreachable@example.com is not reachable" in str(failed["error_reason"])
    human = send(server, str(corpus["wav-s16"].path), "--to", "Unreachable@Example.COM", "--wait")
    assert human.returncode == 1 and "delivery failed: 4001 unreachable@example.com is not reachable" in human.stderr
    assert f"chat {failed['chat_id']} from {LINE} with unreachable@example.com (existing)" in human.stdout
    assert human.stdout.rstrip().endswith("failed")


def test_a_wrong_key_is_an_auth_error(server: Server, corpus: dict[str, Made]) -> None:
    done = send(server, str(corpus["wav-s16"].path), "--to", "+15557654324", key="vm_not-a-key")
    assert done.returncode == 4 and "Traceback" not in done.stderr
    assert "the API key was refused: 401/2004" in done.stderr


def test_a_server_that_is_down_is_a_connection_error(corpus: dict[str, Made]) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    done = send(None, str(corpus["wav-s16"].path), "--to", "+15557654325", "--base-url", url, "--api-key", "vm_x")
    assert done.returncode == 5 and "Traceback" not in done.stderr
    assert f"could not connect to {url}" in done.stderr


def test_a_url_that_is_not_the_api_says_so(tmp_path: Path, corpus: dict[str, Made]) -> None:
    (tmp_path / "v3").mkdir()
    (tmp_path / "v3" / "phone_numbers").write_text("<html>a static site</html>")  # 200, but not JSON
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as site:
        threading.Thread(target=site.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{site.server_address[1]}"
        wav = str(corpus["wav-s16"].path)
        not_json = send(None, wav, "--to", "+15557654331", "--base-url", url, "--api-key", "vm_x")
        missing = send(None, wav, "--to", "+15557654331", "--base-url", f"{url}/elsewhere", "--api-key", "vm_x")
        site.shutdown()
    assert not_json.returncode == 5 and "is it a Partner API v3 server?" in not_json.stderr
    assert (
        missing.returncode == 3
        and "404" in missing.stderr
        and "is --base-url a Partner API v3 server?" in missing.stderr
    )
    assert "Traceback" not in not_json.stderr + missing.stderr


def test_local_checks_and_a_missing_key(tmp_path: Path, corpus: dict[str, Made]) -> None:
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    nokey = send(None, str(corpus["wav-s16"].path), "--to", "+15557654326")
    assert nokey.returncode == 2 and "no API key" in nokey.stderr and "LINQ_API_V3_API_KEY" in nokey.stderr
    missing = send(None, str(tmp_path / "nope.m4a"), "--to", "+15557654326", "--api-key", "vm_x")
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert "the file is empty" in send(None, str(empty), "--to", "+15557654326", "--api-key", "vm_x").stderr


def test_several_lines_must_be_chosen(server: Server, corpus: dict[str, Made]) -> None:
    made = json.loads(cli(server.data_dir, "partners", "create", "Two", "--line", "+15550300001", "--json").stdout)
    cli(server.data_dir, "lines", "add", "+15550300002", "--partner", made["partner_id"])
    wav = str(corpus["wav-s16"].path)
    done = send(server, wav, "--to", "+15557654327", key=made["api_key"])
    assert done.returncode == 2 and "choose one with --from: +15550300001, +15550300002" in done.stderr
    chosen = outcome(send(server, wav, "--to", "+15557654327", "--from", "+15550300002", "--text", "hi", "--json",
                          key=made["api_key"]))  # fmt: skip
    assert chosen["from"] == "+15550300002" and chosen["status"] == "queued"
    wrong = send(server, wav, "--to", "+15557654327", "--from", LINE, key=made["api_key"])
    assert wrong.returncode == 2 and f"--from {LINE} is not a line of this API key" in wrong.stderr


def test_wait_gives_up_at_its_timeout(tmp_path: Path, corpus: dict[str, Made]) -> None:
    # sent at once, delivered only in 10 minutes
    with dev_server(tmp_path / "data", sandbox_delivered_delay="600") as server:
        args = (str(corpus["wav-s16"].path), "--to", "+15557654330", "--text", "hi", "--wait", "--timeout", "2")
        done = send(server, *args, "--json")
    assert done.returncode == 6
    late = outcome(done)
    assert late["status"] == "sent" and "after 2 s (--timeout)" in str(late["error"])


def on_a_terminal(server: Server, *args: str) -> tuple[subprocess.CompletedProcess[bytes], str]:
    """Run `voicememo send` with stderr on a pseudo-terminal (stdout a pipe); what the terminal showed."""
    parent, child = pty.openpty()
    environ = {**os.environ, "LINQ_API_V3_BASE_URL": server.base_url, "LINQ_API_V3_API_KEY": server.key}
    proc = subprocess.Popen([str(BIN), "send", *args], stdout=subprocess.PIPE, stderr=child, env=environ)
    os.close(child)
    shown = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(parent, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stdout, _ = proc.communicate(timeout=120)
    reader.join(timeout=30)
    os.close(parent)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, b""), shown.decode(errors="replace")


def test_the_progress_bar_shows_on_a_terminal_and_not_for_scripts(server: Server, corpus: dict[str, Made]) -> None:
    memo = corpus["wav-s24-stereo"]
    size = memo.path.stat().st_size
    human, shown = on_a_terminal(server, str(memo.path), "--to", "+15557654328", "--text", "hi", "--wait")
    assert human.returncode == 0
    assert f"uploading {memo.path.name}" in shown and f"{size / 1000:.1f}/{size / 1000:.1f} kB" in shown
    assert "waiting for delivery" in shown  # the live status line of --wait

    scripted, shown = on_a_terminal(server, str(memo.path), "--to", "+15557654328", "--json", "--wait")
    assert scripted.returncode == 0 and shown == ""
    assert json.loads(scripted.stdout)["status"] == "delivered"

    forced = send(server, str(memo.path), "--to", "+15557654328", "--progress")  # stderr a pipe, bar asked for
    assert forced.returncode == 0 and f"uploading {memo.path.name}" in forced.stderr
