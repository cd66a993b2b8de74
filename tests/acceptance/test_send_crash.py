"""A worker SIGKILLed after the Mac accepted a memo but before we recorded it: the memo goes once.

The fake Mac records the memo and then holds its answer; the worker is killed while it waits.
The next worker finds the send record still ``attempting``, asks the Mac whether that attempt
arrived (it did), takes it as sent, and never calls the attachment route again.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from test_worker_crash import crash, queue_a_memo, start_worker, wait_for_log

import testdb
from audiogen import Made
from fakebb import FakeMac, Fault, running_mac

PASSWORD = "a-mac-password-that-must-never-be-logged"
ALICE = "+15550500002"


def test_killed_between_the_macs_acceptance_and_our_commit_sends_once(tmp_path: Path, corpus: dict[str, Made]) -> None:
    mac = FakeMac(password=PASSWORD, imessage={ALICE})
    mac.add_chat([ALICE])
    with running_mac(mac) as running:
        env = {
            **os.environ,
            "VOICEMEMO_DATA_DIR": str(tmp_path / "data"),
            **testdb.database_env(tmp_path / "data"),
            "VOICEMEMO_LOG_FORMAT": "json",
            "VOICEMEMO_JOB_LEASE_SECONDS": "2",
            "VOICEMEMO_JOB_POLL_INTERVAL": "0.2",
            "VOICEMEMO_BLUEBUBBLES_SEND_TIMEOUT": "120",
        }
        settings = testdb.migrated_settings(tmp_path / "data")
        message_id = queue_a_memo(settings, corpus["wav-s16"].path, to=ALICE, bluebubbles=(running.url, PASSWORD))
        mac.faults.append(Fault("attachment", hang_after=120))  # recorded on the Mac, answer held back

        logs: list[str] = []
        first = start_worker(env)
        try:
            wait_for_log(first, logs, event="send_started", message_id=message_id)
            mac.wait(lambda: len(mac.received) == 1)  # the Mac has the memo; we have not heard back
        finally:
            crash(first)

        second = start_worker(env)
        try:
            found = wait_for_log(second, logs, event="send_found_earlier", message_id=message_id)
            wait_for_log(second, logs, event="message_status", action="sent", message_id=message_id)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)

    assert found["action"] == "recovered"
    assert len(mac.received) == 1 and mac.requests.count("POST /api/v1/message/attachment") == 1
    assert mac.received[0].fields["isAudioMessage"] == "true"
    assert second.returncode == 0
    assert all(PASSWORD not in line for line in logs)
    assert any(json.loads(line).get("event") == "job_started" for line in logs if line.startswith("{"))
