"""Operations on many processes at once (an operator's clean-up): cancel or terminate every
running process a visibility query finds, after a dry run that lists them. Each one is recorded
in its process's ledger as a system decision, with who asked and why.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine
from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError

from core import ledger
from workflows.contracts import search_attributes as search
from workflows.contracts.tasks import TASK_WORKFLOW, ActorKind, LedgerEntry

# Operations in flight at once: enough to overlap round trips, few enough to spare the server.
CONCURRENCY = 8


class BulkOperation(StrEnum):
    CANCEL = "cancel"  # the process undoes what it did (compensation), then ends cancelled
    TERMINATE = "terminate"  # it stops at once: nothing is undone


@dataclass(frozen=True)
class Target:
    process_id: str
    process_type: str
    stage: str


@dataclass(frozen=True)
class Done:
    target: Target
    error: str | None  # None: done


def running_processes(query: str) -> str:
    """The query narrowed to running processes: never a human task (it ends with its process)."""
    return (
        f"({query}) AND {search.PROCESS_TYPE.name} IS NOT NULL "
        f"AND WorkflowType != '{TASK_WORKFLOW}' AND ExecutionStatus = 'Running'"
    )


def _target(execution: WorkflowExecution) -> Target:
    attributes = execution.typed_search_attributes
    return Target(
        process_id=execution.id,
        process_type=attributes.get(search.PROCESS_TYPE) or "",
        stage=attributes.get(search.STAGE) or "",
    )


async def targets(client: Client, query: str, limit: int) -> list[Target]:
    """The running processes `query` finds, at most `limit` of them: what a run would touch."""
    found = []
    async for execution in client.list_workflows(running_processes(query), limit=limit):
        found.append(_target(execution))
    return found


async def apply(
    client: Client,
    engine: Engine,
    operation: BulkOperation,
    chosen: list[Target],
    asked_by: str,
    reason: str,
    on_done: Callable[[Done], None] = lambda _: None,
) -> list[Done]:
    """Does `operation` to each target, recording it in the target's ledger first (so no
    process stops without a record of who stopped it)."""
    batch = uuid.uuid4().hex[:12]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(target: Target) -> Done:
        handle = client.get_workflow_handle(target.process_id)
        entry = LedgerEntry(
            decision_id=f"{target.process_id}:bulk-{operation.value}:{batch}",
            process_id=target.process_id,
            step=f"bulk {operation.value}",
            actor_kind=ActorKind.SYSTEM,
            actor="baton processes",
            outcome=operation.value,
            comment=reason,
            data={"asked_by": asked_by, "batch": batch},
            decided_at=datetime.now(UTC),
        )
        stop: Callable[[], Awaitable[None]] = (
            handle.cancel
            if operation is BulkOperation.CANCEL
            else lambda: handle.terminate(reason=f"{reason} (asked by {asked_by})")
        )
        async with gate:
            try:
                await asyncio.to_thread(ledger.append, engine, entry)
                await stop()
            except RPCError as exc:
                done = Done(target, exc.message)
            else:
                done = Done(target, None)
        on_done(done)
        return done

    return list(await asyncio.gather(*(one(target) for target in chosen)))
