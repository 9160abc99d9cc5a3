"""The error envelope of the contract: {"error": {"code", "message", "details"}} for every error.

Every response carries a request id (`X-Request-ID`, the caller's own if it sent a sane one);
an unexpected exception is answered 500 in the envelope with that id, and its traceback is
logged under the same id. The OpenAPI document lists each operation's errors (`responses`).
"""

import logging
import re
import uuid
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
_log = logging.getLogger("baton.api")


class ApiError(StarletteHTTPException):
    """Raised for an expected failure; rendered in the envelope with its status.

    An HTTPException, so it passes through FastAPI's body parsing too (a body over the limit).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.status, self.code, self.message, self.details = status, code, message, details


def invalid(exc: ValidationError, where: str, what: str) -> ApiError:
    """A 422 naming each field pydantic refused, under `where` (e.g. "body.data"), with a
    summary that says `what` was invalid (e.g. "input")."""
    fields = [
        {"field": ".".join([where, *map(str, error["loc"])]), "message": error["msg"]}
        for error in exc.errors()
    ]
    summary = "; ".join(f"{field['field']}: {field['message']}" for field in fields)
    return ApiError(422, "validation_error", f"invalid {what}: {summary}", fields)


def field_error(status: int, code: str, field: str, message: str) -> ApiError:
    """An error with the one field at fault, e.g. `query.next_page`."""
    return ApiError(status, code, f"{field}: {message}", [{"field": field, "message": message}])


class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable, e.g. validation_error, process_not_found")
    message: str
    details: Any = Field(None, description="e.g. the fields at fault: [{field, message}]")


class ErrorEnvelope(BaseModel):
    error: ErrorBody


_WHEN = {
    401: "no API key, or not a valid one",
    403: "the caller may not do this (see the authorization table)",
    404: "no such object, or not one the caller may see",
    409: "the object is in a state that refuses this (e.g. closed)",
    413: "the request body is larger than the API reads",
    422: "invalid input; `details` names each field at fault",
    429: "too many requests for this API key; retry after `Retry-After` seconds",
    500: "an unexpected error; `details.request_id` finds it in the logs",
    503: "Temporal, its workers or the database cannot answer now; retry later",
    504: "the workflow has not answered yet; ask again later",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each in the envelope."""
    return {
        status: {
            "model": ErrorEnvelope,
            "description": _WHEN[status],
            **({"headers": _RETRY_AFTER} if status == 429 else {}),
        }
        for status in statuses
    }


def envelope(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(jsonable_encoder(body), status_code=status)


def _code_for(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    response = envelope(exc.status, exc.code, exc.message, exc.details)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def _allowed(request: Request) -> str:
    """Every method the path answers. Starlette's 405 names only its first route's, and one
    path may have several routes (GET and POST /v1/schedules)."""
    methods: set[str] = set()
    for route in request.app.routes:
        if route.matches(request.scope)[0] is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI could not read the body (e.g. not UTF-8): bad input
        detail = [{"field": "body", "message": str(exc.detail)}]
        return envelope(422, "validation_error", f"body: {exc.detail}", detail)
    response = envelope(exc.status_code, _code_for(exc.status_code), str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:
        response.headers["Allow"] = _allowed(request)
    return response


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors()
    ]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return envelope(422, "validation_error", f"invalid request: {summary}", fields)


async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    _log.warning("database unavailable: %s", exc)
    return envelope(503, "database_unavailable", "the database did not answer; retry later")


class RequestIds:
    """Gives each request an id, sent back as X-Request-ID, and turns an unexpected exception
    into a 500 in the envelope (with that id), logging its traceback under the id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(REQUEST_ID.lower().encode(), b"").decode("latin-1")
        request_id = sent if _SANE_ID.fullmatch(sent) else uuid.uuid4().hex
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            _log.exception("request %s (%s %s) failed", request_id, scope["method"], scope["path"])
            if started:
                raise  # too late for an answer; the server drops the connection
            message = f"an unexpected error; the logs have it under request id {request_id}"
            response = envelope(500, "internal_error", message, {"request_id": request_id})
            await response(scope, receive, send_with_id)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(PoolTimeoutError, _database_error)
    app.add_middleware(RequestIds)
