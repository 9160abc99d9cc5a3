"""A process of the tests' own, built from the kit (tests/restock.py), registered and run end to
end through the API: README's "How to add a process" stays true."""

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from tests.helpers import ALICE, BOB, Stack, decide, open_task, start, until, wait_for
from tests.restock import RESTOCK, RestockPolicy
from workflows.contracts.bots import Refusal
from workflows.contracts.catalogue import PROCESS_TYPES


@pytest.fixture(autouse=True)
def registered(stack: Stack) -> Iterator[None]:
    """Its catalogue entry, as the one line in workflows/contracts/catalogue.py would add it."""
    PROCESS_TYPES[RESTOCK.name] = RESTOCK
    yield
    del PROCESS_TYPES[RESTOCK.name]


async def test_the_catalogue_offers_it_with_its_input_schema(stack: Stack) -> None:
    listed = (await stack.api.get("/v1/process-types", headers=stack.as_user(ALICE))).json()
    entry = next(item for item in listed if item["name"] == RESTOCK.name)
    assert entry["roles"] == ["sales_rep", "sales_manager"]
    assert set(entry["input_schema"]["required"]) == {"sku", "quantity"}


async def test_bad_input_names_the_field_and_starts_nothing(stack: Stack) -> None:
    response = await stack.api.post(
        f"/v1/processes/{RESTOCK.name}",
        json={"sku": "PMP-410", "quantity": 0},
        headers=stack.as_user(ALICE),
    )
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == ["body.quantity"]


async def test_approved_it_runs_every_step_and_completes(stack: Stack) -> None:
    process_id = await start(stack, RESTOCK.name, {"sku": "PMP-410", "quantity": 3})
    waiting = await until(stack, process_id, "waiting", stage="approval")
    assert waiting["open_tasks"][0]["candidate_roles"] == ["sales_manager"]
    task_id = await open_task(stack, process_id, BOB)
    await decide(stack, task_id, BOB, "approve")
    done = await until(stack, process_id, "completed")
    assert done["result"] == {"outcome": "restocked", "amount": 2670.0}  # 3 x 890.00
    assert [(s["name"], s["actor"], s["status"]) for s in done["steps"]] == [
        ("read the price", "bot", "completed"),
        ("Buy 3 x PMP-410 for 2,670.00?", "human", "completed"),
        ("tell the warehouse", "bot", "completed"),
    ]
    # Its status is a search attribute the kit sets: the API lists by it without reading stages.
    listed = await until_listed(stack, process_id, "completed")
    assert listed["stage"] == "completed"


async def test_rejected_it_ends_rejected_with_the_reason(stack: Stack) -> None:
    process_id = await start(stack, RESTOCK.name, {"sku": "PMP-410", "quantity": 1})
    task_id = await open_task(stack, process_id, BOB)
    await decide(stack, task_id, BOB, "reject")
    done = await until(stack, process_id, "rejected")
    assert done["reason"] == "rejected by bob"
    assert (await until_listed(stack, process_id, "rejected"))["status"] == "rejected"


async def test_its_policy_comes_from_the_generic_settings(stack: Stack) -> None:
    stack.set_policy(RESTOCK, RestockPolicy(approval_expires=timedelta(minutes=90)))
    process_id = await start(stack, RESTOCK.name, {"sku": "WID-100", "quantity": 2})
    task_id = await open_task(stack, process_id, BOB)
    task = (await stack.api.get(f"/v1/tasks/{task_id}", headers=stack.as_user(BOB))).json()
    due, created = (datetime.fromisoformat(task[name]) for name in ("due_at", "created_at"))
    assert due - created == timedelta(minutes=90)
    await decide(stack, task_id, BOB, "approve")
    await until(stack, process_id, "completed")


async def until_listed(stack: Stack, process_id: str, status: str) -> dict[str, object]:
    """Visibility is eventually consistent: the list shows the run a moment after it changes."""

    async def listed() -> dict[str, object] | None:
        page = await stack.api.get(
            "/v1/processes",
            params={"process_type": RESTOCK.name, "status": status},
            headers=stack.as_user(ALICE),
        )
        assert page.status_code == 200, page.text
        return next((i for i in page.json()["items"] if i["process_id"] == process_id), None)

    return await wait_for(listed, f"{process_id} listed as {status}")


@pytest.mark.parametrize(
    ("status", "code", "business"),
    [
        (404, "unknown_customer", True),
        (409, "already_reserved", True),
        (422, "credit_limit_exceeded", True),
        (401, "unauthorized", False),  # Baton's key is wrong: a failure for a person to fix
        (403, "forbidden", False),
        (400, "bad_request", False),
        (404, "http_404", False),  # a wrong path, not a record the system does not know
    ],
)
def test_only_a_business_no_rejects_a_process(status: int, code: str, business: bool) -> None:
    assert Refusal(status=status).is_business_no(code) is business
