"""An approval task on its own (tests/flows.py's ApprovalProcess), for the human-task tests:
its spec, its start, its ledger rows and its notifications."""

import uuid
from datetime import UTC, datetime
from typing import Any

from temporalio.client import WorkflowHandle

from core.db import make_engine, session_scope
from core.ledger import LedgerRow, for_process
from tests.flows import ApprovalInput, ApprovalProcess
from tests.helpers import ERIN, Stack, wait_for_task
from workflows.contracts.orders import ORDER_FULFILLMENT
from workflows.contracts.roles import Role
from workflows.contracts.tasks import TaskForm, TaskRecord, TaskResult, TaskSpec, task_id_for


def approval(**overrides: Any) -> TaskSpec:
    fields: dict[str, Any] = {
        "name": "approval",
        "title": "Approve order SO-1 (12,400.00)",
        "description": "Large order; check the customer's credit.",
        "candidate_roles": [Role.SALES_MANAGER],
        "requester": "alice",
    }
    return TaskSpec(**(fields | overrides))


async def start(
    stack: Stack, spec: TaskSpec, history_limit: int = 2_000
) -> tuple[WorkflowHandle[Any, TaskResult], str]:
    process_id = f"test-approval-{uuid.uuid4().hex[:8]}"
    handle = await stack.client.start_workflow(
        ApprovalProcess.run,
        ApprovalInput(spec=spec, queues=stack.queues, history_limit=history_limit),
        id=process_id,
        task_queue=stack.processes,
    )
    task_id = task_id_for(process_id, spec.name)
    await wait_for_task(stack, task_id, ERIN)
    return handle, task_id


def approval_record(task_id: str, **changes: Any) -> TaskRecord:
    """An order's approval task as its workflow writes it to the inbox, first write."""
    record = TaskRecord(
        task_id=task_id,
        process_id=task_id.split(":task:")[0],
        process_type=ORDER_FULFILLMENT.name,
        name="approval",
        kind="approval",
        title="Approve",
        form=TaskForm(),
        candidate_roles=[Role.SALES_MANAGER],
        assignee=None,
        requester="alice",
        created_at=datetime.now(UTC),
        seq=1,
    )
    return record.model_copy(update=changes)


def ledger(stack: Stack, process_id: str) -> list[LedgerRow]:
    engine = make_engine(stack.settings.resolved_database_url)
    with session_scope(engine) as session:
        rows = for_process(session, process_id)
    engine.dispose()
    return rows


async def outbox(stack: Stack, task_id: str) -> list[str]:
    messages = (await stack.sandbox.get("/notifications", params={"ref": task_id})).json()
    return [f"{m['recipient']}: {m['subject']}" for m in messages]
