"""Signing in with an API key (and, if the person likes, their user name) and signing out.

The session cookie is HttpOnly and SameSite=Strict, scoped to the workspace. The sign-in form,
which no session protects yet, carries a token that must match a cookie of its own (double
submit), so another site cannot sign someone in under its own key.
"""

import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import EngineDep, SettingsDep, in_session, read
from api.limits import RateLimiter
from api.workspace.pages import (
    COOKIE,
    PREFIX,
    CheckedForm,
    PageRoute,
    Person,
    field_value,
    render,
)
from core.users import authenticate
from core.web_sessions import close_session, open_session, same_token

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)

_SIGN_IN_COOKIE = "baton_sign_in"


def _safe_next(target: str) -> str:
    """Only a workspace page: never another site (an open redirect)."""
    if target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{PREFIX}/inbox"


def _sign_in_page(
    request: Request,
    next_page: str,
    status: int = 200,
    error: str = "",
    name: str = "",
    notice: str = "",
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "sign_in.html",
        {
            "form_token": token,
            "next": _safe_next(next_page),
            "error": error,
            "name": name,
            "notice": notice,
        },
        status=status,
    )
    response.set_cookie(
        _SIGN_IN_COOKIE, token, httponly=True, samesite="strict", path=f"{PREFIX}/sign-in"
    )
    return response


@router.get("/sign-in")
def sign_in_form(
    request: Request, next: Annotated[str, Query(max_length=2000)] = f"{PREFIX}/inbox"
) -> Response:
    signed_out = "signed_out" in request.query_params
    return _sign_in_page(request, next, notice="You are signed out." if signed_out else "")


@router.post("/sign-in")
async def sign_in(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    # Guessing keys costs what any other caller's requests cost: the API's rate, per address.
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.take(f"sign-in:{request.client.host if request.client else ''}")
    form = await request.form()
    next_page, name = field_value(form, "next"), field_value(form, "name")
    if not same_token(field_value(form, "form_token"), request.cookies.get(_SIGN_IN_COOKIE, "")):
        message = "The sign-in form had expired. Please sign in again."
        return _sign_in_page(request, next_page, 403, message, name)
    key = field_value(form, "key")

    user = await read(engine, lambda session: authenticate(session, key)) if key else None
    if user is None or (name and name != user.name):
        message = "That key is not valid" + (f" for {name}" if name else "") + "."
        return _sign_in_page(request, next_page, 401, message, name)
    idle = timedelta(minutes=settings.workspace_idle_minutes)
    token = await read(engine, lambda session: open_session(session, user, idle))
    response = RedirectResponse(_safe_next(next_page), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings.workspace_secure_cookie,
        path=PREFIX,
    )
    response.delete_cookie(_SIGN_IN_COOKIE, path=f"{PREFIX}/sign-in")
    return response


@router.post("/sign-out")
def sign_out(request: Request, engine: EngineDep, _form: CheckedForm, _person: Person) -> Response:
    token = request.cookies.get(COOKIE, "")
    in_session(engine, lambda session: close_session(session, token))
    response = RedirectResponse(f"{PREFIX}/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response
