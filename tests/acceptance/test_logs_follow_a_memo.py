"""`LOG_FORMAT=json`: every line a JSON object, and one trace id from the request to the webhook.

A memo sent with the SDK answers with an X-Trace-ID; the webhook its delivery sends carries that
trace id, and the server's log lines holding it show the memo's whole life: accepted, its deliver job,
the send, the webhook attempt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from serving import client, serving
from test_cli_and_serve import cli, free_port

from api.helpers import new_chat, upload_file
from audiogen import Made
from receiver import webhook_receiver


def test_one_trace_id_follows_a_memo_from_the_request_to_its_webhook(tmp_path: Path, corpus: dict[str, Made]) -> None:
    data = tmp_path / "data"
    made = json.loads(cli(data, "partners", "create", "Acme", "--line", "+15550700001", "--json").stdout)
    port = free_port()
    output: list[str] = []
    with (
        webhook_receiver() as receiver,
        serving(data, port, keep=output, log_format="json", fetch_allow_private_networks="true"),
    ):
        api = client(port, made["api_key"])
        api.webhook_subscriptions.create(target_url=receiver.url, subscribed_events=["message.delivered"])
        chat_id = new_chat(api, made["line"])
        attachment_id = upload_file(api, corpus["wav-s16"].path, "audio/wav")
        raw = api.chats.with_raw_response.send_voicememo(chat_id, attachment_id=attachment_id)
        trace_id = raw.headers["x-trace-id"]
        memo = raw.parse().voice_memo
        delivered = receiver.wait_for(lambda e: e["data"]["id"] == memo.id, timeout=60)[-1]

    assert delivered.event["trace_id"] == trace_id
    lines = [parse(line) for line in output]  # every line: exactly one JSON object (stdout and stderr)
    assert any(line.get("logger") == "uvicorn.error" for line in lines)  # the standard library's records too
    followed = [line for raw_line, line in zip(output, lines, strict=True) if trace_id in raw_line]
    assert all(line["trace_id"] == trace_id for line in followed)
    seen = {(line["event"], line.get("kind") or line.get("event_type")) for line in followed}
    assert ("voicememo_accepted", None) in seen
    assert ("job_started", "deliver") in seen and ("job_finished", "deliver") in seen
    assert ("send_started", None) in seen and ("send_accepted", None) in seen
    assert ("job_started", "webhook") in seen
    assert ("webhook_attempt", "message.delivered") in seen
    accepted = next(line for line in followed if line["event"] == "voicememo_accepted")
    assert (accepted["message_id"], accepted["source"], accepted["format"]) == (memo.id, "attachment", "wav")
    # another request's trace stays its own: the chat's opening text went under the chat's request
    assert sum(line["event"] == "send_started" for line in followed) == 1


def parse(line: str) -> dict[str, Any]:
    value = json.loads(line)
    assert isinstance(value, dict), line
    return value
