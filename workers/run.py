"""Runs one worker per task queue in this process until asked to stop, then drains gracefully."""

import asyncio
import logging
from contextlib import AsyncExitStack
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from workers.metrics import ActivityMetrics
from workers.registry import QueueContent, content_for
from workers.resources import Resources
from workflows.contracts.queues import TaskQueue

log = logging.getLogger(__name__)

# In-flight activities get this long to finish after a stop request before they are cancelled.
GRACEFUL_SHUTDOWN = timedelta(seconds=10)
# The contracts are stateless data models: loaded once, not again for every workflow run;
# OpenTelemetry keeps its context and providers across runs (the tracing interceptor's).
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "workflows.contracts", "opentelemetry"
    )
)


def build_worker(
    client: Client,
    queue: TaskQueue,
    content: QueueContent,
    prefix: str,
    max_cached_workflows: int = 1000,
    sandboxed: bool = True,
) -> Worker:
    """A `prefix` gives a run (or a test) task queues of its own; `max_cached_workflows` bounds
    the workflow runs kept in memory (BATON_WORKFLOW_CACHE_SIZE); `sandboxed` runs workflow code
    in the SDK's sandbox (BATON_WORKFLOW_SANDBOX)."""
    return Worker(
        client,
        task_queue=f"{prefix}{queue.value}",
        workflows=content.workflows,
        activities=content.activities,
        max_cached_workflows=max_cached_workflows,
        max_concurrent_activities=content.max_concurrent_activities,
        max_task_queue_activities_per_second=content.max_activities_per_second,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        workflow_runner=WORKFLOW_RUNNER if sandboxed else UnsandboxedWorkflowRunner(),
        interceptors=[ActivityMetrics()],
    )


async def run_workers(
    client: Client,
    queues: list[TaskQueue],
    resources: Resources,
    stop: asyncio.Event,
    prefix: str = "",
) -> None:
    contents = {queue: content_for(queue, resources) for queue in queues}
    async with AsyncExitStack() as stack:
        for queue, content in contents.items():
            settings = resources.settings
            worker = build_worker(
                client,
                queue,
                content,
                prefix,
                settings.workflow_cache_size,
                sandboxed=settings.workflow_sandbox,
            )
            await stack.enter_async_context(worker)
        log.info("polling %s", ", ".join(f"{prefix}{queue.value}" for queue in contents))
        # Activities that arrive meanwhile wait for the same one-time set-up.
        warming = [
            asyncio.create_task(asyncio.to_thread(content.warm_up))
            for content in contents.values()
            if content.warm_up
        ]
        await stop.wait()
        log.info("stopping workers: finishing in-flight work")
        await asyncio.gather(*warming)
