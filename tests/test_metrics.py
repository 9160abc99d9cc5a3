"""Metrics after one order: the API's `/metrics` (Baton's series) and a worker process's
Prometheus endpoint (the SDK's runtime metrics and Baton's per-activity ones)."""

import re

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from core.temporal import connect
from tests.helpers import ALICE, BOB, Stack, decide, temporal_address, until, wait_for
from tests.ports import free_port
from tests.workspace import large_order
from workers.metrics import metrics_runtime

WORKER_METRICS = f"127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
async def client(temporal_env: WorkflowEnvironment) -> Client:
    """A client made as a worker process makes one: its runtime serves the worker's metrics
    (a runtime binds its port for good: one for the module)."""
    settings = Settings(
        _env_file=None,
        temporal_address=temporal_address(temporal_env.client),
        worker_metrics_address=WORKER_METRICS,
    )
    return await connect(settings, runtime=metrics_runtime(settings))


def series(text: str, name: str) -> dict[str, float]:
    """Each sample of `name` in a Prometheus text page, by its labels."""
    found = {}
    for match in re.finditer(rf"^{name}(\{{[^}}]*\}})? (\S+)$", text, re.MULTILINE):
        found[match.group(1) or ""] = float(match.group(2))
    return found


async def test_the_api_and_a_worker_expose_the_named_series(stack: Stack) -> None:
    process_id, task_id = await large_order(stack, ALICE)
    waiting = (await stack.api.get("/metrics")).text
    assert series(waiting, "baton_processes_started_total") == {
        '{process_type="order-fulfillment"}': 1.0
    }
    assert series(waiting, "baton_open_tasks") == {
        '{escalation_level="0",role="sales_manager"}': 1.0
    }
    await decide(stack, task_id, BOB, "approve")
    await until(stack, process_id, "completed")
    done = (await stack.api.get("/metrics")).text
    assert series(done, "baton_decision_seconds_count") == {"": 1.0}
    assert series(done, "baton_open_tasks") == {}
    assert series(done, "baton_processes") == {
        '{process_type="order-fulfillment",status="completed"}': 1.0
    }

    async def scraped() -> str | None:
        async with httpx.AsyncClient() as http:
            page = (await http.get(f"http://{WORKER_METRICS}/metrics")).text
        return page if "baton_ai_confidence_count" in page else None

    worker = await wait_for(scraped, "the worker's metrics")
    finished = series(worker, "baton_processes_finished_total")
    assert [value for labels, value in finished.items() if "order-fulfillment" in labels] == [1.0]
    assert all('status="completed"' in labels for labels in finished), finished
    bots = series(worker, "baton_bot_calls_total")
    erp = [labels for labels in bots if 'system="erp"' in labels and 'outcome="ok"' in labels]
    assert erp, bots
    assert sum(value for labels, value in bots.items() if 'system="mes"' in labels) == 1.0
    ai = series(worker, "baton_ai_calls_total")
    assert any('activity="ai.score_risk"' in labels for labels in ai), ai
    assert series(worker, "baton_ai_confidence_count")
    # The SDK's own: activity latencies and task slots.
    assert series(worker, "temporal_activity_execution_latency_count")
    assert series(worker, "temporal_worker_task_slots_available")
