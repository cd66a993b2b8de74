"""Structured logs: every event carries an ``action`` key (started, finished, retried, gave_up …).

One pipeline for everything a process logs: structlog's own events and the standard library's
records (uvicorn, asyncio, warnings) go through the same processors, so ``LOG_FORMAT=json`` prints
exactly one JSON object per line whoever logged it, each with the request's or job's ``trace_id``
when there is one, and secrets redacted (voicememo/redact.py) as a last safety net.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

from voicememo.redact import redact_secrets

#: chatty below WARNING, and their INFO lines name whole URLs (a sender's ``?password=``, signed URLs)
_QUIET = (
    "httpx",
    "httpcore",
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "aiosqlite",
    "asyncio",
    "alembic.runtime.plugins",
)
#: uvicorn's loggers: their own handlers and levels removed, so they reach the root handler below
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def configure_logging(fmt: str = "console", level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library for this process (``stream``: stderr at call time)."""
    out = stream or sys.stderr
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redact_secrets, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_secrets,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _UVICORN:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)  # ours, until uvicorn's Config applies its own log_level
        logger.disabled = False
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    logging.captureWarnings(True)
