"""One path for every incoming audio file (upload, URL fetch): check, measure, store.

Nothing is written to the database here; callers record the result in their own
transaction, and delete the blob again if that transaction fails.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from voicememo.audio.formats import FORMATS, AudioFormat
from voicememo.audio.probe import AudioInfo
from voicememo.domain.waveform import Waveform
from voicememo.errors import ContentTypeMismatch
from voicememo.services.context import ServiceContext
from voicememo.storage.blobs import StoredBlob


class MeasuredFields(TypedDict):
    """What the intake adds to an attachment: where the bytes are and what they measured."""

    blob_key: str
    sha256: str
    mime_type: str
    codec: str
    sample_rate: int
    channels: int
    duration_ms: int
    samples: int
    #: the waveform, measured in the same decode (domain/waveform.py's stored form)
    peaks: str | None


@dataclass(frozen=True)
class Intake:
    info: AudioInfo
    blob: StoredBlob

    def attachment_fields(self) -> MeasuredFields:
        return {
            "blob_key": self.blob.key,
            "sha256": self.blob.sha256,
            "mime_type": self.info.mime_type,
            "codec": self.info.codec,
            "sample_rate": self.info.sample_rate,
            "channels": self.info.channels,
            "duration_ms": self.info.duration_ms,
            "samples": self.info.samples,
            "peaks": Waveform(self.info.peaks).encode() if self.info.peaks else None,
        }


async def check_and_store(
    ctx: ServiceContext, partner_id: str, attachment_id: str, path: Path, declared: AudioFormat | None = None
) -> Intake:
    """Probe ``path`` (consumed) and move it into the blob store; raises the user's 4xx on bad audio."""
    info = await ctx.audio.probe(path)
    if declared is not None and _family(declared) not in (_family(info.format), _family(info.container)):
        raise ContentTypeMismatch(
            f"The declared content type is {FORMATS[declared].mime_type} ({FORMATS[declared].label}) "
            f"but the bytes are {FORMATS[info.format].label} audio ({info.mime_type}); "
            "declare the type that matches the file."
        )
    key = f"audio/{partner_id}/{attachment_id}/{uuid.uuid4().hex}.{FORMATS[info.format].extension}"
    blob = await ctx.blobs.put_file(key, path)
    return Intake(info, blob)


def _family(fmt: AudioFormat) -> AudioFormat:
    """``audio/mp4`` is an accepted name for M4A, and AAC may arrive as ADTS or in MP4.
    AMR in an MP4 file may be declared by its codec (``audio/amr``, ``audio/3gpp``) or its container."""
    return AudioFormat.M4A if fmt is AudioFormat.AAC else fmt
