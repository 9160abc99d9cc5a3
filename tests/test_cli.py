"""The `baton` command line: the contract's commands exist; users get keys shown once;
`baton setup` prepares Temporal and the database, as often as it is run."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from google.protobuf.duration_pb2 import Duration
from sqlalchemy import inspect
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from typer.testing import CliRunner, Result

from baton.cli import app
from core.db import make_engine, session_scope
from core.settings import Settings, get_settings
from core.users import authenticate
from tests.helpers import BOB, Stack, open_task, start, until
from workflows.contracts.search_attributes import SEARCH_ATTRIBUTES, type_name

runner = CliRunner()


def test_the_contract_commands_exist() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("dev", "setup", "worker", "api", "systems", "users"):
        assert f" {command} " in result.output


def test_users_add_prints_a_working_key_once(cli_database: str) -> None:
    result = runner.invoke(app, ["users", "add", "ivan", "--role", "sales_manager"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("bk_")
    engine = make_engine(cli_database)
    with session_scope(engine) as session:
        user = authenticate(session, key)
        assert user is not None
        assert user.roles == ["sales_manager"]
    engine.dispose()

    again = runner.invoke(app, ["users", "add", "ivan", "--role", "admin"])
    assert again.exit_code == 1
    assert "user 'ivan' already exists" in again.output


def test_users_add_refuses_an_unknown_role(cli_database: str) -> None:
    result = runner.invoke(app, ["users", "add", "judy", "--role", "boss"])
    assert result.exit_code == 2
    assert "boss" in result.output


@pytest.fixture
async def setup_env(
    settings: Settings, client: Client, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Settings]:
    """`baton setup` pointed at the session's Temporal dev server, in a namespace of its own
    (so it has none of Baton's search attributes yet), and at a fresh SQLite file."""
    namespace = f"test-setup-{uuid.uuid4().hex[:12]}"
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace,
            workflow_execution_retention_period=Duration(seconds=24 * 3600),
        )
    )
    monkeypatch.setenv("BATON_ENV", "dev")
    monkeypatch.setenv("BATON_TEMPORAL_ADDRESS", settings.temporal_address)
    monkeypatch.setenv("BATON_TEMPORAL_NAMESPACE", namespace)
    monkeypatch.setenv("BATON_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BATON_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.chdir(settings.data_dir)  # no developer .env leaks in
    get_settings.cache_clear()
    yield settings.model_copy(update={"temporal_namespace": namespace})
    get_settings.cache_clear()


async def _setup() -> Result:
    # In a thread: the command runs its own event loop while this test's loop keeps running.
    result = await asyncio.to_thread(runner.invoke, app, ["setup", "--timeout", "60"])
    assert result.exit_code == 0, result.output
    assert "database ready" in result.output
    return result


async def test_setup_registers_search_attributes_and_is_idempotent(
    setup_env: Settings, client: Client
) -> None:
    names = sorted(key.name for key in SEARCH_ATTRIBUTES)

    first = await _setup()
    assert f"search attributes added: {', '.join(names)}" in first.output
    assert f"search attributes listed by Temporal: {', '.join(names)}" in first.output
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=setup_env.temporal_namespace)
    )
    types = {name: IndexedValueType.Name(value) for name, value in listed.custom_attributes.items()}
    assert types == {
        key.name: f"INDEXED_VALUE_TYPE_{type_name(key).upper()}" for key in SEARCH_ATTRIBUTES
    }
    engine = make_engine(setup_env.resolved_database_url)
    try:
        assert inspect(engine).get_table_names(), "baton setup created no tables"
    finally:
        engine.dispose()

    again = await _setup()  # harmless: nothing to add, the tables and demo users are there
    assert f"search attributes: all {len(names)} already registered" in again.output
    assert "added" not in again.output


async def test_tasks_decide_sends_a_signed_decision(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator decides from the command line; the task checks it like the API's."""
    for name, value in {
        "BATON_TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "BATON_DATA_DIR": str(stack.settings.data_dir),  # where the dev signing key is
        "BATON_DATABASE_URL": stack.settings.database_url,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    large = {"customer_id": "C-1005", "lines": [{"sku": "PMP-410", "quantity": 20}]}
    process_id = await start(stack, "order-fulfillment", large)
    task_id = await open_task(stack, process_id, BOB)

    def decide(*args: str) -> Result:
        return runner.invoke(app, ["tasks", "decide", task_id, *args])

    # In a thread: the command runs its own event loop while this test's loop keeps running.
    refused = await asyncio.to_thread(decide, "--as", "alice", "--outcome", "approve")
    assert refused.exit_code == 1
    assert "refused (403)" in refused.output
    applied = await asyncio.to_thread(decide, "--as", "bob", "--outcome", "approve")
    assert applied.exit_code == 0, applied.output
    assert "applied: approve by bob" in applied.output
    await until(stack, process_id, "completed")
    closed = await asyncio.to_thread(decide, "--as", "bob", "--outcome", "approve")
    assert closed.exit_code == 1
    get_settings.cache_clear()
