"""The worker runner polls what each queue registers and drains in-flight work on stop."""

import asyncio
import uuid

import pytest
from temporalio import activity
from temporalio.client import Client

from core.settings import Settings
from tests.flows import ShoutWorkflow
from workers import run
from workers.registry import QueueContent
from workers.resources import Resources, worker_resources
from workflows.contracts.queues import TaskQueue

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
