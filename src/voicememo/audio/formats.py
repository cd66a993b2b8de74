"""The audio formats we accept, with their canonical MIME type and FFmpeg demuxer."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AudioFormat(StrEnum):
    MP3 = "mp3"
    M4A = "m4a"
    AAC = "aac"
    CAF = "caf"
    WAV = "wav"
    AIFF = "aiff"
    AMR = "amr"


@dataclass(frozen=True, slots=True)
class FormatInfo:
    label: str
    mime_type: str
    #: every content type a client may declare for this format (the canonical one first)
    mime_aliases: tuple[str, ...]
    demuxer: str
    extension: str
    #: the container states a sample-exact length we can cross-check against the decode
    exact_header: bool


FORMATS: dict[AudioFormat, FormatInfo] = {
    AudioFormat.MP3: FormatInfo("MP3", "audio/mpeg", ("audio/mpeg", "audio/mp3"), "mp3", "mp3", False),
    AudioFormat.M4A: FormatInfo("M4A", "audio/x-m4a", ("audio/x-m4a", "audio/mp4"), "mov", "m4a", True),
    AudioFormat.AAC: FormatInfo("AAC (ADTS)", "audio/aac", ("audio/aac",), "aac", "aac", False),
    # CAF states an exact length only for constant-size packets (PCM), read by audio/headers.py
    AudioFormat.CAF: FormatInfo("CAF", "audio/x-caf", ("audio/x-caf",), "caf", "caf", False),
    AudioFormat.WAV: FormatInfo("WAV", "audio/wav", ("audio/wav", "audio/x-wav"), "wav", "wav", True),
    AudioFormat.AIFF: FormatInfo("AIFF", "audio/aiff", ("audio/aiff", "audio/x-aiff"), "aiff", "aiff", True),
    # audio/3gpp: AMR as phones store it, in a 3GP file (reported as AMR, see audio/probe.py)
    AudioFormat.AMR: FormatInfo("AMR", "audio/amr", ("audio/amr", "audio/3gpp"), "amr", "amr", False),
}

#: declared content type → format, for pre-uploads (api.md §4)
FORMAT_BY_MIME: dict[str, AudioFormat] = {alias: fmt for fmt, info in FORMATS.items() for alias in info.mime_aliases}

ACCEPTED_NAMES = "MP3, M4A, AAC, CAF, WAV, AIFF or AMR"


#: The SDKs' attachment content-type enum spells WAV only as audio/x-wav; echo declared types in their words.
_SDK_SPELLING = {"audio/wav": "audio/x-wav"}


def sdk_content_type(content_type: str) -> str:
    return _SDK_SPELLING.get(content_type, content_type)


def format_for_content_type(content_type: str) -> AudioFormat | None:
    """Map a declared Content-Type (parameters and case ignored) to the format it names."""
    base = content_type.split(";", 1)[0].strip().lower()
    return FORMAT_BY_MIME.get(base)
