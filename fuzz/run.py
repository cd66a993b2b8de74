"""``make fuzz``: the seed corpus, then each atheris target for FUZZ_SECONDS, then a summary of runs.

Seeds are the short real files of tests/fuzzseeds.py (the same the suite's hypothesis tests
mutate); each target keeps its own growing corpus under fuzz/corpus/ and writes any crashing
input to fuzz/crashes/ (both ignored by git). Exits 1 when a target found a crash.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
TARGETS = {"sniff": None, "probe": None, "caf": ("opus-caf", "caf-pcm", "amr-caf")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60, help="time per target")
    parser.add_argument("--targets", nargs="*", default=list(TARGETS))
    args = parser.parse_args()
    seeds = make_seed_dir(HERE / "corpus" / "seeds")
    failed, rows = False, []
    for name in args.targets:
        corpus = HERE / "corpus" / name
        corpus.mkdir(parents=True, exist_ok=True)
        wanted = TARGETS[name]
        for path in seeds.iterdir():
            if wanted is None or path.stem in wanted:
                shutil.copy(path, corpus / path.name)
        crashes = HERE / "crashes"
        crashes.mkdir(exist_ok=True)
        command = [
            sys.executable,
            str(HERE / "targets.py"),
            name,
            str(corpus),
            f"-max_total_time={args.seconds}",
            "-max_len=65536",
            "-timeout=30",
            "-rss_limit_mb=2048",
            f"-artifact_prefix={crashes}/{name}-",
            "-print_final_stats=1",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        log = HERE / "corpus" / f"{name}.log"
        log.write_text(done.stdout + done.stderr)
        runs = re.findall(r"^Done (\d+) runs in (\d+) second", done.stderr, re.MULTILINE)
        execs = int(runs[-1][0]) if runs else _stat(done.stderr, "stat::number_of_executed_units")
        rows.append((name, execs, done.returncode, log))
        failed |= done.returncode != 0
    for name, execs, code, log in rows:
        verdict = "ok" if code == 0 else f"CRASH (exit {code}, see {log} and fuzz/crashes/)"
        print(f"{name:6} {execs:>10,} executions  {verdict}")
    return 1 if failed else 0


def make_seed_dir(directory: Path) -> Path:
    """The seed files, one per name (fuzz/corpus/seeds/<name>.<ext>)."""
    sys.path.insert(0, str(TESTS))
    from fuzzseeds import make_seeds

    made = make_seeds(directory / "made")
    for name, path in made.items():
        shutil.copy(path, directory / f"{name}{path.suffix}")
    shutil.rmtree(directory / "made")
    return directory


def _stat(log: str, key: str) -> int:
    found = re.findall(rf"^{re.escape(key)}:\s*(\d+)", log, re.MULTILINE)
    return int(found[-1]) if found else 0


if __name__ == "__main__":
    sys.exit(main())
