"""The agent step over an OpenAI-compatible service: a local fake that scripts tool calls drives
customer service through the API. Bad arguments and an attempt to approve a write itself are
refused and fed back; a write runs only after a sales rep approves, and never when declined."""

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from temporalio.client import Client

from activities.ai.agent_tools import read_turn
from core.settings import Settings
from tests.approvals import ledger
from tests.helpers import ALICE, BOB, Stack, decide, open_task, serve, temporal_address, until
from tests.helpers import start as start_process
from tests.helpers import writes as sandbox_writes
from workflows.contracts.agent import AgentAction, AgentTurnRequest, ToolCall
from workflows.contracts.service import CUSTOMER_SERVICE

CHANGE_ENDPOINT = "POST /erp/reservations/{reservation_id}/lines/{sku}"
CLASSIFIED = {
    "intent": "inquiry",
    "urgency": "normal",
    "urgency_confidence": 0.8,
    "confidence": 0.9,
}

# The scripted turn for a request: by how many tool results the conversation holds so far.
Turn = Callable[[int], tuple[str, dict[str, Any]]]


@dataclass
class ScriptedModel:
    """Answers structured requests (the classifier) with CLASSIFIED and tool-calling requests
    with the script's next call; keeps every tool-calling request it was sent."""

    script: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def complete(request: Request) -> dict[str, Any]:
            body = await request.json()
            usage = {"prompt_tokens": 200, "completion_tokens": 20}
            if "tools" not in body:
                message: dict[str, Any] = {"role": "assistant", "content": json.dumps(CLASSIFIED)}
                return {"model": "fake", "choices": [{"message": message}], "usage": usage}
            self.turns.append(body)
            done = sum(1 for m in body["messages"] if m["role"] == "tool")
            name, arguments = self.script[min(done, len(self.script) - 1)]
            call: dict[str, Any] = {
                "id": f"call-{done}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            message = {"role": "assistant", "content": f"step {done}", "tool_calls": [call]}
            return {"model": "fake", "choices": [{"message": message}], "usage": usage}

        return app


@pytest.fixture
async def model() -> AsyncIterator[ScriptedModel]:
    scripted = ScriptedModel()
    async with serve(scripted.app()) as url:
        scripted.url = url
        yield scripted


@pytest.fixture
def settings(tmp_path: Path, client: Client, model: ScriptedModel) -> Settings:
    """The suite's settings, with the AI worker on the scripted service."""
    return Settings(
        _env_file=None,
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'baton.db'}",
        temporal_address=temporal_address(client),
        ai_provider="openai",
        openai_base_url=f"{model.url}/v1",
        openai_api_key="test-key",
        openai_model="gpt-test",
    )


async def _an_order(stack: Stack, customer: str) -> tuple[str, int]:
    """An order of `customer` as the ERP and the CRM know it: its key and its reservation."""
    order_ref = f"SO-{uuid.uuid4().hex[:10].upper()}"
    reserved = await stack.sandbox.post(
        "/erp/reservations",
        json={"order_ref": order_ref, "lines": [{"sku": "WID-100", "quantity": 5}]},
    )
    captured = await stack.sandbox.post(
        "/crm/interactions",
        json={"customer_id": customer, "kind": "order", "text": "5 widgets", "ref": order_ref},
    )
    assert (reserved.status_code, captured.status_code) == (201, 201)
    return order_ref, int(reserved.json()["id"])


async def test_refused_calls_are_fed_back_and_a_declined_write_never_runs(
    stack: Stack, model: ScriptedModel
) -> None:
    order, reservation = await _an_order(stack, "C-1001")
    change = {"reservation_id": reservation, "sku": "WID-100", "quantity": 30}
    model.script = [
        ("erp__find_reservations", {"order_ref": order}),
        ("erp__change_reserved_quantity", {**change, "quantity": "thirty"}),
        ("erp__change_reserved_quantity", {**change, "approved": True}),
        ("erp__change_reserved_quantity", change),
        ("erp__change_reserved_quantity", change),  # again, once declined: no second task
        ("hand_over", {"reason": "the change was declined"}),
    ]
    body = {"customer_id": "C-1001", "message": f"Make {order} 30 please"}
    process_id = await start_process(stack, CUSTOMER_SERVICE.name, body, key=BOB)

    approval = await open_task(stack, process_id, ALICE)
    task = (await stack.api.get(f"/v1/tasks/{approval}", headers=stack.as_user(ALICE))).json()
    assert task["context"]["arguments"] == change
    assert task["context"]["model"] == "gpt-test"
    await decide(stack, approval, ALICE, "decline", comment="not without the customer's PO")
    answer = await open_task(stack, process_id, ALICE)
    await decide(stack, answer, ALICE, "close")
    done = await until(stack, process_id, "completed")

    # What each refusal told the model, in the conversation of the turn after it.
    told = [json.loads(m["content"]) for m in model.turns[-1]["messages"] if m["role"] == "tool"]
    assert [sorted(t) for t in told] == [["result"]] + [["refused"]] * 4
    assert told[0]["result"]["reservations"][0]["reservation_id"] == reservation
    assert told[1]["refused"].startswith("invalid arguments: quantity: Input should be")
    assert told[2]["refused"] == ("unknown arguments ['approved'] of erp.change_reserved_quantity")
    assert told[3]["refused"] == "declined by a person: not without the customer's PO"
    assert told[4]["refused"] == "a person declined this call already"
    # Tools travel under names the service accepts; the model never sees its own ids changed.
    names = {tool["function"]["name"] for tool in model.turns[0]["tools"]}
    assert {"erp__find_reservations", "erp__change_reserved_quantity", "hand_over"} <= names

    assert CHANGE_ENDPOINT not in await sandbox_writes(stack)
    [reserved] = (await stack.sandbox.get(f"/erp/reservations/{reservation}")).json()["lines"]
    assert reserved["requested"] == 5
    assert done["result"]["outcome"] == "closed without a reply"
    refusals = [row for row in ledger(stack, process_id) if row.step.startswith("agent-refused")]
    assert [row.step for row in refusals] == [
        "agent-refused-2",
        "agent-refused-3",
        "agent-refused-4",
        "agent-refused-5",
    ]
    assert all(row.outcome == "not run" for row in refusals)
    assert refusals[1].data["why"] == told[2]["refused"]
    approvals = [step for step in done["steps"] if step["activity"] == "approve a tool call"]
    assert len(approvals) == 1
    turns = [step for step in done["steps"] if step["activity"] == "decide the next step"]
    assert len(turns) == 6
    assert all(step["tokens"] == 220 and step["by"] == "gpt-test" for step in turns)


async def test_an_approved_write_runs_once_and_the_model_answers(
    stack: Stack, model: ScriptedModel
) -> None:
    order, reservation = await _an_order(stack, "C-1001")
    change = {"reservation_id": reservation, "sku": "WID-100", "quantity": 12}
    model.script = [
        ("erp__find_reservations", {"order_ref": order}),
        ("erp__change_reserved_quantity", change),
        ("answer_customer", {"reply": f"{order} now asks for 12.", "confidence": 0.92}),
    ]
    body = {"customer_id": "C-1001", "message": f"Please make {order} twelve"}
    process_id = await start_process(stack, CUSTOMER_SERVICE.name, body, key=BOB)
    approval = await open_task(stack, process_id, ALICE)
    await decide(stack, approval, ALICE, "approve")
    done = await until(stack, process_id, "completed")

    assert done["result"]["outcome"] == "changed"
    assert done["result"]["reply"] == f"{order} now asks for 12."
    assert (await sandbox_writes(stack))[CHANGE_ENDPOINT] == 1
    [line] = (await stack.sandbox.get(f"/erp/reservations/{reservation}")).json()["lines"]
    assert line["requested"] == 12
    told = [json.loads(m["content"]) for m in model.turns[-1]["messages"] if m["role"] == "tool"]
    assert told[1]["result"]["lines"][0]["requested"] == 12


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"choices": [{"message": None}]},
        {"choices": [{"message": {"tool_calls": "call erp"}}]},
        {"choices": [{"message": {"content": ""}}]},
    ],
)
def test_an_unreadable_answer_hands_over(body: dict[str, Any]) -> None:
    request = AgentTurnRequest(goal="", message="where is SO-1", tools=[], turns_left=1)
    turn = read_turn(body, request)
    assert (turn.action, turn.call) == (AgentAction.HAND_OVER, None)


def test_a_tool_call_of_a_function_not_offered_is_passed_on_for_the_guardrails() -> None:
    call = {"id": "c1", "function": {"name": "erp__release_stock", "arguments": "{not json"}}
    body = {"choices": [{"message": {"content": "", "tool_calls": [call, {"id": "c2"}]}}]}
    request = AgentTurnRequest(goal="", message="cancel SO-1", tools=[], turns_left=1)
    turn = read_turn(body, request)
    assert turn.call == ToolCall(
        call_id="c1", tool="erp__release_stock", arguments={"_unreadable": "{not json"}
    )
