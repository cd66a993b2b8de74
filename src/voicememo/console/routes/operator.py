"""The operator view, behind the admin token (``VOICEMEMO_ADMIN_TOKEN``), not a partner key: the job
queue per kind, dead jobs with a retry button, recent failures.

Its sign-in keeps a fingerprint of the token in the session; changing the token ends every operator
session. With no token configured the view does not exist (404).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from voicememo.console.routes.auth import safe_next
from voicememo.console.web import (
    ConsoleRoute,
    CsrfChecked,
    NeedSignIn,
    console_of,
    keep_session,
    render,
    see_other,
    session_of,
)
from voicememo.errors import NotFound
from voicememo.services.console.admin_token import check_admin_token, operator_enabled

router = APIRouter(route_class=ConsoleRoute)

_OFF = "The operator view is off: set VOICEMEMO_ADMIN_TOKEN (or run `voicememo serve --dev`) to turn it on."


def _enabled(request: Request) -> None:
    if not operator_enabled(console_of(request).container.settings):
        raise NotFound(_OFF)


async def operator_signed_in(request: Request) -> None:
    _enabled(request)
    console = console_of(request)
    token = console.container.settings.admin_token
    session = session_of(request)
    expected = console.codec.operator_fingerprint(token.get_secret_value()) if token else None
    if session.operator is None or session.operator != expected:
        raise NeedSignIn(operator=True)


Operator = Depends(operator_signed_in)


@router.get("/console/operator/sign-in")
async def operator_sign_in_page(request: Request, next: str | None = None) -> Response:
    _enabled(request)
    return render(request, "operator_sign_in.html", title="Operator sign-in", nav="operator", next=safe_next(next))


@router.post("/console/operator/sign-in", dependencies=[CsrfChecked])
async def operator_sign_in(
    request: Request, admin_token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = ""
) -> Response:
    _enabled(request)
    console = console_of(request)
    if not check_admin_token(console.container.settings, admin_token.strip()):
        return render(
            request,
            "operator_sign_in.html",
            401,
            title="Operator sign-in",
            nav="operator",
            next=safe_next(next),
            error="That is not the admin token (VOICEMEMO_ADMIN_TOKEN). Partner API keys do not open this view.",
        )
    fingerprint = console.codec.operator_fingerprint(admin_token.strip())
    keep_session(request, replace(session_of(request), operator=fingerprint))
    target = safe_next(next)
    return see_other(target if target.startswith("/console/operator") else "/console/operator")


@router.get("/console/operator", dependencies=[Operator])
async def operator_page(request: Request, note: str | None = None) -> Response:
    ops = console_of(request).container.operator
    return render(
        request,
        "operator.html",
        title="Operator",
        nav="operator",
        queue=await ops.queue(),
        dead=await ops.dead_jobs(),
        failures=await ops.recent_failures(),
        note=note,
    )


@router.post("/console/operator/jobs/{job_id}/retry", dependencies=[Operator, CsrfChecked])
async def retry_job(request: Request, job_id: int) -> Response:
    await console_of(request).container.operator.retry(job_id)
    return see_other(f"/console/operator?note=Job+{job_id}+requeued.")


@router.post("/console/operator/sign-out", dependencies=[CsrfChecked])
async def operator_sign_out(request: Request) -> Response:
    keep_session(request, replace(session_of(request), operator=None))
    return see_other("/console/operator/sign-in")
