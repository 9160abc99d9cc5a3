"""Writes one decision (a person's, an AI step's, a bot's or the system's) to the ledger."""

from workflows.contracts.queues import Queues
from workflows.contracts.tasks import InboxActivity, LedgerEntry
from workflows.steps.calls import inbox_call


async def record_decision(entry: LedgerEntry, queues: Queues) -> None:
    verb = "decided" if entry.applied else "was refused"
    await inbox_call(
        InboxActivity.RECORD_DECISION,
        entry,
        bool,
        queues=queues,
        summary=f"ledger: {entry.actor} {verb} {entry.outcome}",
    )
