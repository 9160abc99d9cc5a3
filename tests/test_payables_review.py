"""The overdue-payables review end to end: the sandbox's finance lists what is overdue, one
task for a finance controller (none when nothing is), and accounts payable told to expedite."""

import re
import uuid
from typing import Any

from tests.helpers import CAROL, ERIN, Stack, decide, keep_history, open_task, post_decision, until
from tests.helpers import start as start_process
from tests.workspace import person, token_in
from workflows.contracts.payables import PAYABLES_REVIEW

REVIEW = PAYABLES_REVIEW.name


async def _invoice(stack: Stack, vendor: str, total: float, due: str) -> int:
    number = f"T-{uuid.uuid4().hex[:8]}"
    body = {"vendor_id": vendor, "invoice_number": number, "currency": "EUR", "total": total}
    created = await stack.sandbox.post("/finance/invoices", json={**body, "due_date": due})
    assert created.status_code == 201, created.text
    invoice_id: int = created.json()["id"]
    return invoice_id


async def _pay(stack: Stack, invoice_id: int, total: float, on: str, release: bool) -> None:
    body = {"invoice_id": invoice_id, "amount": total, "currency": "EUR", "pay_on": on}
    payment = await stack.sandbox.post("/finance/payments", json=body)
    assert payment.status_code == 201, payment.text
    if release:
        released = await stack.sandbox.post(f"/finance/payments/{payment.json()['id']}/release")
        assert released.status_code == 200, released.text


async def test_nothing_overdue_opens_no_task(stack: Stack) -> None:
    process_id = await start_process(stack, REVIEW, {"as_of": "1990-01-01"}, key=CAROL)
    done = await until(stack, process_id, "completed")
    assert done["result"] == {"outcome": "nothing overdue", "as_of": "1990-01-01"}
    assert [step["name"] for step in done["steps"]] == ["list the overdue payables"]
    assert done["open_tasks"] == []
    tasks = await stack.api.get(
        "/v1/tasks", params={"process_id": process_id}, headers=stack.as_user(ERIN)
    )
    assert tasks.json()["items"] == []
    await keep_history(stack, process_id, "payables-nothing-overdue")


async def test_overdue_payables_are_reviewed_and_expedited(stack: Stack) -> None:
    unpaid = await _invoice(stack, "V-201", 1200.0, "2001-03-01")
    scheduled = await _invoice(stack, "V-202", 300.5, "2001-04-01")
    await _pay(stack, scheduled, 300.5, "2001-07-01", release=False)
    paid = await _invoice(stack, "V-203", 80.0, "2001-02-01")
    await _pay(stack, paid, 80.0, "2001-02-01", release=True)
    await _invoice(stack, "V-201", 55.0, "2001-09-01")  # not yet due

    # Grace days leave out the invoices only a little late; the days late stay the true ones.
    graced = await stack.sandbox.get(
        "/finance/payables/overdue", params={"as_of": "2001-06-01", "grace_days": 80}
    )
    assert [(i["invoice_id"], i["days_overdue"]) for i in graced.json()["invoices"]] == [
        (unpaid, 92)
    ]

    process_id = await start_process(stack, REVIEW, {"as_of": "2001-06-01"}, key=ERIN)
    task_id = await open_task(stack, process_id, CAROL)
    task = (await stack.api.get(f"/v1/tasks/{task_id}", headers=stack.as_user(CAROL))).json()
    assert task["title"] == "Review 2 overdue payables (1,500.50 EUR)"
    listed: list[dict[str, Any]] = task["context"]["overdue"]
    assert [item["invoice_id"] for item in listed] == [unpaid, scheduled]  # longest overdue first
    assert listed[0]["days_overdue"] == 92
    assert (listed[1]["payment_status"], listed[1]["pay_on"]) == ("scheduled", "2001-07-01")
    assert "due 2001-03-01 (92 days)" in task["description"]

    refused = await post_decision(stack, task_id, CAROL, "expedite")
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"][0]["field"] == "body.comment"
    await decide(stack, task_id, CAROL, "expedite", comment="Pay Northwind this week")

    done = await until(stack, process_id, "completed")
    assert done["result"]["outcome"] == "expedited"
    assert done["result"]["count"] == 2
    assert done["result"]["reviewed_by"] == ["carol"]
    told = await stack.sandbox.get(
        "/notifications", params={"recipient": "accounts-payable", "ref": done["business_key"]}
    )
    [notice] = told.json()
    assert notice["subject"] == "Pay first: 2 overdue invoices"
    assert notice["body"].startswith("Pay Northwind this week")
    steps = [(step["name"], step["actor"]) for step in done["steps"]]
    assert steps == [
        ("list the overdue payables", "bot"),
        ("Review 2 overdue payables (1,500.50 EUR)", "human"),
        ("tell accounts payable", "bot"),
    ]
    await keep_history(stack, process_id, "payables-expedited", ("review-overdue-payables",))


async def test_only_finance_starts_a_review(stack: Stack) -> None:
    refused = await stack.api.post(
        f"/v1/processes/{REVIEW}", json={}, headers=stack.as_user("dev-alice")
    )
    assert refused.status_code == 403, refused.text
    bad = await stack.api.post(
        f"/v1/processes/{REVIEW}", json={"as_of": "someday"}, headers=stack.as_user(CAROL)
    )
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"]["details"][0]["field"] == "body.as_of"


async def test_carol_runs_a_review_from_the_workspace(stack: Stack) -> None:
    """Started from its generated form (a date input), reviewed on the task page."""
    overdue = await _invoice(stack, "V-203", 410.0, "2002-01-15")
    async with person(stack, CAROL) as carol:
        form = await carol.get(f"/app/start/{REVIEW}")
        assert form.status_code == 200
        assert re.search(
            r'<input[^>]*type="date"[^>]*name="as_of"|name="as_of"[^>]*type="date"', form.text
        )
        started = await carol.post(
            f"/app/start/{REVIEW}", data={"csrf": token_in(form.text), "as_of": "2002-02-01"}
        )
        assert started.status_code == 303, started.text
        process_id = started.headers["location"].split("/processes/")[1].split("?")[0]
        task_id = await open_task(stack, process_id, CAROL)
        page = await carol.get(f"/app/tasks/{task_id}")
        assert page.status_code == 200
        assert "Review 1 overdue payables (410.00 EUR)" in page.text
        assert str(overdue) in page.text
        assert 'value="acknowledge"' in page.text
        decided = await carol.post(
            f"/app/tasks/{task_id}/decide",
            data={"csrf": token_in(page.text), "outcome": "acknowledge"},
        )
        assert decided.status_code == 303, decided.text
    done = await until(stack, process_id, "completed")
    assert done["result"]["outcome"] == "acknowledged"
    assert done["result"]["reviewed_by"] == ["carol"]
