"""What every page shares: templates and their filters, the signed-in person, and errors shown
as pages (the JSON API's errors, raised by the functions the pages call, become sentences)."""

import math
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from api.deps import EngineDep, SettingsDep, read
from api.errors import ApiError
from api.limits import RateLimiter
from api.workspace.forms import humanize
from core.web_sessions import SignedIn, resume, same_token
from workflows.contracts.permissions import Action, permits

HERE = Path(__file__).parent
COOKIE = "baton_session"
PREFIX = "/app"

templates = Jinja2Templates(directory=HERE / "templates")


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float | timedelta | None) -> str:
    """A length of time as people say it: 45 s, 12 min, 3.5 h, 2.1 d."""
    if seconds is None:
        return "—"
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


templates.env.filters.update(
    when=_when, duration=duration, number=_number, percent=_percent, label=humanize
)


class SignInNeeded(Exception):
    """No open session: the page sends the person to sign in, and back afterwards."""


class PageRoute(APIRoute):
    """A route whose failures are pages: an API error or a bad query becomes a page with its
    sentence and status; a missing session, the sign-in page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            began = time.perf_counter()
            response = await answer(request)
            # What the server spent on the page, for browsers' developer tools and bench/.
            spent = (time.perf_counter() - began) * 1000
            response.headers["Server-Timing"] = f"page;dur={spent:.1f}"
            return response

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded:
                back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{PREFIX}/sign-in?next={quote(back)}", status_code=303)
            except ApiError as exc:
                return error_page(request, exc.status, exc.message)
            except RequestValidationError as exc:
                wrong = "; ".join(
                    f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors()
                )
                return error_page(request, 422, f"The address is not valid: {wrong}")

        return page


_TITLES = {403: "Not allowed", 404: "Not found", 409: "Already done", 422: "Not valid"}


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    if status == 503:
        message = f"Baton cannot reach its engine just now; try again in a moment. ({message})"
    return render(
        request,
        "error.html",
        {"title": _TITLES.get(status, "Something went wrong"), "message": message},
        status=status,
    )


def render(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    person: SignedIn | None = getattr(request.state, "person", None)
    shared = {
        "person": person,
        "may_read_insight": person is not None and may(person, Action.READ_INSIGHT),
        "csrf": person.csrf if person else "",
        "prefix": PREFIX,
        "now": datetime.now(UTC),
    }
    response = templates.TemplateResponse(
        request, template, {**shared, **context}, status_code=status
    )
    response.headers.update(PAGE_HEADERS)
    return response


PAGE_HEADERS = {
    "Cache-Control": "no-store",  # pages hold personal data
    # Only Baton's own script, styles and forms; no page may frame one (no clickjacked buttons).
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


async def _signed_in(request: Request, engine: EngineDep, settings: SettingsDep) -> SignedIn:
    token = request.cookies.get(COOKIE)
    idle = timedelta(minutes=settings.workspace_idle_minutes)
    person = await read(engine, lambda session: resume(session, token, idle)) if token else None
    if person is None:
        raise SignInNeeded
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.take(f"workspace:{person.user.name}")
    request.state.person = person
    return person


Person = Annotated[SignedIn, Depends(_signed_in)]


async def _checked_form(request: Request, person: Person) -> FormData:
    """The posted form, if it carries the session's CSRF token; else 403, and nothing changes."""
    form = await request.form()
    sent = form.get("csrf")
    if not same_token(sent if isinstance(sent, str) else None, person.csrf):
        raise ApiError(
            403,
            "csrf_refused",
            "This form's security token is missing or out of date, so nothing was changed. "
            "Reload the page and try again.",
        )
    return form


CheckedForm = Annotated[FormData, Depends(_checked_form)]


def may(person: SignedIn, action: Action) -> bool:
    """Whether the person's roles allow an action that needs no object (for the menu)."""
    return permits(action, person.user.name, person.user.roles)


def field_value(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
