"""Mutated real audio (bit flips, cuts, corrupted chunk sizes, splices) through the sniffer, the probe
and the CAF reader: each may refuse the file, but only with its own documented error.

Deterministic and bounded here (derandomized, a few hundred examples); ``make fuzz`` runs the same
properties far longer (VOICEMEMO_FUZZ_EXAMPLES) and the coverage-guided atheris targets in fuzz/.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
from collections.abc import Callable
from pathlib import Path
from random import Random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzseeds import CHUNK_TAGS, make_seeds
from voicememo.audio.caf import CafError, read_caf
from voicememo.audio.codec_tags import declared_codec
from voicememo.audio.formats import AudioFormat
from voicememo.audio.headers import declared_samples
from voicememo.audio.probe import probe_file
from voicememo.audio.sniff import sniff_stream
from voicememo.errors import UnsupportedAudio

#: examples per property: a few hundred in the suite, as many as asked for by ``make fuzz``
EXAMPLES = int(os.environ.get("VOICEMEMO_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: values a corrupted size field takes: empty, tiny, odd, huge, negative as signed, "unknown"
SIZES = (0, 1, 3, 7, 8, 11, 12, 0x7F, 0x80, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in make_seeds(tmp_path_factory.mktemp("seeds")).items()}


def _flip(data: bytes, rnd: Random) -> bytes:
    at = rnd.randrange(len(data))
    return data[:at] + bytes([data[at] ^ (1 << rnd.randrange(8))]) + data[at + 1 :]


def _cut(data: bytes, rnd: Random) -> bytes:
    return data[: rnd.randrange(len(data))]


def _chunk_size(data: bytes, rnd: Random) -> bytes:
    """Overwrite the size field next to a chunk/box tag (RIFF/AIFF/CAF after it, MP4 before it)."""
    tags = [i for tag in CHUNK_TAGS for i in _find_all(data, tag)]
    if not tags:
        return _flip(data, rnd)
    at = rnd.choice(tags)
    value = rnd.choice((*SIZES, rnd.randrange(1 << 32), len(data) - at, len(data) - at + 1))
    layout, where = rnd.choice([("<I", at + 4), (">I", at + 4), (">I", at - 4), (">q", at + 4)])
    field = struct.pack(layout, value - (1 << 32) if layout == ">q" and value >= 1 << 31 else value)
    where = max(0, where)
    return data[:where] + field + data[where + len(field) :]


def _splice(data: bytes, rnd: Random, donors: list[bytes]) -> bytes:
    """Insert or overwrite with a piece of another real file: plausible headers in the wrong place."""
    donor = rnd.choice(donors)
    start = rnd.randrange(len(donor))
    piece = donor[start : start + rnd.randint(1, 256)]
    at = rnd.randint(0, len(data))
    if rnd.random() < 0.5:
        return data[:at] + piece + data[at:]
    return data[:at] + piece + data[at + len(piece) :]


def _find_all(data: bytes, tag: bytes) -> list[int]:
    found, at = [], data.find(tag)
    while at != -1 and len(found) < 64:
        found.append(at)
        at = data.find(tag, at + 1)
    return found


@st.composite
def mutated(draw: st.DrawFn, seeds: dict[str, bytes], names: tuple[str, ...] | None = None) -> bytes:
    """A seed file with one to four mutations at uniformly drawn places (hypothesis's own integers
    favour small values, which would wreck the first bytes, the magic number, most of the time)."""
    data = seeds[draw(st.sampled_from(sorted(names or seeds)))]
    donors = list(seeds.values())
    rnd = Random(draw(st.integers(0, 2**64 - 1)))  # uniform places, from a seed hypothesis controls
    for kind in draw(st.lists(st.sampled_from(("flip", "cut", "size", "splice")), min_size=1, max_size=4)):
        if not data:
            break
        if kind == "flip":
            data = _flip(data, rnd)
        elif kind == "cut":
            data = _cut(data, rnd)
        elif kind == "size":
            data = _chunk_size(data, rnd)
        else:
            data = _splice(data, rnd, donors)
    return data


def run_property(check: Callable[[bytes], None], inputs: st.SearchStrategy[bytes]) -> None:
    """Run ``check`` on EXAMPLES mutated files and say how many it saw (``make fuzz`` prints it)."""
    calls = 0

    @FUZZ
    @given(inputs)
    def prop(data: bytes) -> None:
        nonlocal calls
        calls += 1
        check(data)

    prop()
    print(f"\n{check.__name__}: {calls} examples")
    assert calls >= EXAMPLES


def test_sniffer_never_raises(seeds: dict[str, bytes]) -> None:
    def sniff(data: bytes) -> None:
        sniff_stream(io.BytesIO(data))

    run_property(sniff, mutated(seeds))


def test_header_readers_never_raise(seeds: dict[str, bytes], tmp_path: Path) -> None:
    """Our own readers of container headers, asked about any file as any format: best effort, no crash."""
    path = tmp_path / "upload"

    def read_headers(data: bytes) -> None:
        path.write_bytes(data)
        for fmt in AudioFormat:
            declared_samples(path, fmt)
            declared_codec(path, fmt)

    run_property(read_headers, mutated(seeds))


def test_probe_raises_only_unsupported_audio(seeds: dict[str, bytes], tmp_path: Path) -> None:
    path = tmp_path / "upload"

    def probe(data: bytes) -> None:
        path.write_bytes(data)
        with contextlib.suppress(UnsupportedAudio):
            probe_file(path, time_limit=10)

    run_property(probe, mutated(seeds))


def test_caf_reader_raises_only_caf_error(seeds: dict[str, bytes]) -> None:
    def read_caf_file(data: bytes) -> None:
        with contextlib.suppress(CafError):
            read_caf(data)

    run_property(read_caf_file, mutated(seeds, ("opus-caf", "caf-pcm", "amr-caf")))
