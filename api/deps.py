"""Dependencies the routes share: the Temporal client, the database and the calling user."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client

from api.errors import ApiError
from core.settings import Settings
from core.signing import Keyring
from core.users import User, authenticate


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


def _keyring(request: Request) -> Keyring:
    ring: Keyring = request.app.state.keyring
    return ring


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _session(engine: Annotated[Engine, Depends(_engine)]) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(_settings)]
TemporalDep = Annotated[Client, Depends(_temporal)]
EngineDep = Annotated[Engine, Depends(_engine)]
KeyringDep = Annotated[Keyring, Depends(_keyring)]
SessionDep = Annotated[Session, Depends(_session)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`")


def _current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise ApiError(401, "unauthenticated", "send an API key as 'Authorization: Bearer <key>'")
    user = authenticate(session, credentials.credentials)
    if user is None:
        raise ApiError(401, "unauthenticated", "the API key is not valid")
    return user


CurrentUser = Annotated[User, Depends(_current_user)]
