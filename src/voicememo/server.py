"""The whole server's ASGI app: the Partner API with the console beside it.

The composition root for HTTP: ``api`` and ``console`` each know nothing of the other's wiring.
"""

from __future__ import annotations

from fastapi import FastAPI

from voicememo.api.app import create_app as create_api_app
from voicememo.console.app import install as install_console
from voicememo.container import Container
from voicememo.logs import configure_logging
from voicememo.settings import Settings


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    return create_api_app(settings, container, extend=install_console)


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory voicememo.server:app_factory`` and each ``serve --workers`` process
    (settings from the environment: nothing of the parent's memory reaches a spawned process)."""
    settings = Settings()
    configure_logging(settings.log_format)
    return create_app(settings)
