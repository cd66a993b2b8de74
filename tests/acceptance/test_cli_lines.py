"""`voicememo lines` against a fake Mac, as an operator types it: add, check, update, list, remove.

The BlueBubbles password goes in through a file or standard input and comes out nowhere: not in
any command's output, not in plain text in the database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import testdb
from fakebb import FakeMac, running_mac

BIN = Path(sys.executable).with_name("voicememo")
PASSWORD = "pa55-word-of-the-mac"
LINE = "+15550600001"


def test_connecting_a_mac_to_a_line(tmp_path: Path) -> None:
    outputs: list[str] = []

    def cli(*args: str, code: int = 0, stdin: str | None = None) -> str:
        env = {**os.environ, "VOICEMEMO_DATA_DIR": str(tmp_path / "data"), **testdb.database_env(tmp_path / "data")}
        done = subprocess.run(
            [str(BIN), *args], capture_output=True, text=True, env=env, input=stdin, timeout=120, check=False
        )
        outputs.extend((done.stdout, done.stderr))
        assert done.returncode == code, done.stdout + done.stderr
        return done.stdout if code in (0, 1) else done.stderr

    secret = tmp_path / "bb-password"
    secret.write_text(PASSWORD + "\n")
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not it\n")
    mac = FakeMac(password=PASSWORD)
    with running_mac(mac) as running:
        partner = json.loads(cli("partners", "create", "Acme", "--line", "+15550600009", "--json"))["partner_id"]
        added = json.loads(
            cli(
                "lines",
                "add",
                LINE,
                "--partner",
                partner,
                "--sender",
                "bluebubbles",
                "--bluebubbles-url",
                running.url + "/",
                "--bluebubbles-password-file",
                str(secret),
                "--json",
            )
        )
        assert (added["health"], added["private_api"], added["helper_connected"], added["receipts"]) == (
            "HEALTHY",
            True,
            True,
            "registered",
        )
        assert (added["os_version"], added["server_version"], added["detected_imessage"]) == (
            "14.6",
            "1.9.9",
            "line@icloud.com",
        )
        assert added["settings"] == {"url": running.url, "send_sms": True}
        assert [h["url"].split("/hooks/lines/")[1].split("/")[0] for h in mac.webhooks] == [added["line_id"]]

        text = cli("lines", "check", LINE)
        assert "HEALTHY" in text and "receipts webhook  registered" in text
        assert len(mac.webhooks) == 1  # checked again: our earlier webhook replaced, not piled up

        mac.private_api = False
        text = cli("lines", "check", LINE, code=1)
        assert "CRITICAL" in text and "private_api       no" in text and "Settings → Private API" in text
        mac.private_api = True

        text = cli("lines", "update", LINE, "--bluebubbles-password-file", str(wrong))
        assert "CRITICAL" in text and "refused the password" in text
        cli("lines", "update", LINE, "--bluebubbles-password-file", "-", "--no-sms", stdin=PASSWORD)
        listed = json.loads(cli("lines", "list", "--partner", partner, "--json"))["lines"]
        mine = next(x for x in listed if x["phone_number"] == LINE)
        assert (mine["sender"], mine["health"], mine["settings"]["send_sms"]) == ("bluebubbles", "HEALTHY", False)

        assert "http:// or https://" in cli(
            "lines", "add", "+15550600002", "--partner", partner, "--sender", "bluebubbles",
            "--bluebubbles-url", "ftp://mac", "--bluebubbles-password-file", str(secret), code=2,
        )  # fmt: skip
        assert "needs a password" in cli(
            "lines", "add", "+15550600002", "--partner", partner, "--sender", "bluebubbles",
            "--bluebubbles-url", running.url, code=2,
        )  # fmt: skip
        assert "is empty" in cli("lines", "update", LINE, "--bluebubbles-password-file", "-", stdin="\n", code=2)

        cli("lines", "remove", LINE)
        assert mac.webhooks == []  # the Mac no longer pushes to a line that is gone
        assert "No line" in cli("lines", "check", LINE, code=2)

    assert all(PASSWORD not in out for out in outputs)
    assert PASSWORD.encode() not in testdb.stored_bytes(tmp_path / "data")


def test_a_line_with_chats_is_removed_only_with_force(tmp_path: Path) -> None:
    env = {**os.environ, "VOICEMEMO_DATA_DIR": str(tmp_path / "data"), **testdb.database_env(tmp_path / "data")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, timeout=120, check=False)

    made = json.loads(run("partners", "create", "Acme", "--line", "+15550600011", "--json").stdout)
    script = (
        "import asyncio\n"
        "from voicememo.container import Container\nfrom voicememo.settings import Settings\n"
        "async def go():\n    c = Container(Settings())\n"
        f"    await c.chats.create({made['partner_id']!r}, '+15550600011', ['+15550600012'],"
        " {'parts': [{'type': 'text', 'value': 'hi'}]})\n    await c.aclose()\n"
        "asyncio.run(go())\n"
    )
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)
    refused = run("lines", "remove", "+15550600011")
    assert refused.returncode == 2 and "has 1 chat(s)" in refused.stderr and "--force" in refused.stderr
    removed = run("lines", "remove", "+15550600011", "--force")
    assert removed.returncode == 0 and "and its 1 chat(s)" in removed.stdout
    assert json.loads(run("lines", "list", "--json").stdout)["lines"] == []
