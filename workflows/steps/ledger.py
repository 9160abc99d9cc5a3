"""Writes one decision (a person's, an AI step's, a bot's or the system's) to the ledger."""

from workflows.contracts.queues import Queues
from workflows.contracts.tasks import InboxActivity, LedgerEntry
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
