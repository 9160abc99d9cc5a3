"""CRM: customers, captured interactions, notes."""

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from systems.deps import ReadSession, Write, get_or_404
from systems.tables import Customer, Interaction, Note

router = APIRouter(prefix="/crm", tags=["crm"])


class InteractionIn(BaseModel):
    customer_id: str
    channel: Literal["email", "chat", "phone", "web", "api"] = "email"
    kind: str = Field("inquiry", description="e.g. order, inquiry, complaint")
    text: str = Field(min_length=1, max_length=20_000)
    ref: str | None = Field(None, description="the process or order it belongs to")


class InteractionOutcome(BaseModel):
    outcome: str = Field(min_length=1, max_length=2_000)


class NoteIn(BaseModel):
    customer_id: str
    text: str = Field(min_length=1, max_length=20_000)
    ref: str | None = None


@router.get("/customers")
def list_customers(session: ReadSession) -> list[Customer]:
    return list(session.exec(select(Customer).order_by(Customer.customer_id)).all())


@router.get("/customers/{customer_id}")
def get_customer(customer_id: str, session: ReadSession) -> Customer:
    customer: Customer = get_or_404(session, Customer, customer_id, "customer")
    return customer


@router.get("/customers/{customer_id}/interactions")
def list_interactions(customer_id: str, session: ReadSession) -> list[Interaction]:
    get_or_404(session, Customer, customer_id, "customer")
    query = select(Interaction).where(Interaction.customer_id == customer_id)
    return list(session.exec(query.order_by(Interaction.id)).all())  # type: ignore[arg-type]


@router.post("/interactions", status_code=201)
def capture_interaction(body: InteractionIn, write: Write) -> JSONResponse:
    def change(session: Session) -> Interaction:
        get_or_404(session, Customer, body.customer_id, "customer")
        interaction = Interaction(**body.model_dump())
        session.add(interaction)
        session.flush()
        return interaction

    return write(body, change)


@router.post("/interactions/{interaction_id}/outcome")
def record_outcome(interaction_id: int, body: InteractionOutcome, write: Write) -> JSONResponse:
    def change(session: Session) -> Interaction:
        interaction: Interaction = get_or_404(session, Interaction, interaction_id, "interaction")
        interaction.outcome = body.outcome
        session.add(interaction)
        return interaction

    return write({"id": interaction_id, **body.model_dump()}, change, status_code=200)


@router.post("/notes", status_code=201)
def add_note(body: NoteIn, write: Write) -> JSONResponse:
    def change(session: Session) -> Note:
        get_or_404(session, Customer, body.customer_id, "customer")
        note = Note(**body.model_dump())
        session.add(note)
        session.flush()
        return note

    return write(body, change)
