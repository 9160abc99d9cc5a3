"""Bot connectors: error mapping and idempotency keys (units), exactly-once writes (real stack)."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.bots.erp import ERPBot
from activities.bots.finance import FinanceBot
from activities.bots.http import SystemsHTTP
from tests.flows import ReserveAndForecast
from workflows.contracts.bots import OrderLine, ReleaseStock, ReserveStock

# -- units: httpx.MockTransport ------------------------------------------------------------------


def erp_answering(status: int, body: object, seen: list[httpx.Request] | None = None) -> ERPBot:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, json=body)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://erp")
    return ERPBot(SystemsHTTP(client))


RESERVE = ReserveStock(order_ref="SO-1", lines=[OrderLine(sku="WID-100", quantity=2)])


async def test_a_write_carries_a_key_derived_from_the_activity() -> None:
    seen: list[httpx.Request] = []
    body = {"id": 7, "lines": [{"sku": "WID-100", "requested": 2, "reserved": 2, "shortfall": 0}]}
    bot = erp_answering(201, body, seen)
    env = ActivityEnvironment()
    result = await env.run(bot.reserve_stock, RESERVE)
    assert result.reservation_id == 7
    info = env.info
    key = f"baton:{info.workflow_id}:{info.workflow_run_id}:{info.activity_id}"
    assert seen[0].headers["Idempotency-Key"] == key
    assert json.loads(seen[0].content) == RESERVE.model_dump()


@pytest.mark.parametrize(
    ("status", "code"), [(409, "already_released"), (422, "unknown_sku"), (404, "unknown_sku")]
)
async def test_business_errors_do_not_retry(status: int, code: str) -> None:
    body = {"error": {"code": code, "message": "no", "details": {"skus": ["X"]}}}
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            erp_answering(status, body).release_stock, ReleaseStock(reservation_id=1)
        )
    assert caught.value.type == code
    assert caught.value.non_retryable
    assert caught.value.details[0] == {"status": status, "details": {"skus": ["X"]}}


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_unavailable_systems_are_retried(status: int) -> None:
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(erp_answering(status, {}).reserve_stock, RESERVE)
    assert caught.value.type == "SystemUnavailable"
    assert not caught.value.non_retryable


async def test_timeouts_are_retried() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow ERP", request=request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://erp")
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(ERPBot(SystemsHTTP(client)).reserve_stock, RESERVE)
    assert caught.value.type == "SystemUnavailable"
    assert not caught.value.non_retryable


# -- against the real sandbox, through a real Temporal server ----------------------------------


@pytest.fixture
async def sandbox(systems_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=systems_url) as http:
        await http.post("/admin/reset")
        yield http


@pytest.fixture
async def bots_worker(client: Client, task_queue: str, systems_url: str) -> AsyncIterator[None]:
    async with httpx.AsyncClient(base_url=systems_url) as http:
        systems = SystemsHTTP(http)
        erp, finance = ERPBot(systems), FinanceBot(systems)
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[ReserveAndForecast],
            activities=[erp.reserve_stock, finance.add_forecast],
        ):
            yield


async def test_writes_happen_exactly_once_through_503_bursts(
    client: Client, task_queue: str, sandbox: httpx.AsyncClient, bots_worker: None
) -> None:
    for path, when in (("/erp/*", "after"), ("/finance/*", "before")):
        # Writes only: the test reads the stock meanwhile.
        rule = {
            "path": path,
            "methods": ["POST"],
            "error_rate": 0.3,
            "status": 503,
            "when": when,
            "seed": 11,
        }
        await sandbox.post("/admin/faults", json=rule)
    before = (await sandbox.get("/erp/products/WID-100")).json()["stock"]
    orders = 12
    results = await asyncio.gather(
        *(
            client.execute_workflow(
                ReserveAndForecast.run,
                ReserveStock(order_ref=f"SO-{n}", lines=[OrderLine(sku="WID-100", quantity=3)]),
                id=f"reserve-{uuid.uuid4()}",
                task_queue=task_queue,
            )
            for n in range(orders)
        )
    )
    assert len({result.reservation_id for result in results}) == orders
    stats = (await sandbox.get("/admin/stats")).json()["endpoints"]
    reservations, forecasts = (
        stats["POST /erp/reservations"],
        stats["POST /finance/forecast-entries"],
    )
    assert reservations["writes"] == forecasts["writes"] == orders
    assert reservations["faults"] > 0, "the fault injector should have failed some calls"
    assert forecasts["faults"] > 0
    # Every lost response was retried with its key and answered from the first write.
    assert reservations["duplicates"] == reservations["faults"]
    assert (await sandbox.get("/erp/products/WID-100")).json()["stock"] == before - 3 * orders


async def test_a_business_error_ends_the_step_without_retry(
    client: Client, task_queue: str, sandbox: httpx.AsyncClient, bots_worker: None
) -> None:
    order = ReserveStock(order_ref="SO-X", lines=[OrderLine(sku="NO-SUCH-SKU", quantity=1)])
    with pytest.raises(WorkflowFailureError) as caught:
        await client.execute_workflow(
            ReserveAndForecast.run, order, id=f"reserve-{uuid.uuid4()}", task_queue=task_queue
        )
    activity_error = caught.value.cause
    assert isinstance(activity_error, ActivityError)
    assert isinstance(activity_error.cause, ApplicationError)
    assert activity_error.cause.type == "unknown_sku"
    stats = (await sandbox.get("/admin/stats")).json()["endpoints"]
    assert stats["POST /erp/reservations"]["calls"] == 1
