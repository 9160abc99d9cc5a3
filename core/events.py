"""Business events from other systems: their signatures, and which were received already.

A source signs each event with its secret: `X-Baton-Signature: t=<unix seconds>,v1=<hex>`, the
HMAC-SHA256 of `<t>.<raw body>`. The timestamp must be within a window of now, so a captured
event cannot be sent again later; within the window, the event's own id makes a repeat
change nothing (`ReceivedEvent`).
"""

import hashlib
import hmac
import time
from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from core.schema import UTCDateTime

SIGNATURE_HEADER = "X-Baton-Signature"


class BadSignature(ValueError):
    """The event is not signed by its source's secret, or not within the window."""


def sign(secret: str, body: bytes, at: int | None = None) -> str:
    """The signature header's value for `body`, as a source computes it."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def verify(header: str | None, secret: str, body: bytes, window_seconds: int) -> None:
    """Returns when `header` signs `body` with `secret` at a time within the window."""
    if not header:
        raise BadSignature(f"no {SIGNATURE_HEADER} header")
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        at = int(parts["t"])
        sent = parts["v1"]
    except (KeyError, ValueError):
        raise BadSignature(f"{SIGNATURE_HEADER} is not 't=<unix seconds>,v1=<hex>'") from None
    if abs(time.time() - at) > window_seconds:
        raise BadSignature(f"signed at {at}, more than {window_seconds} s from now")
    expected = sign(secret, body, at).split("v1=", 1)[1]
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise BadSignature("the signature does not match the body")


class ReceivedEvent(SQLModel, table=True):
    """An event applied: a repeat of its (source, event id) answers this outcome again."""

    __tablename__ = "received_events"
    __table_args__ = (UniqueConstraint("source", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=100)
    event_id: str = Field(max_length=200)
    type: str = Field(max_length=200)
    action: str = Field(max_length=20)  # started or signalled
    process_id: str = Field(max_length=300)
    received_at: datetime = Field(sa_type=UTCDateTime)


def received(session: Session, source: str, event_id: str) -> ReceivedEvent | None:
    return session.exec(
        select(ReceivedEvent).where(
            ReceivedEvent.source == source, ReceivedEvent.event_id == event_id
        )
    ).first()


def remember(session: Session, event: ReceivedEvent) -> ReceivedEvent:
    """Records the event as applied; if the same event was recorded meanwhile (sent twice at
    once), that record."""
    session.add(event)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        earlier = received(session, event.source, event.event_id)
        assert earlier is not None
        return earlier
    return event
