"""Coverage-guided fuzz targets (atheris) for the audio intake: the sniffer, the probe, the CAF reader.

Run through ``make fuzz`` (fuzz/run.py), which makes the seed corpus and runs each target for a
while. A target fails only on an error the code does not document: the sniffer never raises, the
probe raises UnsupportedAudio, the CAF reader CafError. Only our own modules are instrumented;
FFmpeg is exercised through PyAV but not instrumented.

    python fuzz/targets.py sniff|probe|caf CORPUS_DIR [libFuzzer flags...]
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["voicememo.audio"]):
    from voicememo.audio.caf import CafError, read_caf
    from voicememo.audio.probe import probe_file
    from voicememo.audio.sniff import sniff_stream
    from voicememo.errors import UnsupportedAudio


def fuzz_sniff(data: bytes) -> None:
    sniff_stream(io.BytesIO(data))


def fuzz_caf(data: bytes) -> None:
    try:
        read_caf(data)
    except CafError:
        return


def probe_target(scratch: Path) -> Callable[[bytes], None]:
    """The probe reads a file (FFmpeg opens it by name): one scratch file, rewritten per input."""
    path = scratch / "upload"

    def fuzz_probe(data: bytes) -> None:
        path.write_bytes(data)
        try:
            probe_file(path, time_limit=10)
        except UnsupportedAudio:
            return

    return fuzz_probe


def main() -> None:
    name, flags = sys.argv[1], sys.argv[2:]
    if name == "probe":
        scratch = Path(__file__).resolve().parent / "corpus" / "scratch"
        scratch.mkdir(parents=True, exist_ok=True)
        target = probe_target(scratch)
    else:
        target = {"sniff": fuzz_sniff, "caf": fuzz_caf}[name]
    atheris.Setup([sys.argv[0], *flags], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
