"""Dependencies the routes share: Temporal, the database and the calling user.

No route holds a database session across a wait: each use opens a short one (`read`).
"""

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from api.errors import ApiError
from api.limits import RateLimiter
from api.temporal import Temporal
from core.metrics import ApiMetrics
from core.settings import Settings
from core.signing import Signer
from core.users import User, authenticate, hash_key

T = TypeVar("T")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _temporal(request: Request) -> Temporal:
    temporal: Temporal = request.app.state.temporal
    return temporal


def _signer(request: Request) -> Signer:
    signer: Signer = request.app.state.signer
    return signer


def _metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


# An id in a path (a process, task or job): no control characters, which no id has.
PathId = Annotated[str, Path(min_length=1, max_length=400, pattern=r"^[^\x00-\x1f\x7f]+$")]

SettingsDep = Annotated[Settings, Depends(_settings)]
TemporalDep = Annotated[Temporal, Depends(_temporal)]
EngineDep = Annotated[Engine, Depends(_engine)]
SignerDep = Annotated[Signer, Depends(_signer)]
MetricsDep = Annotated[ApiMetrics, Depends(_metrics)]


def in_session(engine: Engine, work: Callable[[Session], T]) -> T:
    """Runs `work` in a short session of its own (call it in a thread: it blocks)."""
    with Session(engine, expire_on_commit=False) as session:
        return work(session)


async def read(engine: Engine, work: Callable[[Session], T]) -> T:
    """`work` in a short session, off the event loop; the connection is back before it returns."""
    return await run_in_threadpool(in_session, engine, work)


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")


async def _current_user(
    request: Request,
    engine: EngineDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise ApiError(401, "unauthenticated", "send an API key as 'Authorization: Bearer <key>'")
    key = credentials.credentials
    user = await read(engine, lambda session: authenticate(session, key))
    if user is None:
        raise ApiError(401, "unauthenticated", "the API key is not valid")
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.take(hash_key(key))
    return user


CurrentUser = Annotated[User, Depends(_current_user)]
