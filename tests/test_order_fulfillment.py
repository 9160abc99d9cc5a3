"""Order to fulfilment end to end: HTTP API -> Temporal -> workers -> sandbox, and back."""

from datetime import timedelta
from typing import Any

import pytest

from tests.approvals import ledger
from tests.helpers import (
    ALICE,
    BOB,
    CAROL,
    FAST_POLICY,
    Stack,
    decide,
    keep_history,
    open_task,
    start,
    until,
    wait_for,
    wait_for_task,
    writes,
)
from workflows.contracts.ai import ORDER_CORRECTION, OrderCorrection
from workflows.contracts.orders import ORDER_FULFILLMENT
from workflows.contracts.tasks import task_id_for

ORDER = ORDER_FULFILLMENT.name
TASKS = ("approval", "review-lines")
SMALL = {"customer_id": "C-1001", "lines": [{"sku": "WID-100", "quantity": 5}]}
# 20 pumps at 890.00 = 17,800.00: over the approval threshold; 12 in stock, 8 to produce.
LARGE = {"customer_id": "C-1005", "lines": [{"sku": "PMP-410", "quantity": 20}]}
WRITES = (
    "POST /crm/interactions",
    "POST /erp/reservations",
    "POST /finance/forecast-entries",
    "POST /notifications",
    "POST /crm/interactions/{interaction_id}/outcome",
)


async def inject_503s(stack: Stack) -> None:
    for path in ("/erp/*", "/finance/*"):
        # Every method (no `methods`): reads fail, and writes fail after they happen (a lost
        # answer); the seed makes the first calls fail.
        rule: dict[str, Any] = {
            "path": path,
            "error_rate": 0.3,
            "when": "after",
            "seed": 4,
        }
        assert (await stack.sandbox.post("/admin/faults", json=rule)).status_code == 201


@pytest.mark.parametrize("faults", [False, True], ids=["clean", "30%-503s"])
async def test_a_small_order_completes_with_no_human(stack: Stack, faults: bool) -> None:
    if faults:
        await inject_503s(stack)
    process_id = await start(stack, ORDER, SMALL)
    done = await until(stack, process_id, "completed")
    assert done["result"]["outcome"] == "confirmed"
    assert done["order"]["lines"] == SMALL["lines"]
    steps = {step["name"]: step for step in done["steps"]}
    assert steps["approval"]["status"] == "skipped"
    assert steps["reserve stock"]["actor"] == "bot"
    assert done["open_tasks"] == []
    assert await writes(stack) == dict.fromkeys(WRITES, 1)
    if faults:
        stats = (await stack.sandbox.get("/admin/stats")).json()["totals"]
        assert stats["faults"] > 0


async def test_a_free_text_order_is_extracted_and_completes(stack: Stack) -> None:
    message = "Hi team, we need 40 ball bearings 6204 and 3 PLC controllers asap. Regards, Tom"
    process_id = await start(stack, ORDER, {"customer_id": "C-1002", "message": message})
    done = await until(stack, process_id, "completed")
    assert done["order"]["lines"] == [
        {"sku": "BRG-810", "quantity": 40},
        {"sku": "CTL-710", "quantity": 3},
    ]
    actors = {step["name"]: step["actor"] for step in done["steps"]}
    assert actors["extract the order lines"] == actors["classify the message"] == "ai"


@pytest.mark.parametrize("faults", [False, True], ids=["clean", "30%-503s"])
async def test_a_large_order_is_approved_by_bob(stack: Stack, faults: bool) -> None:
    if faults:
        await inject_503s(stack)
    process_id = await start(stack, ORDER, LARGE)
    waiting = await until(stack, process_id, "waiting", stage="approval")
    assert waiting["open_tasks"][0]["candidate_roles"] == ["sales_manager"]
    await decide(stack, await open_task(stack, process_id, BOB), BOB, "approve")
    done = await until(stack, process_id, "completed")
    if not faults:
        await keep_history(stack, process_id, "order-approved", TASKS)
    assert done["result"]["amount"] == 17_800.0
    production = (await stack.sandbox.get("/mes/production-orders")).json()
    assert [(p["sku"], p["quantity"]) for p in production] == [("PMP-410", 8)]
    assert await writes(stack) == {
        **dict.fromkeys(WRITES, 1),
        "POST /mes/production-orders": 1,
    }


async def test_a_rejected_order_tells_the_customer_and_books_nothing(stack: Stack) -> None:
    process_id = await start(stack, ORDER, LARGE)
    await until(stack, process_id, "waiting", stage="approval")
    task_id = await open_task(stack, process_id, BOB)
    await decide(stack, task_id, BOB, "reject", comment="customer is on hold")
    done = await until(stack, process_id, "rejected")
    await keep_history(stack, process_id, "order-rejected", TASKS)
    assert done["reason"] == "rejected by bob: customer is on hold"
    outbox = (await stack.sandbox.get("/notifications", params={"recipient": "C-1005"})).json()
    assert [m["subject"] for m in outbox] == [f"Order {done['business_key']} declined"]
    assert "POST /erp/reservations" not in await writes(stack)


async def test_an_unanswered_approval_escalates_to_carol(stack: Stack) -> None:
    process_id = await start(stack, ORDER, LARGE)
    task_id = await open_task(stack, process_id, BOB)
    task = await wait_for_task(stack, task_id, CAROL)  # approval_due is 2 s in the test policy
    assert task["escalation_level"] == 1
    await decide(stack, task_id, CAROL, "approve")
    done = await until(stack, process_id, "completed")
    await keep_history(stack, process_id, "order-escalated-then-approved", TASKS)
    approval = next(s for s in done["steps"] if s["actor"] == "human")
    assert approval["status"] == "completed"


async def test_a_cancelled_order_is_compensated_exactly_once(stack: Stack) -> None:
    # The confirmation is slow to send: the order is reserved, produced and booked by then.
    slow = {"path": "/notifications", "methods": ["POST"], "latency_ms": 4000}
    await stack.sandbox.post("/admin/faults", json=slow)
    process_id = await start(stack, ORDER, LARGE | {"customer_id": "C-1010"}, key=CAROL)
    task_id = await open_task(stack, process_id, BOB)
    await decide(stack, task_id, BOB, "approve")
    await until(stack, process_id, "running", stage="confirmation")
    cancel = await stack.api.post(
        f"/v1/processes/{process_id}/cancel", headers=stack.as_user(CAROL)
    )
    assert cancel.status_code == 202
    done = await until(stack, process_id, "cancelled")
    await keep_history(stack, process_id, "order-cancelled-compensated", TASKS)
    assert sorted(done["compensated"]) == [
        "cancel production of PMP-410",
        "release stock",
        "revert forecast",
    ]
    counts = await writes(stack)
    assert counts["POST /erp/reservations/{reservation_id}/release"] == 1
    assert counts["POST /mes/production-orders/{order_id}/cancel"] == 1
    assert counts["POST /finance/forecast-entries/{entry_id}/revert"] == 1
    stock = (await stack.sandbox.get("/erp/products/PMP-410")).json()["stock"]
    assert stock == 12  # all back
    again = await stack.api.post(f"/v1/processes/{process_id}/cancel", headers=stack.as_user(CAROL))
    assert again.status_code == 409


async def test_a_phone_number_is_not_read_as_a_quantity(stack: Stack) -> None:
    message = "Please send 20 PMP-410 pumps. Call me on +49 151 23456789 if anything is unclear."
    process_id = await start(stack, ORDER, {"customer_id": "C-1002", "message": message})
    waiting = await until(stack, process_id, "waiting", "failed", stage="approval")
    assert waiting["order"]["lines"] == [{"sku": "PMP-410", "quantity": 20}], waiting


async def test_a_question_that_orders_goes_to_a_person_not_away(stack: Stack) -> None:
    """The classifier reads it as an inquiry, but it asks for 30 widgets: a sales rep decides."""
    message = (
        "Do you have Stainless Widgets in stock? If yes, please send 30 straight away. "
        "Also, what's the current lead time on the solar panels? Just asking for now."
    )
    process_id = await start(stack, ORDER, {"customer_id": "C-1002", "message": message})
    waiting = await until(stack, process_id, "waiting", "rejected", stage="review-lines")
    assert waiting["status"] == "waiting", waiting
    classified = next(s for s in waiting["steps"] if s["name"] == "classify the message")
    assert classified["outcome"] == "inquiry"
    await keep_history(stack, process_id, "order-question-routed")


async def test_a_message_that_is_no_order_is_turned_away(stack: Stack) -> None:
    message = "Hello, could you send me your latest price list and catalogue? Thanks, Tom"
    process_id = await start(stack, ORDER, {"customer_id": "C-1002", "message": message})
    done = await until(stack, process_id, "rejected", "waiting")
    assert done["status"] == "rejected", done
    assert done["reason"].startswith("the message is not an order")


async def test_an_unknown_customer_is_rejected_not_failed(stack: Stack) -> None:
    process_id = await start(stack, ORDER, SMALL | {"customer_id": "C-9999"})
    done = await until(stack, process_id, "rejected", "failed")
    assert done["status"] == "rejected"
    assert "unknown_customer" in done["reason"]
    outbox = (await stack.sandbox.get("/notifications", params={"recipient": "C-9999"})).json()
    assert outbox == []  # nobody to tell


async def test_credit_that_runs_out_after_approval_rejects_and_tells_the_customer(
    stack: Stack,
) -> None:
    # 17,800.00 for a customer whose limit is 8,000: a manager approves it all the same.
    process_id = await start(stack, ORDER, LARGE | {"customer_id": "C-1008"})
    await decide(stack, await open_task(stack, process_id, BOB), BOB, "approve")
    done = await until(stack, process_id, "rejected", "failed")
    assert done["status"] == "rejected"
    await keep_history(stack, process_id, "order-credit-refused", TASKS)
    assert "credit_limit_exceeded" in done["reason"]
    assert sorted(done["compensated"]) == ["cancel production of PMP-410", "release stock"]
    outbox = (await stack.sandbox.get("/notifications", params={"recipient": "C-1008"})).json()
    assert [m["subject"] for m in outbox] == [f"Order {done['business_key']} declined"]


async def test_the_same_idempotency_key_gives_the_same_process(stack: Stack) -> None:
    headers = {**stack.as_user(ALICE), "Idempotency-Key": "crm-msg-4711"}
    first = await stack.api.post("/v1/processes/order-fulfillment", json=SMALL, headers=headers)
    again = await stack.api.post("/v1/processes/order-fulfillment", json=SMALL, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["process_id"] == again.json()["process_id"]
    assert first.json()["links"]["temporal_ui"].endswith(first.json()["process_id"])
    other = await stack.api.post("/v1/processes/order-fulfillment", json=LARGE, headers=headers)
    assert other.status_code == 422, other.text  # the same key with another body: a client bug
    assert other.json()["error"]["code"] == "idempotency_key_reused"


async def test_bad_input_never_reaches_a_workflow(stack: Stack) -> None:
    both = {"customer_id": "C-1001", "message": "hi", "lines": SMALL["lines"]}
    response = await stack.api.post(
        "/v1/processes/order-fulfillment", json=both, headers=stack.as_user(ALICE)
    )
    assert response.status_code == 422
    zero = {"customer_id": "C-1001", "lines": [{"sku": "WID-100", "quantity": 0}]}
    response = await stack.api.post(
        "/v1/processes/order-fulfillment", json=zero, headers=stack.as_user(ALICE)
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "body.lines.0.quantity"
    unknown = await stack.api.post("/v1/processes/nope", json={}, headers=stack.as_user(ALICE))
    assert unknown.status_code == 404


async def test_catalogue_and_listing(stack: Stack) -> None:
    types = (await stack.api.get("/v1/process-types", headers=stack.as_user(ALICE))).json()
    order_type = next(t for t in types if t["name"] == "order-fulfillment")
    assert "customer_id" in order_type["input_schema"]["properties"]
    process_id = await start(stack, ORDER, SMALL)
    done = await until(stack, process_id, "completed")

    async def listed_items() -> list[dict[str, Any]]:
        page = await stack.api.get(
            "/v1/processes",
            params={"business_key": done["business_key"], "status": "completed"},
            headers=stack.as_user(ALICE),
        )
        items: list[dict[str, Any]] = page.json()["items"]
        return items

    # Visibility catches up a moment after the run closes.
    listed = await wait_for(listed_items, f"{process_id} listed as completed")
    assert [item["process_id"] for item in listed] == [process_id]
    missing = await stack.api.get(
        "/v1/processes/order-fulfillment:SO-NONE", headers=stack.as_user(ALICE)
    )
    assert missing.status_code == 404


async def test_an_unanswered_approval_expires_and_the_order_is_rejected(stack: Stack) -> None:
    stack.set_policy(
        ORDER_FULFILLMENT,
        FAST_POLICY.model_copy(
            update={"approval_due": timedelta(seconds=1), "approval_expires": timedelta(seconds=2)}
        ),
    )
    process_id = await start(stack, ORDER, LARGE)
    done = await until(stack, process_id, "rejected")
    await keep_history(stack, process_id, "order-expired", TASKS)
    assert done["reason"] == "the approval expired"
    task_id = task_id_for(process_id, "approval")
    task = (await stack.api.get(f"/v1/tasks/{task_id}", headers=stack.as_user(CAROL))).json()
    assert (task["status"], task["outcome"]) == ("expired", "reject")


async def test_a_weak_extraction_is_corrected_by_a_sales_rep(stack: Stack) -> None:
    # The AI resolves "widgetz heavy" but not "flux capacitors": not sure enough to go on alone.
    message = "order: 5 x widgetz heavy, 3 flux capacitors"
    process_id = await start(stack, ORDER, {"customer_id": "C-1003", "message": message}, key=BOB)
    waiting = await until(stack, process_id, "waiting", stage="review-lines")
    assert waiting["order"]["lines"] == [{"sku": "WID-200", "quantity": 5}]
    task_id = await open_task(stack, process_id, ALICE)
    task = (await stack.api.get(f"/v1/tasks/{task_id}", headers=stack.as_user(ALICE))).json()
    assert task["form_schema"]["properties"]["lines"]["default"] == [
        {"sku": "WID-200", "quantity": 5}
    ]
    corrected = [{"sku": "WID-200", "quantity": 5}, {"sku": "CBL-610", "quantity": 3}]
    await decide(stack, task_id, ALICE, "confirm", data={"lines": corrected})
    done = await until(stack, process_id, "completed")
    await keep_history(stack, process_id, "order-low-confidence-corrected", TASKS)
    assert done["order"]["lines"] == corrected
    # The correction is an example for `baton ai retrain`, with what the customer wrote.
    [learned] = [row for row in ledger(stack, process_id) if row.step == ORDER_CORRECTION]
    correction = OrderCorrection.model_validate(learned.data)
    assert correction.text == message
    assert [line.model_dump() for line in correction.corrected] == corrected
    assert [line.model_dump() for line in correction.extracted] == [corrected[0]]


async def test_cancelling_while_a_manager_decides_closes_the_task_too(stack: Stack) -> None:
    process_id = await start(stack, ORDER, LARGE)
    task_id = await open_task(stack, process_id, BOB)
    # The requester cancels (a holder of one of her roles, or an admin, may).
    cancel = await stack.api.post(
        f"/v1/processes/{process_id}/cancel", headers=stack.as_user(ALICE)
    )
    assert cancel.status_code == 202
    done = await until(stack, process_id, "cancelled")
    assert (done["stage"], done["reason"]) == ("cancelled", "cancelled on request")

    async def cancelled_task() -> dict[str, Any] | None:
        task: dict[str, Any] = (
            await stack.api.get(f"/v1/tasks/{task_id}", headers=stack.as_user(BOB))
        ).json()
        return task if task["status"] == "cancelled" else None

    await wait_for(cancelled_task, f"task {task_id} to be cancelled")
    late = await stack.api.post(
        f"/v1/tasks/{task_id}/decision",
        json={"outcome": "approve"},
        headers={**stack.as_user(BOB), "Idempotency-Key": "k" * 100},
    )
    assert late.status_code == 409
    listed = await stack.api.get(
        "/v1/processes", params={"process_type": "order-fulfillment"}, headers=stack.as_user(BOB)
    )
    assert task_id not in [item["process_id"] for item in listed.json()["items"]]
