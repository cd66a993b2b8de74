"""Settings: argument → ``VOICEMEMO_*`` environment variable → default.

Nothing is read at import time: callers build ``Settings()`` when they start, so
tests and the CLI can run several differently-configured instances in one process.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VOICEMEMO_", extra="ignore", secrets_dir=None)

    data_dir: Path = Path(".voicememo")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    database_url: str = ""
    #: PostgreSQL only: connections each process keeps open, extra ones it may open under load, how long
    #: a request waits for one, and the age at which one is replaced
    database_pool_size: int = Field(default=10, ge=1, le=1000)
    database_max_overflow: int = Field(default=10, ge=0, le=1000)
    database_pool_timeout: float = Field(default=30.0, gt=0)
    database_pool_recycle_seconds: float = Field(default=1800.0, gt=0)
    #: SQLite only: statements run on the event loop rather than on aiosqlite's thread (storage/sqlite_inline.py)
    sqlite_inline_calls: bool = True
    #: how long an authenticated API key is trusted without asking the database again (a revoked key
    #: keeps working this long in a process that saw it, unless revoked through that process)
    api_key_cache_seconds: float = Field(default=5.0, ge=0)
    public_base_url: str = ""
    #: key for signed upload URLs and for sealing webhook secrets; when unset, a random one is kept in
    #: DATA_DIR/secret_key (changing it voids outstanding upload URLs and existing webhook secrets)
    secret_key: SecretStr | None = None
    #: the operator view's token (web console, not a partner key); unset: the operator view is off
    admin_token: SecretStr | None = None

    #: where blobs live: empty for files under DATA_DIR/blobs, or s3://bucket/optional/prefix for an
    #: S3-compatible object store (every API and worker process then shares it, whatever its data dir)
    blob_url: str = ""
    #: the S3 API's address for stores other than AWS (MinIO, R2, …); empty: AWS's own for the region
    s3_endpoint_url: str = ""
    s3_region: str = ""
    #: empty: boto3's own credential chain (environment, ~/.aws, instance role)
    s3_access_key_id: str = ""
    s3_secret_access_key: SecretStr | None = None
    #: how long to wait for a connection to the store, and for each answer (boto3's own defaults are
    #: 60 s each, so a hung store held a request for minutes); a call is tried this many times in all
    #: (network errors, timeouts, 5xx and throttling are retried) before it fails with a clear error
    s3_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    s3_read_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    s3_max_attempts: int = Field(default=3, ge=1, le=10)
    #: downloads answer with a redirect to a presigned GET on the bucket, valid this long, instead of
    #: passing the bytes through this server
    s3_presign_downloads: bool = False
    s3_presign_ttl_seconds: int = Field(default=300, ge=10, le=7 * 24 * 3600)
    #: a pre-upload's upload_url is a presigned PUT on the bucket (type and size signed in); the file
    #: is checked when the attachment is next read or sent, as the local PUT checks it
    s3_presigned_uploads: bool = False

    fetch_allow_private_networks: bool = False
    fetch_ca_bundle: Path | None = None
    fetch_max_bytes: int = Field(default=10 * MB, ge=1)
    fetch_connect_timeout: float = Field(default=5.0, gt=0)
    fetch_total_timeout: float = Field(default=15.0, gt=0)
    fetch_max_redirects: int = Field(default=3, ge=0, le=10)

    #: every JSON request body, read before it is parsed (uploads and provider hooks have their own limits)
    json_body_max_bytes: int = Field(default=1 * MB, ge=1024)
    upload_max_bytes: int = Field(default=100 * MB, ge=1)
    upload_url_ttl_seconds: int = Field(default=15 * 60, ge=10)
    #: audio checks run in a process pool of this many workers
    audio_workers: int = Field(default=2, ge=1, le=64)
    #: decoding one file may take at most this long
    audio_probe_timeout: float = Field(default=120.0, gt=0)

    log_format: Literal["console", "json"] = "console"
    #: GET /metrics (Prometheus text format) answers only when enabled, and only to
    #: ``Authorization: Bearer <METRICS_TOKEN>`` (required when enabled)
    metrics_enabled: bool = False
    metrics_token: SecretStr | None = None
    #: where every process on this host (API processes, `voicememo worker`) keeps its counters for one
    #: scrape to add up (prometheus-client's multiprocess mode); empty: DATA_DIR/metrics
    metrics_dir: Path | None = None
    #: `voicememo serve --workers N`: API processes sharing the port (uvicorn's supervisor restarts any that
    #: dies); each runs its in-process workers when WORKERS_IN_PROCESS (claims are fenced, so they share safely)
    api_processes: int = Field(default=1, ge=1, le=64)

    #: a request holding an Idempotency-Key must finish within this long; after it, a retry may take over
    #: (the first request can then no longer commit its effect)
    idempotency_deadline_seconds: float = Field(default=300.0, gt=0)
    #: leftovers of a crash (temp files, unowned blobs, expired pre-uploads) are cleaned once this old;
    #: those of a process that is gone at once. The sweep runs at start-up and at this interval.
    debris_grace_seconds: float = Field(default=600.0, ge=0)
    debris_sweep_interval_seconds: float = Field(default=3600.0, gt=0)
    #: retention, pruned by a periodic job at this interval: done jobs, webhook delivery attempts and the
    #: sandbox outbox's recorded sends older than these (idempotency records once past their 24 h window)
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    retention_done_jobs_days: float = Field(default=7.0, gt=0)
    retention_webhook_attempts_days: float = Field(default=7.0, gt=0)
    retention_outbox_days: float = Field(default=30.0, gt=0)
    #: testing only: comma-separated failpoints (voicememo/failpoints.py) at which the process kills itself
    failpoints: str = ""

    #: run delivery workers inside the API process (the embedded default); `voicememo worker` runs more
    workers_in_process: bool = True
    worker_concurrency: int = Field(default=4, ge=1, le=256)
    job_lease_seconds: float = Field(default=30.0, gt=0)
    job_poll_interval: float = Field(default=1.0, gt=0)
    #: on shutdown, running jobs get this long to finish; the rest are handed back to run again
    worker_shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    #: 10 attempts with the default back-off: about 10 minutes (a Mac that reboots comes back in time);
    #: stored with each delivery job when it is queued, so a change applies to memos sent after it
    delivery_max_attempts: int = Field(default=10, ge=1)
    delivery_retry_base_seconds: float = Field(default=2.0, gt=0)

    opus_bit_rate: int = Field(default=32000, ge=6000, le=510000)
    caf_sample_rate: Literal[24000, 48000] = 24000
    #: libopus encoder threads for one long memo, in parallel segments (0 = one per CPU)
    render_threads: int = Field(default=0, ge=0, le=64)
    mms_max_bytes: int = Field(default=600_000, ge=10_000)

    #: "30 per 60 seconds" per (line, recipient), in the `limits` library's notation
    rate_limit: str = "30 per 60 seconds"
    #: e.g. redis://127.0.0.1:6379/0: the rate limits are kept there, shared by every API process;
    #: unset, each process counts in its own memory (the embedded default)
    redis_url: str = ""

    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_retry_base_seconds: float = Field(default=2.0, gt=0)
    webhook_give_up_after_seconds: float = Field(default=1800.0, gt=0)

    #: how long a sender's answer to "which service reaches this handle" is reused
    service_lookup_ttl_seconds: float = Field(default=24 * 3600.0, ge=0)
    #: the base of the URL a provider (a Mac running BlueBubbles) pushes receipts to; PUBLIC_BASE_URL if unset
    sender_callback_base_url: str = ""
    sender_hook_max_bytes: int = Field(default=1024 * 1024, ge=1024)
    sender_hook_rate_limit: str = "1200 per 60 seconds"
    #: how often every line's sender is checked (health shown on /v3/phone_numbers and /healthz)
    line_health_interval_seconds: float = Field(default=60.0, gt=0)
    #: a message still `sent` this long after sending is polled at its provider (lost receipts)
    reconcile_after_seconds: float = Field(default=300.0, gt=0)
    reconcile_give_up_seconds: float = Field(default=86400.0, gt=0)
    #: BlueBubbles: every call but a send, and a send (which the Mac may hold for up to 5 minutes)
    bluebubbles_timeout: float = Field(default=15.0, gt=0)
    bluebubbles_send_timeout: float = Field(default=330.0, gt=0)

    #: the sandbox sender's simulated Apple side
    sandbox_send_delay: float = Field(default=0.0, ge=0)
    sandbox_delivered_delay: float = Field(default=0.5, ge=0)
    #: seconds until the recipient reads it; negative means never
    sandbox_read_delay: float = 2.0
    #: handles matching this regular expression fail to deliver (failure injection)
    sandbox_fail_pattern: str | None = None

    @field_validator("caf_sample_rate", mode="before")
    @classmethod
    def _number_from_text(cls, value: object) -> object:
        """An environment variable is text, and a Literal of ints does not coerce it ("48000" was refused)."""
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value

    @model_validator(mode="after")
    def _defaults_from_others(self) -> Settings:
        if self.blob_url and not self.blob_url.startswith("s3://"):
            raise ValueError(f"BLOB_URL must be empty (local files) or s3://bucket/prefix, not {self.blob_url!r}")
        if not self.blob_url and (self.s3_presign_downloads or self.s3_presigned_uploads):
            raise ValueError("S3_PRESIGN_DOWNLOADS and S3_PRESIGNED_UPLOADS need BLOB_URL=s3://…")
        if self.metrics_enabled and not (self.metrics_token and self.metrics_token.get_secret_value()):
            raise ValueError("METRICS_ENABLED needs METRICS_TOKEN: /metrics answers only to that bearer token")
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{(self.data_dir / 'voicememo.db').resolve()}"
        if not self.public_base_url:
            host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
            self.public_base_url = f"http://{host}:{self.port}"
        self.public_base_url = self.public_base_url.rstrip("/")
        self.sender_callback_base_url = (self.sender_callback_base_url or self.public_base_url).rstrip("/")
        return self

    def to_environ(self) -> dict[str, str]:
        """These settings as ``VOICEMEMO_*`` variables: how they reach processes started from this one
        (uvicorn's workers build their own ``Settings()`` from the environment)."""
        # only what differs from the defaults: a child's own defaults are the same
        values = self.model_dump(mode="json", exclude_defaults=True)
        env = {}
        for name, value in values.items():
            given = getattr(self, name)
            if isinstance(given, SecretStr):  # dumped masked: the child needs the secret itself
                env[f"VOICEMEMO_{name.upper()}"] = given.get_secret_value()
            elif value is not None:
                env[f"VOICEMEMO_{name.upper()}"] = _env_text(value)
        return env

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "sandbox" / "outbox"

    @property
    def metrics_path(self) -> Path:
        return self.metrics_dir or self.data_dir / "metrics"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.blob_dir, self.tmp_dir):
            path.mkdir(parents=True, exist_ok=True)

    def signing_key(self) -> bytes:
        """The server key (upload URLs, sealed secrets): configured, or generated once, 0600, in the data dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        self.ensure_dirs()
        path = self.data_dir / "secret_key"
        if not path.exists():
            tmp = path.with_name(f".secret_key.{os.getpid()}")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)  # atomic: two processes starting together agree on one key
            tmp.unlink(missing_ok=True)
        return path.read_text().strip().encode()


def _env_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)  # how pydantic-settings reads a complex value from the environment
    return str(value)
