"""Customer service end to end through the API, with the offline agent policy: a status answered
from the ERP and the MES with no person, a quantity change applied once after a sales rep
approves it, an unclear request and another customer's order handed to a person."""

from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from tests.approvals import ledger
from tests.helpers import ALICE, BOB, Stack, decide, keep_history, open_task, until, writes
from tests.helpers import start as start_process
from tests.test_events import SECRETS, send
from tests.workspace import person
from workflows.contracts.orders import ORDER_FULFILLMENT
from workflows.contracts.service import CUSTOMER_SERVICE

SERVICE = CUSTOMER_SERVICE.name
CHANGE_ENDPOINT = "POST /erp/reservations/{reservation_id}/lines/{sku}"


async def _order(stack: Stack, customer: str, quantity: int) -> str:
    """A small order that goes straight through; its business key, e.g. SO-1A2B3C4D5E."""
    body = {"customer_id": customer, "lines": [{"sku": "WID-100", "quantity": quantity}]}
    process_id = await start_process(stack, ORDER_FULFILLMENT.name, body)
    done = await until(stack, process_id, "completed")
    key: str = done["business_key"]
    return key


async def _ask(stack: Stack, customer: str, message: str) -> str:
    return await start_process(
        stack, SERVICE, {"customer_id": customer, "message": message, "channel": "chat"}, key=BOB
    )


def _steps(done: dict[str, Any]) -> list[str]:
    return [step["name"] for step in done["steps"]]


async def _reservation(stack: Stack, order_ref: str) -> dict[str, Any]:
    found = await stack.sandbox.get("/erp/reservations", params={"order_ref": order_ref})
    [reservation] = found.json()
    return dict(reservation)


async def test_a_status_question_is_answered_from_the_systems(stack: Stack) -> None:
    order = await _order(stack, "C-1001", 5)
    process_id = await _ask(stack, "C-1001", f"Hi, where is my order {order}? Thanks, Ann")

    done = await until(stack, process_id, "completed")
    assert done["result"]["outcome"] == "answered"
    assert done["result"]["reply"] == f"Order {order}: 5 x WID-100: all in stock for you."
    assert done["result"]["changes"] == []
    assert "look up the reservations" in _steps(done)
    assert "look up the production orders" in _steps(done)
    assert not [step for step in done["steps"] if step["actor"] == "human"]
    sent = await stack.sandbox.get("/notifications", params={"ref": done["business_key"]})
    [reply] = sent.json()
    assert (reply["recipient"], reply["channel"]) == ("C-1001", "chat")
    turns = [row for row in ledger(stack, process_id) if row.step.startswith("agent-turn-")]
    assert [row.outcome for row in turns] == [
        "call erp.find_reservations",
        "call mes.find_production_orders",
        "answer",
    ]
    assert turns[0].data["call"]["arguments"] == {"order_ref": order}
    assert turns[2].data["text"] == done["result"]["reply"]
    assert {(row.actor_kind, row.actor) for row in turns} == {("ai", "baton-local/service-agent")}
    assert turns[0].data["reasoning"] == f"status {order}: find it"
    assert turns[0].data["model_version"] == "rules-1"
    async with person(stack, BOB) as bob:
        page = await bob.get(f"/app/processes/{quote(process_id, safe='')}")
        assert page.status_code == 200, page.text
        assert "look up the production orders" in page.text
    await keep_history(stack, process_id, "service-status-answered")


async def test_a_quantity_change_waits_for_a_sales_rep_and_is_applied_once(stack: Stack) -> None:
    order = await _order(stack, "C-1001", 5)
    before = await _reservation(stack, order)
    process_id = await _ask(
        stack, "C-1001", f"Hello, please change the quantity to 30 on order {order}."
    )

    task_id = await open_task(stack, process_id, ALICE)
    task = (await stack.api.get(f"/v1/tasks/{task_id}", headers=stack.as_user(ALICE))).json()
    assert task["title"].startswith("Approve: change the reserved quantity (reservation_id")
    assert task["context"]["arguments"] == {
        "reservation_id": before["id"],
        "sku": "WID-100",
        "quantity": 30,
    }
    # Nothing is written while the sales rep has not approved.
    assert await _reservation(stack, order) == before
    assert CHANGE_ENDPOINT not in await writes(stack)

    await decide(stack, task_id, ALICE, "approve")
    done = await until(stack, process_id, "completed")
    assert done["result"]["outcome"] == "changed"
    assert done["result"]["changes"] == [
        {
            "tool": "erp.change_reserved_quantity",
            "arguments": task["context"]["arguments"],
            "approved_by": ["alice"],
        }
    ]
    assert done["result"]["reply"].startswith(f"Order {order}: WID-100 is now 30")
    [line] = (await _reservation(stack, order))["lines"]
    assert (line["requested"], line["reserved"] + line["shortfall"]) == (30, 30)
    assert (await writes(stack))[CHANGE_ENDPOINT] == 1
    await keep_history(stack, process_id, "service-change-approved", ("approve-tool-call-2",))


async def test_a_declined_change_is_never_made_and_goes_to_a_person(stack: Stack) -> None:
    order = await _order(stack, "C-1001", 5)
    before = await _reservation(stack, order)
    process_id = await _ask(stack, "C-1001", f"Could you reduce {order} to 2 please")

    approval = await open_task(stack, process_id, ALICE)
    await decide(stack, approval, ALICE, "decline", comment="already picked")
    answer = await open_task(stack, process_id, ALICE)
    task = (await stack.api.get(f"/v1/tasks/{answer}", headers=stack.as_user(ALICE))).json()
    assert "declined by a person: already picked" in task["description"]
    await decide(stack, answer, ALICE, "reply", comment="Sorry, it has already been picked.")

    done = await until(stack, process_id, "completed")
    assert done["result"] == {
        "outcome": "answered by a person",
        "reply": "Sorry, it has already been picked.",
        "changes": [],
    }
    assert await _reservation(stack, order) == before
    assert CHANGE_ENDPOINT not in await writes(stack)


async def test_an_unclear_request_is_handed_to_a_sales_rep(stack: Stack) -> None:
    process_id = await _ask(stack, "C-1002", "Your driver was very friendly yesterday, thanks!")
    task_id = await open_task(stack, process_id, ALICE)
    task = (await stack.api.get(f"/v1/tasks/{task_id}", headers=stack.as_user(ALICE))).json()
    assert task["title"] == f"Answer C-1002 ({process_id.removeprefix(SERVICE + ':')})"
    assert "The assistant handed it over" in task["description"]
    assert task["context"]["agent"]["tool_calls"] == []
    async with person(stack, ALICE) as alice:  # the workspace shows it as it shows any task
        page = await alice.get(f"/app/tasks/{quote(task_id, safe='')}")
        assert page.status_code == 200, page.text
        assert "Your driver was very friendly yesterday" in page.text
        start = await alice.get(f"/app/start/{SERVICE}")
        assert start.status_code == 200, start.text
    await decide(stack, task_id, ALICE, "reply", comment="Thank you, we will tell him!")

    done = await until(stack, process_id, "completed")
    assert done["result"]["outcome"] == "answered by a person"
    assert "decide the next step (1)" in _steps(done)
    assert "look up the reservations" not in _steps(done)
    await keep_history(stack, process_id, "service-unclear-escalated", ("answer-the-customer",))


async def test_another_customers_order_is_out_of_bounds(stack: Stack) -> None:
    order = await _order(stack, "C-1001", 5)
    process_id = await _ask(stack, "C-1002", f"Where is order {order}?")
    task_id = await open_task(stack, process_id, ALICE)
    task = (await stack.api.get(f"/v1/tasks/{task_id}", headers=stack.as_user(ALICE))).json()
    [refused] = task["context"]["agent"]["tool_calls"]
    assert refused["result"] is None
    assert refused["refused"] == f"out of bounds: {order} is not an order of C-1002"
    rows = [row for row in ledger(stack, process_id) if row.step == "agent-refused-1"]
    assert [(row.actor_kind, row.actor) for row in rows] == [("system", "baton-guardrails")]
    await decide(stack, task_id, ALICE, "close")
    done = await until(stack, process_id, "completed")
    assert done["result"]["outcome"] == "closed without a reply"
    assert "look up the reservations" not in _steps(done)


async def test_a_crm_event_starts_a_request_that_is_answered(stack: Stack) -> None:
    order = await _order(stack, "C-1001", 5)
    stack.settings.event_secrets = {"crm": SecretStr(SECRETS["crm"])}
    message = {"customer_id": "C-1001", "message": f"Has {order} shipped yet?"}
    event = {"id": f"crm-{order}", "type": "crm.service_request_received", "data": message}
    sent = await send(stack, "crm", event)
    assert sent.status_code == 202, sent.text
    done = await until(stack, sent.json()["process_id"], "completed")
    assert done["requested_by"] == "event:crm"
    assert done["result"]["outcome"] == "answered"
    assert done["result"]["reply"].startswith(f"Order {order}: 5 x WID-100")
