"""What the tests share: the stack they drive, servers, polling, and the process and task calls.

Plain functions and constants only; the fixtures live in conftest.py, which imports from here.
"""

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from core.replay import dump_history, open_history
from core.settings import Settings
from tests.flows import TEST_WORKFLOWS
from workers.registry import content_for
from workers.resources import Resources
from workers.run import build_worker
from workflows.contracts.orders import OrderPolicy
from workflows.contracts.processes import ProcessType
from workflows.contracts.queues import Queues, TaskQueue
from workflows.contracts.tasks import task_id_for

T = TypeVar("T")

# The demo users' API keys (seeded in dev): a sales rep, a sales manager, a finance controller,
# an accounts-payable clerk and an admin.
ALICE = "dev-alice"
BOB = "dev-bob"
CAROL = "dev-carol"
DAVE = "dev-dave"
ERIN = "dev-erin"

# A guard against hanging, not a timing assertion: waits end as soon as their condition holds.
DEADLINE_S = 60.0
POLL_S = 0.05

HISTORIES = Path(__file__).parent / "histories"

# Every duration of the order process in seconds, so escalations happen within a test.
FAST_POLICY = OrderPolicy(
    approval_due=timedelta(seconds=2),
    approval_expires=timedelta(seconds=30),
    remind_every=None,
    review_expires=timedelta(seconds=60),
)


# -- the stack and servers --------------------------------------------------------------------


@dataclass
class Stack:
    client: Client
    api: httpx.AsyncClient
    sandbox: httpx.AsyncClient
    settings: Settings
    queues: Queues
    processes: str  # the task queue of this test's workflows

    def as_user(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def set_policy(self, ptype: ProcessType, policy: BaseModel) -> None:
        """Processes started from now on get this policy (the API reads these settings)."""
        self.settings.policies[ptype.name] = policy.model_dump(mode="json")


def temporal_address(client: Client) -> str:
    return client.service_client.config.target_host


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Runs `app` with uvicorn in this event loop on a free port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit it: no 40 ms Nagle/delayed-ACK stall per response.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # raises the start-up error
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


# -- polling ----------------------------------------------------------------------------------


async def wait_for(
    check: Callable[[], Awaitable[T | None]],
    what: str | Callable[[], str],
    seconds: float = DEADLINE_S,
) -> T:
    """Calls `check` until it gives something truthy and returns that; fails after `seconds`.

    `what` names the thing waited for in the failure (a callable is asked only then, so it can
    describe the last thing seen).
    """
    deadline = time.monotonic() + seconds
    while True:
        if result := await check():
            return result
        if time.monotonic() >= deadline:
            description = what if isinstance(what, str) else what()
            raise AssertionError(f"still waiting after {seconds:.0f} s for {description}")
        await asyncio.sleep(POLL_S)


# -- processes --------------------------------------------------------------------------------


async def start(
    stack: Stack,
    process_type: str,
    body: dict[str, Any],
    key: str = ALICE,
    idempotency_key: str | None = None,
) -> str:
    """Starts a process through the API (201 expected); returns its process id."""
    headers = stack.as_user(key)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    response = await stack.api.post(f"/v1/processes/{process_type}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    process_id: str = response.json()["process_id"]
    return process_id


async def state(stack: Stack, process_id: str, key: str = ERIN) -> dict[str, Any]:
    """The process as the API shows it (by default to an admin, who may read every process)."""
    response = await stack.api.get(f"/v1/processes/{process_id}", headers=stack.as_user(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def until(stack: Stack, process_id: str, *statuses: str, stage: str = "") -> dict[str, Any]:
    """The process's state once its status is one of `statuses` (and its stage `stage`, if set)."""
    seen: dict[str, Any] = {}

    async def reached() -> dict[str, Any] | None:
        nonlocal seen
        seen = await state(stack, process_id)
        if seen["status"] in statuses and (not stage or seen["stage"] == stage):
            return seen
        return None

    return await wait_for(reached, lambda: f"{process_id} to reach {statuses} {stage}: {seen}")


async def writes(stack: Stack) -> dict[str, int]:
    """The sandbox's write count per endpoint, for the endpoints written to."""
    endpoints = (await stack.sandbox.get("/admin/stats")).json()["endpoints"]
    return {name: stats["writes"] for name, stats in endpoints.items() if stats["writes"]}


# -- tasks ------------------------------------------------------------------------------------


async def open_task(stack: Stack, process_id: str, key: str) -> str:
    """The id of the first open task of the process in `key`'s inbox, once there is one."""

    async def first() -> str | None:
        tasks = await stack.api.get(
            "/v1/tasks", params={"process_id": process_id}, headers=stack.as_user(key)
        )
        items = tasks.json()["items"]
        return str(items[0]["task_id"]) if items else None

    return await wait_for(first, f"an open task of {process_id} for {key}")


async def wait_for_task(stack: Stack, task_id: str, key: str) -> dict[str, Any]:
    """The task as `key` sees it, once they may see it (it exists and is theirs to see)."""

    async def visible() -> dict[str, Any] | None:
        response = await stack.api.get(f"/v1/tasks/{task_id}", headers=stack.as_user(key))
        if response.status_code != 200:
            return None
        task: dict[str, Any] = response.json()
        return task

    return await wait_for(visible, f"task {task_id} to be visible to {key}")


async def post_decision(
    stack: Stack, task_id: str, key: str, outcome: str = "approve", **extra: Any
) -> httpx.Response:
    """Posts a decision on the task as `key`; returns the answer, whatever it is."""
    return await stack.api.post(
        f"/v1/tasks/{task_id}/decision",
        json={"outcome": outcome, **extra},
        headers=stack.as_user(key),
    )


async def decide(stack: Stack, task_id: str, key: str, outcome: str, **extra: Any) -> None:
    """Decides the task as `key`; the decision must be accepted (200)."""
    response = await post_decision(stack, task_id, key, outcome, **extra)
    assert response.status_code == 200, response.text


# -- histories for the replay test -------------------------------------------------------------


async def keep_history(
    stack: Stack, process_id: str, name: str, tasks: tuple[str, ...] = ()
) -> None:
    """With BATON_SAVE_HISTORIES=1, saves the run's history and its tasks' for the replay test.

    Files are tests/histories/<name>.json and <name>.<task>.json for each of `tasks` the run had.
    """
    if os.environ.get("BATON_SAVE_HISTORIES") != "1":
        return
    HISTORIES.mkdir(exist_ok=True)
    runs = {name: process_id} | {f"{name}.{task}": task_id_for(process_id, task) for task in tasks}
    for file_name, workflow_id in runs.items():
        try:
            history = await stack.client.get_workflow_handle(workflow_id).fetch_history()
        except RPCError:
            continue  # this run had no such task
        # Saved opened (plain JSON): readable in review, and replayable without the test key.
        opened = await open_history(history, stack.client.data_converter)
        (HISTORIES / f"{file_name}.json").write_text(dump_history(opened))


def processes_worker(client: Client, resources: Resources, prefix: str) -> Worker:
    """The worker of a test's processes queue: Baton's workflows, their local activities, and
    the tests' own workflows."""
    content = content_for(TaskQueue.PROCESSES, resources)
    content = replace(content, workflows=[*content.workflows, *TEST_WORKFLOWS])
    return build_worker(client, TaskQueue.PROCESSES, content, prefix)
