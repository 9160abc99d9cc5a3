"""Writes one decision (a person's, an AI step's, a bot's or the system's) to the ledger."""

from datetime import timedelta

from temporalio import workflow

from workflows.contracts.queues import Queues
from workflows.contracts.tasks import InboxActivity, LedgerEntry


async def record_decision(entry: LedgerEntry, queues: Queues) -> None:
    verb = "decided" if entry.applied else "was refused"
    await workflow.execute_activity(
        InboxActivity.RECORD_DECISION,
        entry,
        task_queue=queues.inbox,
        start_to_close_timeout=timedelta(seconds=30),
        summary=f"ledger: {entry.actor} {verb} {entry.outcome}",
    )
