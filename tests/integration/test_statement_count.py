"""The accept path's SQL statements, pinned to a ceiling: a change that adds round trips fails here.

Measured with benchmarks/throughput.py, which prints the same counts: 13 statements in 4
transactions before the accept path was folded into one read and one write; 8 after (BEGIN; the
chat with its handles; the attachment; BEGIN IMMEDIATE; the attachment still there; message, part, job).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import testdb
from audiogen import encode
from receiver import webhook_receiver
from statements import count_statements
from voicememo.settings import Settings

ACCEPT_CEILING = 8
#: + claiming the key (a read and an insert in a write), its link to the memo, storing the answer
ACCEPT_WITH_IDEMPOTENCY_KEY_CEILING = 16
#: every statement from the memo's claim to its signed message.delivered webhook (sandbox answering at once):
#: 53 before delivery was profiled, 45.6 after the first cuts; 27.6 once the sandbox's immediate receipt is
#: applied in the send's own transaction (no receipt job, no second load of the message), webhook
#: subscriptions are read once per transaction, a send's acceptance and a receipt are one Core statement
#: each, the renditions are read in the delivery's one read and a claim refills several worker slots
DELIVER_CEILING = 30


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    return encode(tmp_path / "memo.mp3", fmt="mp3", codec="libmp3lame", seconds=2, bit_rate=64000).path


def settings_at(data_dir: Path, **more: object) -> Settings:
    made = Settings(data_dir=data_dir, database_url=testdb.database_url(data_dir), workers_in_process=False, **more)  # type: ignore[arg-type]
    made.ensure_dirs()
    return made


def test_accepting_a_memo_by_attachment_id_stays_within_its_statements(tmp_path: Path, audio: Path) -> None:
    counts = count_statements(settings_at(tmp_path / "data"), audio, 5, None)
    assert counts.per_accepted <= ACCEPT_CEILING, "\n".join(counts.accepted_sql)


def test_with_an_idempotency_key_too(tmp_path: Path, audio: Path) -> None:
    counts = count_statements(settings_at(tmp_path / "data"), audio, 5, None, idempotency_keys=True)
    assert counts.per_accepted <= ACCEPT_WITH_IDEMPOTENCY_KEY_CEILING, "\n".join(counts.accepted_sql)


def test_delivering_a_memo_stays_within_its_statements(tmp_path: Path, audio: Path) -> None:
    settings = settings_at(
        tmp_path / "data",
        sandbox_delivered_delay=0,
        sandbox_read_delay=-1,
        job_poll_interval=0.2,
        fetch_allow_private_networks=True,
    )
    with webhook_receiver() as receiver:
        counts = count_statements(settings, audio, 100, receiver)  # four chats, as the benchmark has twelve
    assert counts.per_delivered is not None
    assert counts.per_delivered <= DELIVER_CEILING, "\n".join(counts.delivered_sql or [])
