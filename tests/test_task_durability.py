"""A task and its escalation timers survive a worker restart and a Temporal server restart."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from baton.devstack import temporal_binary
from core.db import make_engine, session_scope
from core.inbox import HumanTask
from core.settings import Settings
from core.temporal import data_converter, ensure_search_attributes
from tests.flows import ApprovalInput, ApprovalProcess
from tests.helpers import processes_worker
from tests.ports import free_port
from workers.resources import Resources, worker_resources
from workers.run import run_workers
from workflows.contracts.queues import Queues, TaskQueue
from workflows.contracts.roles import Role
from workflows.contracts.tasks import EscalationRung, TaskSpec, task_id_for


@asynccontextmanager
async def file_backed_server(database: Path, port: int) -> AsyncIterator[Client]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=data_converter(Settings(_env_file=None)),
        port=port,
        dev_server_database_filename=str(database),
        dev_server_log_level="error",
    )
    await ensure_search_attributes(env.client)
    try:
        yield env.client
    finally:
        await env.shutdown()


@asynccontextmanager
async def workers(client: Client, resources: Resources, prefix: str) -> AsyncIterator[None]:
    stop = asyncio.Event()
    others: list[TaskQueue] = [q for q in TaskQueue if q is not TaskQueue.PROCESSES]
    runner = asyncio.create_task(run_workers(client, others, resources, stop, prefix))
    try:
        async with processes_worker(client, resources, prefix):
            yield
    finally:
        stop.set()
        await runner


async def until_in_inbox(settings: Settings, task_id: str) -> None:
    for _ in range(100):
        if inbox_row(settings, task_id) is not None:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{task_id} never reached the inbox")


def inbox_row(settings: Settings, task_id: str) -> HumanTask | None:
    engine = make_engine(settings.resolved_database_url)
    with session_scope(engine) as session:
        task = session.get(HumanTask, task_id)
    engine.dispose()
    return task


async def test_an_outage_past_every_timer_applies_the_ladder_in_order(
    tmp_path: Path, settings: Settings, systems_url: str
) -> None:
    """Workers and server stay down past the escalation and the expiry: on restart the rung is
    applied first (with its notification, marked late), then the expiry. However long the
    restart takes, the result is the same."""
    settings = settings.model_copy(update={"systems_url": systems_url})
    database, port, prefix = tmp_path / "temporal.db", free_port(), "durable-"
    escalate_after, expire_after = timedelta(seconds=4), timedelta(seconds=6)
    spec = TaskSpec(
        name="approval",
        title="Approve order SO-77",
        candidate_roles=[Role.SALES_MANAGER],
        escalation=[EscalationRung(after=escalate_after, roles=[Role.FINANCE_CONTROLLER])],
        expire_after=expire_after,
        expiry_outcome="reject",
    )
    process_id = f"durable-{uuid.uuid4().hex[:8]}"
    task_id = task_id_for(process_id, "approval")

    async with worker_resources(settings) as resources:
        async with (
            file_backed_server(database, port) as client,
            workers(client, resources, prefix),
        ):
            await client.start_workflow(
                ApprovalProcess.run,
                ApprovalInput(spec=spec, queues=Queues.prefixed(prefix)),
                id=process_id,
                task_queue=f"{prefix}processes",
            )
            await until_in_inbox(settings, task_id)
        # Workers and server are gone; the task's timers live on in the server's file.
        down = inbox_row(settings, task_id)
        assert down is not None
        created = down.created_at.replace(tzinfo=UTC)
        # Stay down until both timers are past due: a point in time, whatever the machine does.
        past_due = created + expire_after + timedelta(seconds=1) - datetime.now(UTC)
        await asyncio.sleep(max(past_due.total_seconds(), 0))
        async with file_backed_server(database, port) as client, workers(client, resources, prefix):
            result = await client.get_workflow_handle_for(ApprovalProcess.run, process_id).result()

    assert (result.outcome, result.expired, result.escalation_level) == ("reject", True, 1)
    task = inbox_row(settings, task_id)
    assert task is not None
    events = [entry["event"] for entry in task.history]
    escalated = next(i for i, event in enumerate(events) if event.startswith("escalated"))
    assert events[escalated + 1 :] == ["expired; outcome reject"]
    at = datetime.fromisoformat(task.history[escalated]["at"]).replace(tzinfo=UTC)
    assert at - created >= escalate_after
    if down.escalation_level == 0:  # it was down when the rung fell due: applied on restart
        assert "late" in events[escalated], events
        async with httpx.AsyncClient(base_url=systems_url) as sandbox:
            outbox = (await sandbox.get("/notifications", params={"ref": task_id})).json()
        subjects = [(m["recipient"], m["subject"]) for m in outbox]
        assert subjects == [
            ("role:finance_controller", "Escalated to you: Approve order SO-77"),
            ("role:finance_controller", "Expired with outcome reject: Approve order SO-77"),
        ]
