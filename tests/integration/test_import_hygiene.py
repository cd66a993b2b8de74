"""What the CLI and the audio pool's workers load: only what the job needs (issue 8).

No timing: these tests name the modules that must stay out. `voicememo --help` and
`voicememo audio probe` took ~0.85 s when the CLI imported the server at start-up, and each
pool worker held 111-117 MB when it imported the whole app.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import pytest

#: the server's stack: a CLI command that does not serve or touch the database never loads these
SERVER = (
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "aiosqlite",
    "httpx",
    "structlog",
    "cryptography",
    "pydantic_settings",
    "voicememo.api",
    "voicememo.container",
    "voicememo.services",
    "voicememo.storage",
    "voicememo.jobs",
    "voicememo.senders",
    "voicememo.settings",
)
AUDIO = ("av", "numpy", "voicememo.audio.render")

RUN_CLI = """
import json, sys
from voicememo.cli.app import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_by_cli(*args: str) -> tuple[str, set[str]]:
    """What a CLI command printed, and the modules it had loaded when it exited (a fresh interpreter)."""
    done = subprocess.run([sys.executable, "-c", RUN_CLI, *args], capture_output=True, text=True, timeout=60)
    return done.stdout, set(json.loads(done.stderr.strip().splitlines()[-1]))


def present(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if n in modules)


def test_the_console_script_module_imports_nothing() -> None:
    code = "import sys; before = set(sys.modules); import voicememo.cli.main; print(sorted(set(sys.modules) - before))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "['voicememo', 'voicememo.cli', 'voicememo.cli.main']"


def test_the_cli_app_loads_neither_the_server_nor_the_audio_code() -> None:
    code = "import json, sys, voicememo.cli.app; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    modules = set(json.loads(done.stdout))
    assert "typer" in modules
    assert present(modules, SERVER + AUDIO) == []


def test_help_loads_neither_the_server_nor_the_audio_code() -> None:
    printed, modules = loaded_by_cli("--help")
    assert "audio" in printed
    assert present(modules, SERVER + AUDIO) == []


def test_audio_probe_loads_pyav_and_nothing_of_the_server(tmp_path: Path) -> None:
    one_second = tmp_path / "one.wav"
    with wave.open(str(one_second), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(bytes(32000))
    printed, modules = loaded_by_cli("audio", "probe", str(one_second))
    assert printed.strip().endswith("16000 Hz 1 ch 1000 ms")
    assert present(modules, SERVER) == []


POOL_MAIN = """
import sys

from voicememo.cli.main import main  # what the installed console script imports; workers run it again


def loaded():
    return sorted(sys.modules)


if __name__ == "__main__":
    import json

    import voicememo.server  # the parent holds the whole app, as under `voicememo serve`
    from voicememo.audio.pool import start_workers

    with start_workers(1) as pool:
        print(json.dumps(pool.submit(loaded).result(timeout=60)))
"""


@pytest.mark.slow
def test_a_pool_worker_loads_the_audio_code_and_nothing_of_the_server(tmp_path: Path) -> None:
    script = tmp_path / "serve_like.py"
    script.write_text(textwrap.dedent(POOL_MAIN))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout))
    assert present(modules, AUDIO) == list(sorted(AUDIO))  # preloaded by the forkserver
    assert present(modules, (*SERVER, "typer", "voicememo.cli.app")) == []


def test_send_help_loads_neither_the_http_client_nor_the_server() -> None:
    printed, modules = loaded_by_cli("send", "--help")
    assert "Exit codes" in printed
    assert present(modules, (*SERVER, *AUDIO, "voicememo.cli.sendflow", "voicememo.cli.partnerapi")) == []
