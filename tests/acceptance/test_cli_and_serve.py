"""The operator's view: the CLI and `voicememo serve --dev` (what `make run` starts), as subprocesses."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import linq
import pytest

import testdb
from audiogen import Made

BIN = Path(sys.executable).with_name("voicememo")


def cli(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VOICEMEMO_DATA_DIR": str(data_dir), **testdb.database_env(data_dir)}
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, check=check, timeout=120)


def test_partner_line_and_key_administration(tmp_path: Path) -> None:
    made = json.loads(cli(tmp_path, "partners", "create", "Acme", "--line", "+15550200001", "--json").stdout)
    assert set(made) == {"partner_id", "api_key", "line"} and made["line"] == "+15550200001"
    cli(tmp_path, "lines", "add", "+15550200002", "--partner", made["partner_id"])
    lines = json.loads(cli(tmp_path, "lines", "list", "--partner", made["partner_id"], "--json").stdout)["lines"]
    assert [x["phone_number"] for x in lines] == ["+15550200001", "+15550200002"]
    key = json.loads(cli(tmp_path, "keys", "create", "--partner", made["partner_id"], "--json").stdout)
    cli(tmp_path, "keys", "revoke", key["key_id"])
    keys = json.loads(cli(tmp_path, "keys", "list", "--partner", made["partner_id"], "--json").stdout)["keys"]
    assert [k["revoked_at"] is not None for k in keys] == [False, True]
    dup = cli(tmp_path, "lines", "add", "+15550200002", "--partner", made["partner_id"], check=False)
    assert dup.returncode == 2 and "already registered" in dup.stderr
    bad = cli(tmp_path, "partners", "create", "X", "--line", "555", check=False)
    assert bad.returncode == 2 and "E.164" in bad.stderr


def test_audio_probe_command(tmp_path: Path, corpus: dict[str, Made], amr_wb_dtx: Path) -> None:
    png = tmp_path / "cover.mp3"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    result = cli(tmp_path, "audio", "probe", "--json", str(corpus["adts"].path), str(amr_wb_dtx), str(png), check=False)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1
    assert (rows[0]["format"], rows[0]["mime_type"], rows[0]["codec"]) == ("aac", "audio/aac", "aac")
    assert (rows[1]["duration_ms"], rows[1]["sample_rate"], rows[1]["channels"]) == (8580, 16000, 1)
    assert rows[2]["ok"] is False and "PNG image" in rows[2]["error"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    port = free_port()
    env = {
        **os.environ,
        "VOICEMEMO_DATA_DIR": str(tmp_path / "data"),
        **testdb.database_env(tmp_path / "data"),
        "VOICEMEMO_PORT": str(port),
    }
    proc = subprocess.Popen(
        [str(BIN), "serve", "--dev"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert proc.stdout is not None
    key, seen = "", []
    for line in proc.stdout:  # wait for the server to say it is up (no sleeps)
        seen.append(line)
        if "API key:" in line:
            key = line.split("API key:", 1)[1].split()[0]
        if "Uvicorn running on" in line:  # once the socket listens
            break
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain: a full pipe would block it
    assert key, "".join(seen)
    # `make run` prints where the console is, and (dev only) the operator's admin token
    assert f"  console:  http://127.0.0.1:{port}/console" in "".join(seen), "".join(seen)
    assert f"  operator: http://127.0.0.1:{port}/console/operator   admin token: " in "".join(seen)
    try:
        yield f"http://127.0.0.1:{port}", key, tmp_path / "data"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_serve_dev_bootstraps_and_serves(served: tuple[str, str, Path]) -> None:
    base_url, key, data_dir = served
    client = linq.LinqAPIV3(api_key=key, base_url=base_url, _strict_response_validation=True)
    assert [n.phone_number for n in client.phone_numbers.list().phone_numbers] == ["+15550100001"]
    # The CLI works against the same data dir while the server runs.
    partners = json.loads(cli(data_dir, "partners", "list", "--json").stdout)["partners"]
    second = json.loads(cli(data_dir, "keys", "create", "--partner", partners[0]["partner_id"], "--json").stdout)
    other = linq.LinqAPIV3(api_key=second["api_key"], base_url=base_url, _strict_response_validation=True)
    assert other.phone_numbers.list().phone_numbers[0].phone_number == "+15550100001"
