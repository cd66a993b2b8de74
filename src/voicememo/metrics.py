"""Prometheus metrics: collectors owned by each container, added up across processes at scrape time.

Every process on a host (each of ``serve --workers N`` and each ``voicememo worker``) writes its counts
to files of its own in METRICS_DIR: prometheus-client's multiprocess mode, switched on by the CLI
(``use_shared_dir``) before any container exists. A scrape of any API process reads them all. Without
that directory (tests, an app embedded in another program) the container's own registry is scraped.
Queue depth is not counted here: it is read from the database at scrape time (``QueueSnapshot``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from voicememo.audio.ogg import OggPreview
from voicememo.audio.port import AudioChecker
from voicememo.audio.probe import AudioInfo
from voicememo.audio.render import Rendition
from voicememo.errors import UnsupportedAudio

if TYPE_CHECKING:
    from voicememo.settings import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_AUDIO_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def use_shared_dir(path: Path) -> None:
    """This process and those it starts write their counts under ``path``. Call before any ``Metrics``:
    prometheus-client picks its value store when first imported, which may have happened already."""
    path.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def share_metrics(settings: Settings, *, prune: bool = False) -> None:
    """With metrics on, this process and those it starts count into METRICS_DIR, which a scrape of
    any API process adds up; ``prune`` (at ``serve``): first drop the files of processes now gone."""
    if not settings.metrics_enabled:
        return
    use_shared_dir(settings.metrics_path)
    if prune:
        prune_dead(settings.metrics_path)


def prune_dead(path: Path) -> list[int]:
    """At start-up: drop the files of processes that are gone (their counts go with them, which
    Prometheus reads as a counter reset); the directory would otherwise grow with every restart."""
    gone = set()
    for file in path.glob("*_*.db"):
        pid = file.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            file.unlink(missing_ok=True)
            gone.add(int(pid))
    return sorted(gone)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class Metrics:
    """The counters and histograms; names follow Prometheus conventions (``_total`` added by the library)."""

    def __init__(self) -> None:
        self.shared_dir = os.environ.get(MULTIPROC_ENV) or None
        self.registry = CollectorRegistry()
        r = self.registry
        self.http = Histogram(
            "voicememo_http_request_duration_seconds",
            "HTTP request latency, by route template, method and status code",
            ["route", "method", "status"],
            registry=r,
        )
        self.memos_accepted = Counter(
            "voicememo_memos_accepted", "Voice memos accepted, by source (url/attachment) and format",
            ["source", "format"], registry=r,
        )  # fmt: skip
        self.audio_probe = Histogram(
            "voicememo_audio_probe_duration_seconds", "Measuring one audio file (decode included), by format",
            ["format"], buckets=_AUDIO_BUCKETS, registry=r,
        )  # fmt: skip
        self.audio_render = Histogram(
            "voicememo_audio_render_duration_seconds", "Making and verifying one rendition, by profile and outcome",
            ["profile", "outcome"], buckets=_AUDIO_BUCKETS, registry=r,
        )  # fmt: skip
        self.jobs = Counter(
            "voicememo_jobs", "Job runs that ended, by kind and outcome (done/retried/dead)", ["kind", "outcome"],
            registry=r,
        )  # fmt: skip
        self.sends = Counter(
            "voicememo_sends", "Provider sends, by sender kind and outcome (accepted/rejected/failed/recovered)",
            ["sender", "outcome"], registry=r,
        )  # fmt: skip
        self.webhook_attempts = Counter(
            "voicememo_webhook_attempts", "Webhook delivery attempts, by outcome (delivered/retry/gave_up)",
            ["outcome"], registry=r,
        )  # fmt: skip
        self.webhook_latency = Histogram(
            "voicememo_webhook_attempt_duration_seconds", "One webhook delivery attempt, by outcome", ["outcome"],
            registry=r,
        )  # fmt: skip

    def job_outcome(self, kind: str, outcome: str) -> None:
        self.jobs.labels(kind, outcome).inc()

    def exposition(self, queue: QueueSnapshot) -> bytes:
        """The text a scrape gets: every process's counts (or this one's), then the queue read just now."""
        if self.shared_dir:
            merged = CollectorRegistry()
            MultiProcessCollector(merged, self.shared_dir)  # type: ignore[no-untyped-call]
            counts = generate_latest(merged)
        else:
            counts = generate_latest(self.registry)
        snapshot = CollectorRegistry()
        snapshot.register(queue)
        return counts + generate_latest(snapshot)


@dataclass(frozen=True)
class QueueRow:
    kind: str
    status: str  # queued | running
    count: int
    oldest_run_at: datetime | None


class QueueSnapshot:
    """The open jobs as one grouped query found them: depth by kind and status, the oldest due job's wait."""

    def __init__(self, rows: Iterable[QueueRow], kinds: Iterable[str], now: datetime) -> None:
        self.rows = list(rows)
        self.kinds = sorted(set(kinds) | {row.kind for row in self.rows})
        self.now = now

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "voicememo_job_queue_depth", "Open jobs, by kind and status (queued/running)", labels=["kind", "status"]
        )
        age = GaugeMetricFamily(
            "voicememo_job_queue_oldest_age_seconds",
            "How long the longest-waiting queued job has been due, by kind (0: none is due)",
            labels=["kind"],
        )
        found = {(row.kind, row.status): row for row in self.rows}
        for kind in self.kinds:
            for status in ("queued", "running"):
                row = found.get((kind, status))
                depth.add_metric([kind, status], row.count if row else 0)
            queued = found.get((kind, "queued"))
            waited = 0.0
            if queued is not None and queued.oldest_run_at is not None:
                waited = max(0.0, (self.now - queued.oldest_run_at).total_seconds())
            age.add_metric([kind], waited)
        yield depth
        yield age


class MeasuredAudio:
    """The audio port, timed in this process around the pool's call (the work runs in a worker process)."""

    def __init__(self, inner: AudioChecker, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    async def probe(self, path: Path) -> AudioInfo:
        started = time.perf_counter()
        label = "error"
        try:
            info = await self.inner.probe(path)
            label = info.format.value
            return info
        except UnsupportedAudio:
            label = "unsupported"
            raise
        finally:
            self.metrics.audio_probe.labels(label).observe(time.perf_counter() - started)

    async def render(self, src: Path, dst: Path, profile: str, **options: int) -> Rendition:
        started = time.perf_counter()
        outcome = "failed"
        try:
            made = await self.inner.render(src, dst, profile, **options)
            outcome = "ok"
            return made
        finally:
            self.metrics.audio_render.labels(profile, outcome).observe(time.perf_counter() - started)

    async def preview(self, src: Path, dst: Path, source: str, **options: int) -> OggPreview:
        """Browser previews are the console's, not the memo's path: passed through untimed."""
        return await self.inner.preview(src, dst, source, **options)
