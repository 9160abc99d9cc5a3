"""Invoice processing end to end: HTTP API -> Temporal -> workers -> sandbox, and back."""

from datetime import timedelta
from typing import Any

import pytest

from tests.helpers import (
    CAROL,
    DAVE,
    ERIN,
    Stack,
    decide,
    keep_history,
    open_task,
    start,
    state,
    until,
    wait_for,
)
from workflows.contracts.invoices import (
    CREDIT_NOTE_SIGNAL,
    INVOICE_PROCESSING,
    CreditNote,
    InvoicePolicy,
)

INVOICE = INVOICE_PROCESSING.name
# Every duration in seconds: the pay date is a second away.
FAST = InvoicePolicy(
    pay_delay=timedelta(seconds=1),
    review_expires=timedelta(seconds=60),
    approval_expires=timedelta(seconds=60),
    credit_note_wait=timedelta(seconds=30),
    credit_note_reminder=timedelta(seconds=2),
)
TASKS = ("review-invoice", "match-exception", "approval")


def invoice_text(number: str, widget_price: float = 7.10) -> str:
    """An invoice of Northwind Components for PO-50001 (400 widgets, 200 gadgets received)."""
    widgets = 400 * widget_price
    return f"""INVOICE
Northwind Components
Invoice number: {number}
Invoice date: 2026-11-20
Due date: 2026-12-20
Purchase order: PO-50001
Currency: EUR

WID-100 Widget 400 x {widget_price:.2f} = {widgets:.2f}
GAD-120 Gadget 200 x 11.00 = 2200.00

Subtotal: {widgets + 2200:.2f}
Tax: 0.00
Total: {widgets + 2200:.2f}
"""


# Too terse for the extractor to be sure: no currency, no lines, no total.
WEAK = "Invoice 7781 from Northwind for PO-50001, 400 widgets and 200 gadgets, about 5040 euro"


@pytest.fixture(autouse=True)
def fast(stack: Stack) -> None:
    stack.set_policy(INVOICE_PROCESSING, FAST)


async def payment(stack: Stack, payment_id: int) -> dict[str, Any]:
    body: dict[str, Any] = (await stack.sandbox.get(f"/finance/payments/{payment_id}")).json()
    return body


async def test_a_matched_invoice_is_paid_with_no_human(stack: Stack) -> None:
    process_id = await start(stack, INVOICE, {"text": invoice_text("NW-2026-0412")}, key=DAVE)
    done = await until(stack, process_id, "completed")
    await keep_history(stack, process_id, "invoice-paid", TASKS)
    assert done["result"]["outcome"] == "paid"
    assert done["result"]["amount"] == 5040.0
    assert done["invoice"]["vendor_id"] == "V-201"
    steps = {step["name"]: step for step in done["steps"]}
    assert steps["approval"]["status"] == "skipped"
    assert [s["actor"] for s in done["steps"]].count("human") == 1  # the skipped approval
    assert (await payment(stack, done["result"]["payment_id"]))["status"] == "released"


async def test_a_weak_extraction_is_corrected_by_dave(stack: Stack) -> None:
    process_id = await start(stack, INVOICE, {"text": WEAK}, key=DAVE)
    waiting = await until(stack, process_id, "waiting", stage="review-invoice")
    assert waiting["invoice"]["po_number"] == "PO-50001"
    task_id = await open_task(stack, process_id, DAVE)
    task = (await stack.api.get(f"/v1/tasks/{task_id}", headers=stack.as_user(DAVE))).json()
    assert task["form_schema"]["properties"]["po_number"]["default"] == "PO-50001"
    corrected = {
        "vendor_id": "V-201",
        "invoice_number": "NW-7781",
        "currency": "EUR",
        "total": 5040.0,
        "lines": [
            {"description": "WID-100 Widget", "quantity": 400, "unit_price": 7.10},
            {"description": "GAD-120 Gadget", "quantity": 200, "unit_price": 11.00},
        ],
    }
    await decide(stack, task_id, DAVE, "confirm", data=corrected)
    done = await until(stack, process_id, "completed")
    await keep_history(stack, process_id, "invoice-low-confidence-corrected", TASKS)
    assert done["invoice"]["invoice_number"] == "NW-7781"
    assert done["result"]["amount"] == 5040.0


async def test_a_duplicate_is_caught(stack: Stack) -> None:
    text = invoice_text("NW-2026-0500")
    first = await until(stack, await start(stack, INVOICE, {"text": text}, key=DAVE), "completed")
    process_id = await start(stack, INVOICE, {"text": text}, key=DAVE)
    done = await until(stack, process_id, "rejected")
    await keep_history(stack, process_id, "invoice-duplicate", TASKS)
    assert done["result"]["outcome"] == "duplicate"
    assert done["result"]["original_invoice_id"] == first["result"]["invoice_id"]
    assert "SCHEDULE" not in str([s["name"] for s in done["steps"]])


async def test_a_price_mismatch_is_accepted_as_variance(stack: Stack) -> None:
    process_id = await start(
        stack, INVOICE, {"text": invoice_text("NW-2026-0413", widget_price=7.50)}, key=DAVE
    )
    waiting = await until(stack, process_id, "waiting", stage="match-exception")
    assert waiting["variances"] == ["WID-100: price 7.50, PO 7.10"]
    await decide(stack, await open_task(stack, process_id, DAVE), DAVE, "accept_variance")
    done = await until(stack, process_id, "completed")
    await keep_history(stack, process_id, "invoice-variance-accepted", TASKS)
    assert done["result"]["amount"] == 5200.0


async def test_a_price_mismatch_waits_for_a_credit_note(stack: Stack) -> None:
    process_id = await start(
        stack, INVOICE, {"text": invoice_text("NW-2026-0416", widget_price=7.50)}, key=DAVE
    )
    await until(stack, process_id, "waiting", stage="match-exception")
    await decide(stack, await open_task(stack, process_id, DAVE), DAVE, "request_credit_note")
    await until(stack, process_id, "waiting", stage="credit note")

    async def asked() -> list[dict[str, Any]] | None:
        # The stage shows as the request is sent: wait for the vendor's outbox to hold it.
        sent = await stack.sandbox.get("/notifications", params={"recipient": "V-201"})
        return sent.json() or None

    outbox = await wait_for(asked, "the credit note request in the vendor's outbox")
    assert outbox[0]["subject"] == "Credit note requested: invoice NW-2026-0416"
    # The vendor's credit note arrives through an integration: a signal to the run.
    note = CreditNote(number="CN-77", amount=160.0)
    await stack.client.get_workflow_handle(process_id).signal(CREDIT_NOTE_SIGNAL, note)
    done = await until(stack, process_id, "completed")
    assert done["result"]["amount"] == 5040.0
    assert done["credit_note"] == {"number": "CN-77", "amount": 160.0}


async def test_a_large_invoice_needs_two_different_approvers(stack: Stack) -> None:
    stack.set_policy(
        INVOICE_PROCESSING, FAST.model_copy(update={"first_limit": 1_000, "second_limit": 3_000})
    )
    process_id = await start(stack, INVOICE, {"text": invoice_text("NW-2026-0414")}, key=DAVE)
    await until(stack, process_id, "waiting", stage="approval")
    task_id = await open_task(stack, process_id, CAROL)
    await decide(stack, task_id, CAROL, "approve")
    again = await stack.api.post(
        f"/v1/tasks/{task_id}/decision",
        json={"outcome": "approve"},
        headers=stack.as_user(CAROL),
    )
    assert again.status_code == 403, again.text
    assert (await state(stack, process_id))["status"] == "waiting"
    await decide(stack, task_id, ERIN, "approve")
    done = await until(stack, process_id, "completed")
    await keep_history(stack, process_id, "invoice-two-approvers", TASKS)
    assert done["result"]["approved_by"] == ["carol", "erin"]


async def test_a_cancellation_before_the_pay_date_cancels_the_payment(stack: Stack) -> None:
    stack.set_policy(
        INVOICE_PROCESSING, FAST.model_copy(update={"pay_delay": timedelta(minutes=5)})
    )
    process_id = await start(stack, INVOICE, {"text": invoice_text("NW-2026-0415")}, key=DAVE)
    await until(stack, process_id, "running", stage="payment")

    async def scheduled() -> dict[str, Any] | None:  # a moment after the stage begins
        current = await state(stack, process_id)
        return current if "payment" in current else None

    await wait_for(scheduled, f"the payment of {process_id} to be scheduled")
    cancel = await stack.api.post(f"/v1/processes/{process_id}/cancel", headers=stack.as_user(DAVE))
    assert cancel.status_code == 202, cancel.text
    done = await until(stack, process_id, "cancelled")
    await keep_history(stack, process_id, "invoice-cancelled-before-payment", TASKS)
    assert done["compensated"] == ["cancel the payment"]
    paid = await payment(stack, done["payment"]["payment_id"])
    assert paid["status"] == "cancelled"
