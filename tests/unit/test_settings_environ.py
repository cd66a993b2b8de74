"""Settings reach `serve --workers` processes through the environment: what a child rebuilds is what was given."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicememo.settings import Settings


def test_settings_given_as_arguments_survive_the_trip_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = Settings(
        data_dir=tmp_path,
        port=9123,
        api_processes=3,
        workers_in_process=False,
        secret_key="s" * 40,
        job_poll_interval=0.5,
        blob_url="s3://memos/vm",
        s3_endpoint_url="http://127.0.0.1:5055",
        s3_access_key_id="k",
        s3_secret_access_key="the-s3-secret",
    )
    for name, value in given.to_environ().items():
        monkeypatch.setenv(name, value)
    child = Settings()
    assert child == given
    assert child.secret_key is not None and child.secret_key.get_secret_value() == "s" * 40
    assert child.s3_secret_access_key is not None
    assert child.s3_secret_access_key.get_secret_value() == "the-s3-secret", "a secret is passed on, not its mask"
