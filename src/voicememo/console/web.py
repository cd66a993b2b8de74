"""What every console route shares: the session, the signed-in partner, CSRF, rendering, errors.

Routes are :class:`ConsoleRoute`: the input guard of the API, then errors become pages (a wrong key,
a refused file, a missing chat: a clear message and the contract's code, never a stack trace or the
API's JSON), a missing or expired session becomes a redirect to the sign-in page, and a session made or
changed by the route is written to the cookie.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import Depends, Request
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from voicememo.api.guard import GuardedRoute
from voicememo.console import formatting
from voicememo.console.session import Session, SessionCodec, csrf_matches, new_session
from voicememo.container import Container
from voicememo.domain.models import Partner
from voicememo.errors import InternalError, VoicememoError
from voicememo.services.console_auth import ConsoleAuth
from voicememo.tracing import current_trace_id

log = structlog.get_logger("voicememo.console")

CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


class Console:
    """The console's parts, built once per app (no import-time globals)."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.codec = SessionCodec(container.settings.signing_key())
        self.auth = ConsoleAuth(container.ctx, container.admin.keys)
        env = Environment(
            loader=PackageLoader("voicememo.console", "templates"), autoescape=select_autoescape(default=True)
        )
        env.filters.update(formatting.FILTERS)
        self.templates = Jinja2Templates(env=env)


class NeedSignIn(Exception):
    """No session, or its API key was revoked: go to the sign-in page (with a note when it expired)."""

    def __init__(self, note: str = "", *, operator: bool = False) -> None:
        super().__init__(note)
        self.note = note
        self.operator = operator


class CsrfRefused(VoicememoError):
    status = 403
    code = 2005

    def __init__(self) -> None:
        super().__init__(
            "This form was refused: it did not carry this session's security token (CSRF check failed). "
            "It may have come from another site, or the page is older than your last sign-in. "
            "Reload the page and submit it again."
        )


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def session_of(request: Request) -> Session:
    """The request's session; a new, anonymous one (written when the response goes out) if none is valid."""
    existing = getattr(request.state, "console_session", None)
    if isinstance(existing, Session):
        return existing
    session = console_of(request).codec.read(request)
    if session is None:
        session = new_session()
        request.state.console_session_out = session
    request.state.console_session = session
    return session


def keep_session(request: Request, session: Session | None) -> None:
    """Write this session (None: clear the cookie) with the response."""
    request.state.console_session = session
    request.state.console_session_out = session if session is not None else False


@dataclass(frozen=True)
class Viewer:
    partner: Partner
    session: Session


async def signed_in(request: Request) -> Viewer:
    session = session_of(request)
    if session.key_id is None:
        raise NeedSignIn()
    partner = await console_of(request).auth.partner_for_key(session.key_id)
    if partner is None:
        keep_session(request, None)
        raise NeedSignIn("Your session ended: the API key it was made with has been revoked. Sign in again.")
    return Viewer(partner, session)


SignedIn = Annotated[Viewer, Depends(signed_in)]


async def csrf_checked(request: Request) -> None:
    """Every POST: the form's (or the header's) token must be this session's."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not csrf_matches(session_of(request), sent):
        raise CsrfRefused()


CsrfChecked = Depends(csrf_checked)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    session = session_of(request)
    page = {"csrf": session.csrf, "signed_in": session.signed_in, "operator": session.operator is not None}
    return console_of(request).templates.TemplateResponse(
        request, template, {**page, **context}, status_code=status_code
    )


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _error_page(request: Request, exc: VoicememoError) -> Response:
    return render(request, "error.html", exc.status, error=exc, code=exc.code, trace_id=current_trace_id())


class ConsoleRoute(GuardedRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except NeedSignIn as need:
                target = "/console/operator/sign-in" if need.operator else "/console/sign-in"
                back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                note = f"&note={quote(need.note)}" if need.note else ""
                response = see_other(f"{target}?next={quote(back)}{note}")
            except VoicememoError as exc:
                response = _error_page(request, exc)
            except Exception:  # a bug of ours: logged with its trace id, shown as a page, never as a traceback
                log.exception("console_page_failed", action="error", path=request.url.path)
                response = _error_page(
                    request,
                    InternalError(
                        "An internal error stopped this page. Try again; if it keeps happening, "
                        "give the operator the trace id below."
                    ),
                )
            response.headers.setdefault("Cache-Control", "no-store")
            out = getattr(request.state, "console_session_out", None)
            if out is False:
                console_of(request).codec.clear(response, request)
            elif isinstance(out, Session):
                console_of(request).codec.write(response, request, out)
            return response

        return console_handler
