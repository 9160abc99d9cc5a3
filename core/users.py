"""Users, their roles and API keys. Keys are stored as SHA-256 digests, never in clear."""

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, select

from workflows.contracts.roles import Role

# The demo users of the contract, created only when BATON_ENV=dev.
DEMO_USERS: tuple[tuple[str, Role, str], ...] = (
    ("alice", Role.SALES_REP, "dev-alice"),
    ("bob", Role.SALES_MANAGER, "dev-bob"),
    ("carol", Role.FINANCE_CONTROLLER, "dev-carol"),
    ("dave", Role.AP_CLERK, "dev-dave"),
    ("erin", Role.ADMIN, "dev-erin"),
    ("frank", Role.ANALYST, "dev-frank"),
)


def _now() -> datetime:
    return datetime.now(UTC)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=100)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=_now)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    key_hash: str = Field(unique=True, index=True, max_length=64)
    created_at: datetime = Field(default_factory=_now)


class UserExistsError(ValueError):
    pass


def hash_key(key: str) -> str:
    # Keys are long random strings, so a fast digest is enough (no password stretching needed).
    return hashlib.sha256(key.encode()).hexdigest()


def add_user(session: Session, name: str, roles: list[Role], key: str | None = None) -> str:
    """Creates a user with one API key and returns the key (the only time it is readable)."""
    if session.exec(select(User).where(User.name == name)).first():
        raise UserExistsError(f"user {name!r} already exists")
    user = User(name=name, roles=[role.value for role in roles])
    session.add(user)
    session.flush()
    assert user.id is not None
    key = key or f"bk_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(user_id=user.id, key_hash=hash_key(key)))
    session.flush()
    return key


def authenticate(session: Session, key: str) -> User | None:
    api_key = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
    return session.get(User, api_key.user_id) if api_key else None


def seed_demo_users(session: Session) -> None:
    """Creates the demo users that are missing; running it again changes nothing."""
    existing = set(session.exec(select(User.name)).all())
    for name, role, key in DEMO_USERS:
        if name not in existing:
            add_user(session, name, [role], key)
