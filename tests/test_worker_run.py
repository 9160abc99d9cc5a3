"""The worker runner polls what each queue registers and drains in-flight work on stop."""

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import Coroutine, Generator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from temporalio import activity, workflow
from temporalio.client import Client

from core.db import make_engine, prepare_database
from core.processes import start_process
from core.settings import Settings
from tests.flows import ShoutWorkflow
from tests.helpers import temporal_address, wait_for
from workers import run
from workers.registry import QueueContent
from workers.resources import Resources, worker_resources
from workflows.contracts.orders import ORDER_FULFILLMENT
from workflows.contracts.processes import ProcessState, StepStatus
from workflows.contracts.queues import TaskQueue
from workflows.contracts.tasks import ActorKind
from workflows.steps.tracker import Tracker

started = asyncio.Event()
finished: list[str] = []


@activity.defn(name="shout")
async def shout(text: str) -> str:
    started.set()
    await asyncio.sleep(0.5)  # still running when the stop request arrives
    finished.append(text)
    return text.upper()


_CONTENT = {
    TaskQueue.PROCESSES: QueueContent(workflows=[ShoutWorkflow]),
    TaskQueue.BOTS: QueueContent(activities=[shout], max_concurrent_activities=2),
}


async def test_workers_serve_registered_queues_and_stop_gracefully(
    client: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with worker_resources(settings) as resources:
        await _serve_stop_and_resume(client, resources, monkeypatch)


async def _serve_stop_and_resume(
    client: Client, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, "content_for", lambda queue, _: _CONTENT.get(queue, QueueContent()))
    text = f"baton-{uuid.uuid4().hex[:6]}"
    handle = await client.start_workflow(
        ShoutWorkflow.run, text, id=f"shout-{text}", task_queue="processes"
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(run.run_workers(client, list(_CONTENT), resources, stop))
    await asyncio.wait_for(started.wait(), 15)
    stop.set()
    await asyncio.wait_for(runner, 15)
    assert finished == [text], "the in-flight activity should finish, not be cancelled"

    # The workflow waits, durable, for a worker; a new one completes it (after the sticky
    # queue of the stopped worker times out, 10 s by default).
    again = asyncio.Event()
    restarted = asyncio.create_task(run.run_workers(client, list(_CONTENT), resources, again))
    assert await asyncio.wait_for(handle.result(), 15) == text.upper()
    again.set()
    await restarted


ORDERS = 12


async def test_a_worker_stopped_mid_flight_prints_no_traceback(
    client: Client, settings: Settings, systems_url: str, task_queue: str
) -> None:
    """`baton worker` stopped by SIGTERM while processes are mid-step exits 0, quietly.

    The stop drops the runs from the worker's cache; their coroutines are closed outside the
    workflow's event loop, which is no failure of the step (see Tracker.step).
    """
    settings = settings.model_copy(
        update={"systems_url": systems_url, "task_queue_prefix": f"{task_queue}-"}
    )
    engine = make_engine(settings.resolved_database_url)
    prepare_database(engine, settings)
    engine.dispose()
    # The session's keys (conftest), so the worker opens what the test's client seals.
    shared = ("BATON_CODEC_", "BATON_SIGNING_")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("BATON_") or k.startswith(shared)
    }
    env.update(
        BATON_DATA_DIR=str(settings.data_dir),
        BATON_DATABASE_URL=settings.resolved_database_url,
        BATON_TEMPORAL_ADDRESS=temporal_address(client),
        BATON_SYSTEMS_URL=systems_url,
        BATON_TASK_QUEUE_PREFIX=settings.task_queue_prefix,
    )
    order = ORDER_FULFILLMENT.input_model.model_validate(
        {"customer_id": "C-1002", "lines": [{"sku": "WID-100", "quantity": 1}]}
    )
    async with httpx.AsyncClient(base_url=systems_url) as sandbox:
        await sandbox.post("/admin/reset")
        # Slow reservations: every process has a step in flight at the stop.
        fault = {"path": "/erp/reservations", "methods": ["POST"], "latency_ms": 3000}
        assert (await sandbox.post("/admin/faults", json=fault)).status_code == 201
        # A file, not a pipe: a helper process of the worker's (the AI's) may hold a pipe open.
        log = settings.data_dir / "worker.log"
        with log.open("wb") as out:
            worker = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "baton", "worker"),
                env=env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed whole if the test fails
            )
        try:
            for _ in range(ORDERS):
                await start_process(client, settings, ORDER_FULFILLMENT, order, "alice")

            async def reserving() -> bool:
                endpoints = (await sandbox.get("/admin/stats")).json()["endpoints"]
                calls: int = endpoints.get("POST /erp/reservations", {}).get("calls", 0)
                return calls >= ORDERS

            await wait_for(reserving, "the processes to reach their parallel ERP steps")
            worker.send_signal(signal.SIGTERM)
            await asyncio.wait_for(worker.wait(), 60)
        finally:
            if worker.returncode is None:
                os.killpg(worker.pid, signal.SIGKILL)
                await worker.wait()
            await sandbox.delete("/admin/faults")
    text = log.read_text(errors="replace")
    assert worker.returncode == 0, text
    assert "stopping workers" in text
    assert "Traceback" not in text, text
    assert "Exception ignored" not in text, text


class _Pending:
    """An awaitable that never resolves: a step in flight."""

    def __await__(self) -> Generator[None, None, None]:
        yield


def _step_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Tracker, Coroutine[Any, Any, None]]:
    """A Tracker step suspended in its `run`, started with a stand-in workflow clock; the clock
    is the real one again on return, which raises outside a workflow's event loop."""
    tracker = Tracker(ProcessState(process_id="p", process_type="t", business_key="k"))
    monkeypatch.setattr(workflow, "now", lambda: datetime.now(UTC))
    step = tracker.step("reserve stock", ActorKind.BOT, _Pending)
    step.send(None)
    monkeypatch.undo()
    return tracker, step


def test_a_step_closed_by_the_garbage_collector_is_no_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a worker's shutdown does to a run it drops: the coroutine is closed (GeneratorExit)
    outside the workflow's event loop. The step lets it through and calls no workflow API."""
    tracker, step = _step_in_flight(monkeypatch)
    step.close()  # raised _NotInWorkflowEventLoopError before the fix
    assert tracker.state.steps[0].status is StepStatus.RUNNING


def test_a_cancelled_step_is_recorded_as_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    tracker, step = _step_in_flight(monkeypatch)
    with pytest.raises(asyncio.CancelledError):
        step.throw(asyncio.CancelledError())
    assert tracker.state.steps[0].status is StepStatus.FAILED
