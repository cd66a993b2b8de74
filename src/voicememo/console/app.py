"""Wiring the console into the app: its routes, its static files, its state."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from voicememo.console.routes import audio, auth, chats, lines, operator, send, webhooks
from voicememo.console.web import Console
from voicememo.container import Container

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, container: Container) -> None:
    app.state.console = Console(container)
    for module in (auth, chats, send, audio, webhooks, lines, operator):
        app.include_router(module.router, include_in_schema=False)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
