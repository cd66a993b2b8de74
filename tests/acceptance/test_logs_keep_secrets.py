"""Secrets never reach the logs, in either format: a whole flow with known secrets, every line read.

The flow touches each secret where it lives: the partner's API key (every request, and a wrong one),
a webhook subscription's signing secret (every delivery is signed with it), a BlueBubbles line's
password (every call to the Mac carries it as ``?password=``), the token of our own signed upload
URL, the receipts hook's token in its path, and a voice memo URL signed S3-style (fetched once, and
once more where the origin refuses it).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from serving import client, serving
from test_cli_and_serve import BIN, cli, free_port

import testdb
from audiogen import Made
from fakebb import FakeMac, running_mac
from origin import https_origin
from receiver import webhook_receiver

PASSWORD = "mac-password-7f3c9e1d2b"
SIGNATURE = "5d41402abc4b2a76b9719d911017c592aa0bb0a3e5"
CREDENTIAL = "AKIAEXAMPLE7Q2W%2F20261130%2Fus-east-1%2Fs3%2Faws4_request"
ALICE = "+15550900002"
LINE = "+15550900001"


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_no_secret_appears_in_any_log_line(tmp_path: Path, corpus: dict[str, Made], log_format: str) -> None:
    data = tmp_path / "data"
    made = json.loads(cli(data, "partners", "create", "Acme", "--line", "+15550900009", "--json").stdout)
    api_key, port, output = made["api_key"], free_port(), []
    mac = FakeMac(password=PASSWORD, imessage={ALICE}, auto_deliver=0.1)
    (tmp_path / "origin").mkdir()
    password_file = tmp_path / "bb-password"
    password_file.write_text(PASSWORD + "\n")
    with (
        running_mac(mac) as running,
        https_origin(tmp_path / "origin") as origin,
        webhook_receiver() as receiver,
        serving(
            data, port, keep=output, log_format=log_format, fetch_allow_private_networks="true",
            fetch_ca_bundle=str(origin.ca_file),
        ) as _,
    ):  # fmt: skip
        add_line(data, port, made["partner_id"], running.url, password_file)
        hook_token = mac.webhooks[0]["url"].rsplit("/", 1)[-1]
        api = client(port, api_key)
        secret = api.webhook_subscriptions.create(
            target_url=receiver.url, subscribed_events=["message.sent", "message.delivered"]
        ).signing_secret
        chat_id = api.chats.create(from_=LINE, to=[ALICE], message={"parts": [{"type": "text", "value": "hi"}]}).chat.id
        signed = origin.add(
            f"memo.mp3?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={CREDENTIAL}&X-Amz-Signature={SIGNATURE}",
            corpus["mp3-xing"].path.read_bytes(),
            "audio/mpeg",
        )
        by_url = api.chats.send_voicememo(chat_id, voice_memo_url=signed).voice_memo
        refused = httpx.post(
            f"http://127.0.0.1:{port}/v3/chats/{chat_id}/voicememo",
            json={"voice_memo_url": f"{origin.base}/status/403?X-Amz-Signature={SIGNATURE}"},
            headers={"Authorization": f"Bearer {api_key}"},
        )
        assert refused.status_code == 400
        slot = api.attachments.create(
            filename="m.wav", content_type="audio/wav", size_bytes=corpus["wav-u8"].path.stat().st_size
        )  # type: ignore[arg-type]
        upload_token = slot.upload_url.split("token=", 1)[1]
        put = httpx.put(slot.upload_url, content=corpus["wav-u8"].path.read_bytes(), headers=slot.required_headers)
        assert put.status_code == 200
        by_upload = api.chats.send_voicememo(chat_id, attachment_id=slot.attachment_id).voice_memo
        wrong = httpx.get(f"http://127.0.0.1:{port}/v3/chats", headers={"Authorization": f"Bearer {api_key}x"})
        assert wrong.status_code == 401
        memos = {by_url.id, by_upload.id}
        receiver.wait_for(
            lambda e: e["event_type"] == "message.delivered" and memos.discard(e["data"]["id"]) is None and not memos,
            timeout=60,
        )

    assert len(mac.received) >= 2  # both memos went through the Mac, each call carrying its password
    lines = "".join(output)
    assert "webhook_attempt" in lines and "send_accepted" in lines and "job_started" in lines
    secrets = {
        "API key": api_key,
        "API key (body)": api_key.removeprefix("vm_"),
        "webhook secret": secret,
        "webhook secret (body)": secret.removeprefix("whsec_"),
        "sender password": PASSWORD,
        "URL signature": SIGNATURE,
        "URL credential": CREDENTIAL,
        "upload token": upload_token,
        "receipts hook token": hook_token,
    }
    leaked = {name for name, value in secrets.items() if value in lines}
    assert not leaked, leaked
    if log_format == "json":
        assert all(isinstance(json.loads(line), dict) for line in output)


def add_line(data: Path, port: int, partner_id: str, mac_url: str, password_file: Path) -> None:
    """`voicememo lines add` as an operator runs it next to the server (its callback on the server's port)."""
    env = {**os.environ, "VOICEMEMO_DATA_DIR": str(data), "VOICEMEMO_PORT": str(port), **testdb.database_env(data)}
    done = subprocess.run(
        [str(BIN), "lines", "add", LINE, "--partner", partner_id, "--sender", "bluebubbles", "--bluebubbles-url",
         mac_url, "--bluebubbles-password-file", str(password_file), "--json"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["receipts"] == "registered"
