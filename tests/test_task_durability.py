"""A task and its escalation timers survive a worker restart and a Temporal server restart."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from baton.devstack import temporal_binary
from core.db import make_engine, session_scope
from core.inbox import HumanTask
from core.settings import Settings
from core.temporal import ensure_search_attributes
from tests.flows import TEST_WORKFLOWS, ApprovalInput, ApprovalProcess
from tests.ports import free_port
from workers.registry import content_for
from workers.resources import Resources, worker_resources
from workers.run import run_workers
from workflows.contracts.queues import Queues, TaskQueue
from workflows.contracts.roles import Role
from workflows.contracts.tasks import EscalationRung, TaskSpec, task_id_for


@asynccontextmanager
async def file_backed_server(database: Path, port: int) -> AsyncIterator[Client]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=pydantic_data_converter,
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
        async with Worker(
            client,
            task_queue=f"{prefix}processes",
            workflows=[*content_for(TaskQueue.PROCESSES, resources).workflows, *TEST_WORKFLOWS],
        ):
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


async def test_escalation_fires_after_worker_and_server_restarts(
    tmp_path: Path, settings: Settings, systems_url: str
) -> None:
    settings = settings.model_copy(update={"systems_url": systems_url})
    database, port, prefix = tmp_path / "temporal.db", free_port(), "durable-"
    spec = TaskSpec(
        name="approval",
        title="Approve order SO-77",
        candidate_roles=[Role.SALES_MANAGER],
        escalation=[EscalationRung(after=timedelta(seconds=4), roles=[Role.FINANCE_CONTROLLER])],
        expire_after=timedelta(seconds=7),
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
        await asyncio.sleep(1)
        async with file_backed_server(database, port) as client, workers(client, resources, prefix):
            result = await client.get_workflow_handle_for(ApprovalProcess.run, process_id).result()

    assert (result.outcome, result.expired, result.escalation_level) == ("reject", True, 1)
    task = inbox_row(settings, task_id)
    assert task is not None
    escalated = next(e for e in task.history if e["event"].startswith("escalated"))
    at = datetime.fromisoformat(escalated["at"])
    assert at - task.created_at.replace(tzinfo=at.tzinfo) >= timedelta(seconds=4)
    assert [e["event"] for e in task.history][-1] == "expired; outcome reject"
