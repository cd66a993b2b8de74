# Two commands on a fresh machine (python3 and make are all it needs):
#   make run    set up .venv, migrate, serve on the embedded default (SQLite + local files)
#   make test   set up .venv, lint, type-check, run the whole test suite
PYTHON ?= python3
UV := .tools/bin/uv
VENV := .venv
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
# Byte-compile at install: imports stay fast even where PYTHONDONTWRITEBYTECODE is set.
export UV_COMPILE_BYTECODE := 1

.PHONY: setup run test lint typecheck unit bench fuzz clean console-screenshot

$(UV): scripts/bootstrap_uv.py
	$(PYTHON) scripts/bootstrap_uv.py $(UV)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --python $(PYTHON)
	@touch $@

# The project's own modules are byte-compiled too (the install step compiles only dependencies): where
# PYTHONDONTWRITEBYTECODE is set, every command would otherwise compile what it imports (~30 ms).
setup: $(VENV)/.synced
	@$(VENV)/bin/python -m compileall -q src

run: setup
	$(if $(PORT),VOICEMEMO_PORT=$(PORT)) $(VENV)/bin/voicememo serve --dev

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks scripts fuzz
	$(VENV)/bin/ruff format --check src tests benchmarks scripts fuzz

typecheck: setup
	$(VENV)/bin/mypy src

# The whole suite on SQLite, then everything that runs a database on PostgreSQL (127.0.0.1:5432, trust
# auth; each test's data dir gets a fresh database, dropped after). VOICEMEMO_TEST_POSTGRES picks another server.
test: lint typecheck
	$(VENV)/bin/pytest -n 2 --dist loadgroup
	VOICEMEMO_TEST_DATABASE=postgresql $(VENV)/bin/pytest -n 2 --dist loadgroup \
		tests/api tests/integration tests/acceptance tests/contract

unit: setup
	$(VENV)/bin/pytest tests/unit

# Longer fuzzing of the audio intake: each atheris target for FUZZ_SECONDS (default 120), then the
# suite's hypothesis properties with FUZZ_EXAMPLES examples each (default 20000). Prints executions.
fuzz: setup
	$(UV) sync --locked --group fuzz
	$(VENV)/bin/python fuzz/run.py --seconds $(or $(FUZZ_SECONDS),120)
	VOICEMEMO_FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),20000) $(VENV)/bin/pytest -q -s -p no:cacheprovider \
		tests/unit/test_fuzz_audio.py

# docs/console.png, the README's screenshot, as the browser test that sends and plays a memo takes it
console-screenshot: setup
	VOICEMEMO_CONSOLE_SCREENSHOT=$(CURDIR)/docs/console.png $(VENV)/bin/pytest -q -p no:cacheprovider \
		tests/browser/test_console.py -k test_sign_in_send_watch_delivered_and_play

bench: setup
	$(VENV)/bin/python benchmarks/probe.py

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache fuzz/corpus fuzz/crashes
