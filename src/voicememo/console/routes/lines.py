"""Lines: each of the partner's lines with its sender kind and health (what `voicememo lines check` says)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from voicememo.console.web import ConsoleRoute, CsrfChecked, SignedIn, console_of, render

router = APIRouter(route_class=ConsoleRoute)


@router.get("/console/lines")
async def lines_page(request: Request, viewer: SignedIn) -> Response:
    views = await console_of(request).container.console.line_views(viewer.partner.id)
    return render(request, "lines.html", title="Lines", nav="lines", partner=viewer.partner, lines=views)


@router.post("/console/lines/check", dependencies=[CsrfChecked])
async def check_now(request: Request, viewer: SignedIn) -> Response:
    views = await console_of(request).container.console.line_views(viewer.partner.id, check=True)
    return render(request, "lines.html", title="Lines", nav="lines", partner=viewer.partner, lines=views, checked=True)
