"""Notifications: an outbox of messages to people and customers (nothing is really sent)."""

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from systems.deps import ReadSession, Write
from systems.tables import Notification

router = APIRouter(prefix="/notifications", tags=["notifications"])


class NotificationIn(BaseModel):
    recipient: str = Field(min_length=1, max_length=200, description="user, role or customer id")
    channel: Literal["email", "sms", "chat", "inbox"] = "email"
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field("", max_length=20_000)
    ref: str | None = Field(None, description="the process or task it is about")


@router.post("", status_code=201)
def send(body: NotificationIn, write: Write) -> JSONResponse:
    def change(session: Session) -> Notification:
        message = Notification(**body.model_dump())
        session.add(message)
        session.flush()
        return message

    return write(body, change)


@router.get("")
def outbox(
    session: ReadSession, recipient: str | None = None, ref: str | None = None
) -> list[Notification]:
    query = select(Notification).order_by(col(Notification.id))
    if recipient:
        query = query.where(Notification.recipient == recipient)
    if ref:
        query = query.where(Notification.ref == ref)
    return list(session.exec(query).all())
