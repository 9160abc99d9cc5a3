"""The workspace's sign-in sessions: a random token in an HttpOnly cookie, its digest here.

A session ends when its person signs out or after `idle` without a request; each session has
its own CSRF token, which every form that changes something must send back.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Field, Session, SQLModel, col, delete

from core.schema import UTCDateTime
from core.users import User


class WebSession(SQLModel, table=True):
    __tablename__ = "web_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True)
    csrf: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen: datetime = Field(sa_type=UTCDateTime, index=True)


@dataclass(frozen=True)
class SignedIn:
    user: User
    csrf: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user: User, idle: timedelta) -> str:
    """Starts a session for `user` and returns its token (the cookie's value). Sessions idle
    for longer than `idle` (whoever's) are deleted on the way: nobody comes back to them."""
    assert user.id is not None
    token, now = secrets.token_urlsafe(32), datetime.now(UTC)
    session.exec(delete(WebSession).where(col(WebSession.last_seen) < now - idle))
    session.add(
        WebSession(
            token_hash=_digest(token),
            user_id=user.id,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
        )
    )
    session.commit()
    return token


def resume(session: Session, token: str, idle: timedelta) -> SignedIn | None:
    """The session's person, if it is open and was used within `idle`; it counts as used now.
    An expired session is deleted."""
    row = session.get(WebSession, _digest(token))
    if row is None:
        return None
    now = datetime.now(UTC)
    if now - row.last_seen > idle:
        session.delete(row)
        session.commit()
        return None
    user = session.get(User, row.user_id)
    if user is None:
        return None
    # Written at most once a minute: a page's polling does not turn every read into a write.
    if now - row.last_seen > timedelta(minutes=1):
        row.last_seen = now
        session.add(row)
        session.commit()
    return SignedIn(user=user, csrf=row.csrf)


def close_session(session: Session, token: str) -> None:
    session.exec(delete(WebSession).where(col(WebSession.token_hash) == _digest(token)))
    session.commit()


def same_token(sent: str | None, expected: str) -> bool:
    """Compares a form's CSRF token in constant time."""
    return sent is not None and hmac.compare_digest(sent.encode(), expected.encode())
