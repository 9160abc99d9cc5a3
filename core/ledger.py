"""The decision ledger: who or what decided, when, with what confidence. One row a decision."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, col, select

from workflows.contracts.tasks import LedgerEntry


class LedgerRow(SQLModel, table=True):
    __tablename__ = "decision_ledger"

    id: int | None = Field(default=None, primary_key=True)
    decision_id: str = Field(unique=True, max_length=300)
    process_id: str = Field(index=True, max_length=300)
    step: str = Field(max_length=200)
    actor_kind: str = Field(max_length=20)
    actor: str = Field(max_length=200)
    outcome: str = Field(max_length=100)
    comment: str = ""
    confidence: float | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    applied: bool = True
    reason: str = ""
    decided_at: datetime


def record(session: Session, entry: LedgerEntry) -> bool:
    """Adds the entry unless its decision id is already there; True when it was added."""
    if session.exec(select(LedgerRow).where(LedgerRow.decision_id == entry.decision_id)).first():
        return False
    session.add(LedgerRow(**entry.model_dump()))
    return True


def for_process(session: Session, process_id: str) -> list[LedgerRow]:
    query = select(LedgerRow).where(LedgerRow.process_id == process_id)
    return list(session.exec(query.order_by(col(LedgerRow.decided_at), col(LedgerRow.id))).all())
