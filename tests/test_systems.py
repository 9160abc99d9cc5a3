"""The enterprise-systems sandbox over real HTTP: data, business rules, idempotency, faults."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest


@pytest.fixture
async def sandbox(systems_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=systems_url) as http:
        assert (await http.post("/admin/reset")).status_code == 204
        yield http


async def stock(sandbox: httpx.AsyncClient, sku: str) -> int:
    value: int = (await sandbox.get(f"/erp/products/{sku}")).json()["stock"]
    return value


async def endpoint_stats(sandbox: httpx.AsyncClient, endpoint: str) -> dict[str, int]:
    stats: dict[str, int] = (await sandbox.get("/admin/stats")).json()["endpoints"][endpoint]
    return stats


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


async def test_catalogue_and_customers_have_the_contract_fields(sandbox: httpx.AsyncClient) -> None:
    assert (await sandbox.get("/health")).json() == {"status": "ok"}
    products = (await sandbox.get("/erp/products")).json()
    assert len(products) >= 20
    assert {"sku", "name", "unit_price", "stock"} <= set(products[0])
    customers = (await sandbox.get("/crm/customers")).json()
    assert len(customers) >= 20
    assert {"customer_id", "name", "credit_limit"} <= set(customers[0])


async def test_the_same_write_twice_changes_stock_once(sandbox: httpx.AsyncClient) -> None:
    before = await stock(sandbox, "WID-100")
    order = {"order_ref": "SO-1", "lines": [{"sku": "WID-100", "quantity": 5}]}
    first = await sandbox.post("/erp/reservations", json=order, headers=key("so-1-reserve"))
    again = await sandbox.post("/erp/reservations", json=order, headers=key("so-1-reserve"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert await stock(sandbox, "WID-100") == before - 5
    stats = await endpoint_stats(sandbox, "POST /erp/reservations")
    assert stats == {"calls": 2, "writes": 1, "duplicates": 1, "faults": 0}

    other = await sandbox.post("/erp/reservations", json=order, headers=key("so-1-other"))
    assert other.json()["id"] != first.json()["id"]
    assert await stock(sandbox, "WID-100") == before - 10


async def test_a_key_reused_for_another_request_is_refused(sandbox: httpx.AsyncClient) -> None:
    order = {"order_ref": "SO-2", "lines": [{"sku": "WID-100", "quantity": 1}]}
    await sandbox.post("/erp/reservations", json=order, headers=key("k-2"))
    order["lines"][0]["quantity"] = 2  # type: ignore[index]
    response = await sandbox.post("/erp/reservations", json=order, headers=key("k-2"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


async def test_shortfall_unknown_sku_and_release(sandbox: httpx.AsyncClient) -> None:
    unknown = await sandbox.post(
        "/erp/reservations", json={"order_ref": "SO-3", "lines": [{"sku": "NOPE", "quantity": 1}]}
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"] == {"skus": ["NOPE"]}

    available = await stock(sandbox, "BAT-940")
    reservation = await sandbox.post(
        "/erp/reservations",
        json={"order_ref": "SO-3", "lines": [{"sku": "BAT-940", "quantity": available + 4}]},
    )
    line = reservation.json()["lines"][0]
    assert (line["reserved"], line["shortfall"]) == (available, 4)
    assert await stock(sandbox, "BAT-940") == 0

    rid = reservation.json()["id"]
    released = await sandbox.post(f"/erp/reservations/{rid}/release")
    assert released.json()["status"] == "released"
    assert await stock(sandbox, "BAT-940") == available
    twice = await sandbox.post(f"/erp/reservations/{rid}/release")
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "already_released"


async def test_credit_exposure_and_forecast_revert(sandbox: httpx.AsyncClient) -> None:
    credit = (await sandbox.get("/finance/credit/C-1008")).json()
    assert credit["available"] == credit["credit_limit"] == 8000
    entry = {"order_ref": "SO-4", "customer_id": "C-1008", "amount": 6000, "period": "2026-12"}
    added = await sandbox.post("/finance/forecast-entries", json=entry)
    assert added.status_code == 201
    assert (await sandbox.get("/finance/credit/C-1008")).json()["available"] == 2000

    too_much = await sandbox.post("/finance/forecast-entries", json={**entry, "order_ref": "SO-5"})
    assert too_much.status_code == 422
    assert too_much.json()["error"]["code"] == "credit_limit_exceeded"

    entry_id = added.json()["id"]
    assert (await sandbox.post(f"/finance/forecast-entries/{entry_id}/revert")).status_code == 200
    assert (await sandbox.get("/finance/credit/C-1008")).json()["available"] == 8000
    twice = await sandbox.post(f"/finance/forecast-entries/{entry_id}/revert")
    assert twice.status_code == 409


async def test_production_orders_and_capacity(sandbox: httpx.AsyncClient) -> None:
    order = await sandbox.post(
        "/mes/production-orders", json={"order_ref": "SO-6", "sku": "PMP-410", "quantity": 300}
    )
    assert order.status_code == 201
    assert order.json()["status"] == "scheduled"
    capacity = (await sandbox.get("/mes/capacity")).json()
    assert capacity == {"daily_capacity": 200, "queued_units": 300, "backlog_days": 2}
    later = await sandbox.post(
        "/mes/production-orders", json={"order_ref": "SO-7", "sku": "PMP-410", "quantity": 10}
    )
    assert later.json()["completion_date"] >= order.json()["completion_date"]
    oid = order.json()["id"]
    assert (await sandbox.post(f"/mes/production-orders/{oid}/cancel")).status_code == 200
    assert (await sandbox.post(f"/mes/production-orders/{oid}/cancel")).status_code == 409
    assert (await sandbox.get("/mes/capacity")).json()["queued_units"] == 10


async def test_invoices_payments_and_notifications(sandbox: httpx.AsyncClient) -> None:
    invoice = {"vendor_id": "V-201", "invoice_number": "INV-9", "currency": "EUR", "total": 5040}
    first = await sandbox.post("/finance/invoices", json=invoice)
    assert first.status_code == 201
    duplicate = await sandbox.post("/finance/invoices", json=invoice)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["details"] == {"invoice_id": first.json()["id"]}

    payment = await sandbox.post(
        "/finance/payments",
        json={
            "invoice_id": first.json()["id"],
            "amount": 5040,
            "currency": "EUR",
            "pay_on": "2026-12-24",
        },
    )
    pid = payment.json()["id"]
    assert (await sandbox.post(f"/finance/payments/{pid}/cancel")).json()["status"] == "cancelled"
    refused = await sandbox.post(f"/finance/payments/{pid}/release")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "payment_cancelled"

    note = {"recipient": "C-1001", "subject": "Order confirmed", "ref": "SO-8"}
    assert (await sandbox.post("/notifications", json=note)).status_code == 201
    outbox = (await sandbox.get("/notifications", params={"ref": "SO-8"})).json()
    assert [message["subject"] for message in outbox] == ["Order confirmed"]


async def test_bad_input_names_the_field(sandbox: httpx.AsyncClient) -> None:
    response = await sandbox.post(
        "/erp/reservations",
        json={"order_ref": "SO-9", "lines": [{"sku": "WID-100", "quantity": 0}]},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "lines", 0, "quantity"]


async def add_fault(sandbox: httpx.AsyncClient, **rule: Any) -> None:
    assert (await sandbox.post("/admin/faults", json=rule)).status_code == 201


async def test_a_fault_before_the_write_changes_nothing(sandbox: httpx.AsyncClient) -> None:
    await add_fault(sandbox, path="/erp/*", methods=["POST"], error_rate=1.0, status=503)
    before = await stock(sandbox, "WID-200")
    order = {"order_ref": "SO-10", "lines": [{"sku": "WID-200", "quantity": 3}]}
    failed = await sandbox.post("/erp/reservations", json=order, headers=key("so-10"))
    assert failed.status_code == 503
    assert failed.json()["error"]["code"] == "injected_fault"
    assert await stock(sandbox, "WID-200") == before  # the rule narrowed to POST: reads work

    assert (await sandbox.delete("/admin/faults")).status_code == 204
    retried = await sandbox.post("/erp/reservations", json=order, headers=key("so-10"))
    assert retried.status_code == 201
    assert await stock(sandbox, "WID-200") == before - 3


async def test_a_lost_response_is_made_safe_by_the_key(sandbox: httpx.AsyncClient) -> None:
    await add_fault(sandbox, path="/erp/reservations", error_rate=1.0, when="after")
    before = await stock(sandbox, "WID-200")
    order = {"order_ref": "SO-11", "lines": [{"sku": "WID-200", "quantity": 2}]}
    lost = await sandbox.post("/erp/reservations", json=order, headers=key("so-11"))
    assert lost.status_code == 503
    assert await stock(sandbox, "WID-200") == before - 2  # it happened; the answer was lost

    await sandbox.delete("/admin/faults")
    retried = await sandbox.post("/erp/reservations", json=order, headers=key("so-11"))
    assert retried.status_code == 201
    assert await stock(sandbox, "WID-200") == before - 2
    stats = await endpoint_stats(sandbox, "POST /erp/reservations")
    assert stats == {"calls": 2, "writes": 1, "duplicates": 1, "faults": 1}


async def test_a_rule_applies_to_every_method_unless_methods_narrows_it(
    sandbox: httpx.AsyncClient,
) -> None:
    # The contract's example: no `methods`, so reads fail as well as writes.
    await add_fault(sandbox, path="/erp/*", error_rate=1.0, status=503)
    assert (await sandbox.get("/admin/faults")).json()[0]["methods"] == []
    order = {"order_ref": "SO-12", "lines": [{"sku": "WID-200", "quantity": 1}]}
    assert (await sandbox.get("/erp/products")).status_code == 503
    assert (
        await sandbox.post("/erp/reservations", json=order, headers=key("so-12"))
    ).status_code == 503
    assert (await sandbox.get("/crm/customers")).status_code == 200  # another path

    await sandbox.delete("/admin/faults")
    await add_fault(sandbox, path="/erp/*", methods=["get"], error_rate=1.0, status=503)
    assert (await sandbox.get("/admin/faults")).json()[0]["methods"] == ["GET"]
    assert (await sandbox.get("/erp/products")).status_code == 503
    assert (
        await sandbox.post("/erp/reservations", json=order, headers=key("so-12"))
    ).status_code == 201


async def test_an_error_rate_fails_a_share_of_calls(sandbox: httpx.AsyncClient) -> None:
    await add_fault(sandbox, path="/crm/*", error_rate=0.3, seed=7)
    statuses = [(await sandbox.get("/crm/customers/C-1001")).status_code for _ in range(100)]
    failed = statuses.count(503)
    assert 15 <= failed <= 45  # 30% of 100, with a fixed seed
    assert statuses.count(200) == 100 - failed
    stats = await endpoint_stats(sandbox, "GET /crm/customers/{customer_id}")
    assert stats["calls"] == 100
    assert stats["faults"] == failed
    assert (await sandbox.get("/admin/faults")).json()[0]["error_rate"] == 0.3
