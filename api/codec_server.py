"""The codec server (`baton codec-server`): opens sealed payloads for signed-in people only.

Every payload in Temporal is sealed (core/codec.py), so the Temporal UI shows ciphertext until
it sends the payloads here. Temporal's codec protocol: `POST /decode` and `POST /encode` with
the protobuf JSON of `temporal.api.common.v1.Payloads`,
`{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}`, answered in kind.

The UI calls it from the person's browser, so CORS admits one origin, the Temporal UI's
(`BATON_TEMPORAL_UI_URL`), with credentials; preflights need no key. The caller must be a
Baton user, by either
- `Authorization: Bearer <Baton API key>`: the `temporal` CLI (`--codec-endpoint URL
  --codec-auth "Bearer <key>"`), scripts, or a proxy in front of the UI that adds it; or
- the session cookie this server sets when a person signs in with their key at its page
  (`GET /`): the UI sends it when its codec setting "Include cross-origin credentials" is on.
  The cookie is HttpOnly and SameSite=Strict, holds no key (user id, expiry and an HMAC keyed
  from the current codec key) and lasts SESSION_HOURS.
"""

import hashlib
import hmac
import html
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from fastapi import Depends, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from google.protobuf import json_format
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.api.common.v1 import Payload, Payloads

from api.errors import ApiError, install_error_handlers
from core.codec import SealedPayloadError, SealingCodec, load_keyring
from core.db import make_engine, prepare_database
from core.keys import Keyring
from core.settings import Settings, get_settings
from core.users import User, authenticate

COOKIE = "baton_codec_session"
SESSION_HOURS = 8


class Sessions:
    """Signed session tokens: `<user id>.<expires>.<hmac>`; no key, nothing to look up."""

    def __init__(self, keyring: Keyring) -> None:
        self._secret = keyring.derive("baton codec-server session")

    def issue(self, user: User, now: float | None = None) -> str:
        expires = int((now or time.time()) + SESSION_HOURS * 3600)
        claim = f"{user.id}.{expires}"
        return f"{claim}.{self._mac(claim)}"

    def user_id(self, token: str, now: float | None = None) -> int | None:
        user_id, _, rest = token.partition(".")
        expires, _, mac = rest.partition(".")
        if not (user_id.isdigit() and expires.isdigit()):
            return None
        if not hmac.compare_digest(mac.encode(), self._mac(f"{user_id}.{expires}").encode()):
            return None
        return int(user_id) if int(expires) > (now or time.time()) else None

    def _mac(self, claim: str) -> str:
        return hmac.new(self._secret, claim.encode(), hashlib.sha256).hexdigest()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def create_codec_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    keyring = load_keyring(settings)  # no key in prod: fails here, at start
    codec = SealingCodec(keyring)
    sessions = Sessions(keyring)
    ui_origin = settings.temporal_ui_origin
    secure_cookie = settings.codec_endpoint.startswith("https://")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.resolved_database_url)
        prepare_database(engine, settings)
        app.state.engine = engine
        yield
        engine.dispose()

    app = FastAPI(
        title="Baton codec server",
        version="0.1.0",
        description="Decodes Baton's sealed Temporal payloads for signed-in people.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[ui_origin],
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        allow_credentials=True,
        max_age=600,
    )

    def database(request: Request) -> Session:
        engine: Engine = request.app.state.engine
        return Session(engine, expire_on_commit=False)

    def known_origin(request: Request) -> None:
        """A browser request from a page other than the UI or this server's own is refused,
        even before its response would be hidden from it."""
        origin = request.headers.get("origin")
        allowed = {ui_origin, _origin(settings.codec_endpoint), _origin(str(request.base_url))}
        if origin is not None and origin not in allowed:
            raise ApiError(403, "forbidden", f"requests from {origin} are not accepted")

    def signed_in(request: Request, _origin_ok: Annotated[None, Depends(known_origin)]) -> User:
        header = request.headers.get("authorization", "")
        with database(request) as session:
            if header:
                scheme, _, key = header.partition(" ")
                user = authenticate(session, key.strip()) if scheme.lower() == "bearer" else None
                if user is None:
                    raise ApiError(401, "unauthenticated", "the API key is not valid")
                return user
            user_id = sessions.user_id(request.cookies.get(COOKIE, ""))
            user = session.get(User, user_id) if user_id is not None else None
        if user is None:
            raise ApiError(
                401,
                "unauthenticated",
                "send 'Authorization: Bearer <API key>', or sign in at "
                f"{settings.codec_endpoint}/ and turn on 'Include cross-origin credentials' "
                "in the Temporal UI's codec server settings",
            )
        return user

    SignedIn = Annotated[User, Depends(signed_in)]

    async def convert(
        request: Request, apply: Callable[[list[Payload]], Awaitable[list[Payload]]]
    ) -> Response:
        try:
            payloads = json_format.Parse(
                await request.body(), Payloads(), ignore_unknown_fields=True
            )
        except json_format.ParseError as exc:
            raise ApiError(400, "bad_request", f"expected {{'payloads': [...]}}: {exc}") from None
        try:
            converted = Payloads(payloads=await apply(list(payloads.payloads)))
        except SealedPayloadError as exc:
            raise ApiError(422, "undecodable", str(exc)) from None
        return Response(json_format.MessageToJson(converted), media_type="application/json")

    @app.post("/decode", summary="Open sealed payloads (Temporal codec protocol)")
    async def decode(request: Request, _user: SignedIn) -> Response:
        return await convert(request, codec.decode)

    @app.post("/encode", summary="Seal payloads (Temporal codec protocol)")
    async def encode(request: Request, _user: SignedIn) -> Response:
        return await convert(request, codec.encode)

    @app.get("/health", summary="Up")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse, summary="Sign-in page")
    def page(request: Request) -> HTMLResponse:
        with database(request) as session:
            user_id = sessions.user_id(request.cookies.get(COOKIE, ""))
            user = session.get(User, user_id) if user_id is not None else None
        return _page(settings, user.name if user else None)

    @app.post("/session", summary="Sign in with a Baton API key (form or JSON {'key'})")
    async def sign_in(
        request: Request, _origin_ok: Annotated[None, Depends(known_origin)]
    ) -> Response:
        body = (await request.body()).decode(errors="replace")
        form = request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        )
        if form:
            key = (parse_qs(body).get("key") or [""])[0]
        else:
            try:
                key = str(json.loads(body).get("key", ""))
            except (ValueError, AttributeError):
                key = ""
        with database(request) as session:
            user = authenticate(session, key.strip()) if key.strip() else None
        if user is None:
            if form:
                return _page(settings, None, "That API key is not valid.", status=401)
            raise ApiError(401, "unauthenticated", "the API key is not valid")
        response: Response = (
            RedirectResponse("/", status_code=303) if form else JSONResponse({"user": user.name})
        )
        response.set_cookie(
            COOKIE,
            sessions.issue(user),
            max_age=SESSION_HOURS * 3600,
            httponly=True,
            samesite="strict",
            secure=secure_cookie,
        )
        return response

    @app.post("/sign-out", summary="End the session")
    def sign_out(_origin_ok: Annotated[None, Depends(known_origin)]) -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=secure_cookie)
        return response

    return app


def _page(settings: Settings, user: str | None, error: str = "", status: int = 200) -> HTMLResponse:
    ui = html.escape(settings.temporal_ui_url)
    endpoint = html.escape(settings.codec_endpoint)
    if user:
        body = (
            f"<p>Signed in as <b>{html.escape(user)}</b> for {SESSION_HOURS} hours. The "
            f'<a href="{ui}">Temporal UI</a> now shows Baton\'s payloads decoded.</p>'
            '<form method="post" action="/sign-out"><button>Sign out</button></form>'
        )
    else:
        body = (
            f'<p style="color:#b00">{html.escape(error)}</p>'
            * bool(error)
            + '<form method="post" action="/session"><label>Your Baton API key '
            '<input type="password" name="key" autocomplete="off" autofocus></label> '
            "<button>Sign in</button></form>"
        )
    return HTMLResponse(
        "<!doctype html><title>Baton codec server</title>"
        '<body style="font-family:sans-serif;max-width:40em;margin:3em auto">'
        "<h1>Baton codec server</h1>"
        "<p>Temporal keeps Baton's payloads sealed. Signed in here, the Temporal UI shows them "
        "decoded to you: in the UI, open the codec server settings (the data encoder in the "
        f"top bar), set the endpoint to <code>{endpoint}</code> and turn on "
        "<i>Include cross-origin credentials</i>.</p>" + body,
        status_code=status,
    )
