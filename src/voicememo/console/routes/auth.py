"""Sign-in with an API key, sign-out, and the console's front door."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from voicememo.console.session import signed_in_as
from voicememo.console.web import ConsoleRoute, CsrfChecked, console_of, keep_session, render, see_other, session_of
from voicememo.errors import Unauthorized

router = APIRouter(route_class=ConsoleRoute)


def safe_next(target: str | None) -> str:
    """Only a console path: never an open redirect to another site."""
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console/chats"


@router.get("/console")
@router.get("/console/")
async def front_door(request: Request) -> Response:
    return see_other("/console/chats" if session_of(request).signed_in else "/console/sign-in")


@router.get("/console/sign-in")
async def sign_in_page(request: Request, next: str | None = None, note: str | None = None) -> Response:
    session_of(request)  # an anonymous session, so the form carries a CSRF token
    return render(request, "sign_in.html", next=safe_next(next), note=note, title="Sign in")


@router.post("/console/sign-in", dependencies=[CsrfChecked])
async def sign_in(
    request: Request, api_key: Annotated[str, Form()] = "", next: Annotated[str, Form()] = ""
) -> Response:
    try:
        key, _partner = await console_of(request).auth.sign_in(api_key)
    except Unauthorized as exc:
        return render(request, "sign_in.html", 401, next=safe_next(next), error=exc.message, title="Sign in")
    keep_session(request, signed_in_as(session_of(request), key.id))
    return see_other(safe_next(next))


@router.post("/console/sign-out", dependencies=[CsrfChecked])
async def sign_out(request: Request) -> Response:
    keep_session(request, None)
    return see_other("/console/sign-in?note=" + "You+are+signed+out.")
