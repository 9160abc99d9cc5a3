"""Writes one decision (a person's, an AI step's, a bot's or the system's) to the ledger."""

from typing import Any

from temporalio import workflow

from workflows.contracts.queues import Queues
from workflows.contracts.tasks import ActorKind, InboxActivity, LedgerEntry
from workflows.steps.calls import INBOX_TIMEOUT, call


async def record_decision(entry: LedgerEntry, queues: Queues) -> None:
    verb = "decided" if entry.applied else "was refused"
    await call(
        InboxActivity.RECORD_DECISION,
        entry,
        bool,
        queue=queues.inbox,
        start_to_close=INBOX_TIMEOUT,
        summary=f"ledger: {entry.actor} {verb} {entry.outcome}",
    )


async def record_step(
    step: str,
    kind: ActorKind,
    actor: str,
    outcome: str,
    confidence: float | None,
    data: dict[str, Any],
    queues: Queues,
) -> None:
    """A process's own decision (an AI answer, a correction), one per step of the process."""
    process_id = workflow.info().workflow_id
    entry = LedgerEntry(
        decision_id=f"{process_id}:{step}",
        process_id=process_id,
        step=step,
        actor_kind=kind,
        actor=actor,
        outcome=outcome,
        confidence=confidence,
        data=data,
        decided_at=workflow.now(),
    )
    await record_decision(entry, queues)
