"""Runs one worker per task queue in this process until asked to stop, then drains gracefully."""

import asyncio
import logging
from contextlib import AsyncExitStack
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from workers.registry import content_for
from workflows.contracts.queues import TaskQueue

log = logging.getLogger(__name__)

# In-flight activities get this long to finish after a stop request before they are cancelled.
GRACEFUL_SHUTDOWN = timedelta(seconds=10)


def build_workers(client: Client, queues: list[TaskQueue]) -> list[Worker]:
    workers = []
    for queue in queues:
        content = content_for(queue)
        if content.empty:
            log.info("queue %s: nothing registered yet, not polling it", queue.value)
            continue
        workers.append(
            Worker(
                client,
                task_queue=queue.value,
                workflows=content.workflows,
                activities=content.activities,
                max_concurrent_activities=content.max_concurrent_activities,
                graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
            )
        )
    return workers


async def run_workers(client: Client, queues: list[TaskQueue], stop: asyncio.Event) -> None:
    async with AsyncExitStack() as stack:
        workers = build_workers(client, queues)
        for worker in workers:
            await stack.enter_async_context(worker)
        log.info("polling %s", ", ".join(w.task_queue for w in workers) or "no queue")
        await stop.wait()
        log.info("stopping workers: finishing in-flight work")
