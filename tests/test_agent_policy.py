"""The offline agent policy turn by turn, with the tools' results written in by hand: what it
reads from a message, which tool it calls next, and when it hands over instead of guessing."""

from typing import Any

import pytest

from activities.ai.local.agent import Request, next_turn, read
from workflows.contracts.agent import (
    AgentAction,
    AgentTool,
    AgentTurnRequest,
    ToolCall,
    ToolOutcome,
)
from workflows.contracts.ai import Intent
from workflows.contracts.bots import BotActivity

ORDER = "SO-7F3A9C21D0"
TOOLS = [
    AgentTool(name=name, description="", parameters={}, writes=name.startswith("erp.change"))
    for name in (
        BotActivity.FIND_RESERVATIONS,
        BotActivity.FIND_PRODUCTION_ORDERS,
        BotActivity.CHANGE_RESERVED_QUANTITY,
    )
]


def _line(sku: str, requested: int, reserved: int) -> dict[str, Any]:
    return {
        "sku": sku,
        "requested": requested,
        "reserved": reserved,
        "shortfall": requested - reserved,
    }


def _found(*lines: dict[str, Any], status: str = "active") -> ToolOutcome:
    reservation = {"reservation_id": 7, "lines": list(lines), "status": status}
    call = ToolCall(call_id="1", tool=BotActivity.FIND_RESERVATIONS, arguments={"order_ref": ORDER})
    return ToolOutcome(call=call, result={"reservations": [reservation]})


def _turn(message: str, *done: ToolOutcome, intent: Intent | None = None) -> Any:
    request = AgentTurnRequest(
        goal="", message=message, intent=intent, tools=TOOLS, transcript=list(done), turns_left=5
    )
    return next_turn(request)


@pytest.mark.parametrize(
    ("message", "intent", "expected"),
    [
        (f"where is {ORDER}?", None, (Request.STATUS, ORDER, None)),
        (f"Please increase {ORDER.lower()} to thirty pcs", None, (Request.CHANGE, ORDER, 30)),
        (f"change WID-100 on {ORDER} to 1,200", None, (Request.CHANGE, ORDER, 1200)),
        (f"cancel {ORDER}, we no longer need it", None, (Request.CANCEL, ORDER, None)),
        ("Can I ask something about an order", Intent.INQUIRY, (Request.STATUS, None, None)),
        ("Lovely weather today", Intent.OTHER, (Request.UNCLEAR, None, None)),
        # "change" with no new quantity is not a change it can make
        (f"we need to change {ORDER}", None, (Request.UNCLEAR, ORDER, None)),
        (
            f"Please change the delivery date to 12 June for {ORDER}",
            None,
            (Request.UNCLEAR, ORDER, None),
        ),
        (f"update {ORDER}: ship to 3 Main Street", None, (Request.UNCLEAR, ORDER, None)),
        (f"change {ORDER} to 14:30 delivery", None, (Request.UNCLEAR, ORDER, None)),
    ],
)
def test_what_a_message_asks(
    message: str, intent: Intent | None, expected: tuple[Request, str | None, int | None]
) -> None:
    reading = read(message, intent)
    assert (reading.request, reading.order_ref, reading.quantity) == expected


def test_a_status_looks_up_both_systems_then_answers() -> None:
    first = _turn(f"Status of {ORDER}?")
    assert first.action is AgentAction.CALL_TOOL
    assert first.call.tool == BotActivity.FIND_RESERVATIONS
    found = _found(_line("WID-100", 40, 25))
    second = _turn(f"Status of {ORDER}?", found)
    assert second.call.tool == BotActivity.FIND_PRODUCTION_ORDERS
    made = ToolOutcome(
        call=ToolCall(call_id="2", tool=BotActivity.FIND_PRODUCTION_ORDERS),
        result={
            "production_orders": [
                {
                    "quantity": 15,
                    "sku": "WID-100",
                    "status": "scheduled",
                    "completion_date": "2026-12-04",
                }
            ]
        },
    )
    third = _turn(f"Status of {ORDER}?", found, made)
    assert third.action is AgentAction.ANSWER
    assert third.text == (
        f"Order {ORDER}: 40 x WID-100: 25 in stock for you, 15 to be produced; "
        "production of 15 x WID-100 scheduled, due 2026-12-04."
    )
    assert third.confidence >= 0.75


def test_a_change_names_its_line_or_goes_to_a_person() -> None:
    two_lines = _found(_line("WID-100", 5, 5), _line("GAD-120", 3, 3))
    chosen = _turn(f"Change GAD-120 on {ORDER} to 9", two_lines)
    assert chosen.call.tool == BotActivity.CHANGE_RESERVED_QUANTITY
    assert chosen.call.arguments == {"reservation_id": 7, "sku": "GAD-120", "quantity": 9}
    unnamed = _turn(f"Change {ORDER} to 9", two_lines)
    assert unnamed.action is AgentAction.HAND_OVER
    assert "several lines (WID-100, GAD-120)" in unnamed.text
    released = _turn(f"Change {ORDER} to 9", _found(_line("WID-100", 5, 5), status="released"))
    assert released.action is AgentAction.HAND_OVER


def test_a_declined_change_and_a_cancellation_go_to_a_person() -> None:
    found = _found(_line("WID-100", 5, 5))
    declined = ToolOutcome(
        call=ToolCall(call_id="2", tool=BotActivity.CHANGE_RESERVED_QUANTITY),
        refused="declined by a person: no",
    )
    after = _turn(f"Change {ORDER} to 9", found, declined)
    assert after.action is AgentAction.HAND_OVER
    assert after.text == f"the change of {ORDER} was not made: declined by a person: no"
    made = ToolOutcome(
        call=ToolCall(call_id="2", tool=BotActivity.FIND_PRODUCTION_ORDERS),
        result={"production_orders": []},
    )
    cancel = _turn(f"Please cancel {ORDER}", found, made)
    assert cancel.action is AgentAction.HAND_OVER
    assert cancel.text.endswith(f"Order {ORDER}: 5 x WID-100: all in stock for you.")


def test_no_order_number_or_a_tool_not_offered_hands_over() -> None:
    assert _turn("where is my order?").action is AgentAction.HAND_OVER
    request = AgentTurnRequest(goal="", message=f"where is {ORDER}", tools=TOOLS[1:], turns_left=3)
    handed = next_turn(request)
    assert handed.action is AgentAction.HAND_OVER
    assert "erp.find_reservations" in handed.text


def test_a_change_that_leaves_a_shortfall_goes_to_a_person() -> None:
    found = _found(_line("WID-100", 5, 5))
    changed = ToolOutcome(
        call=ToolCall(
            call_id="2",
            tool=BotActivity.CHANGE_RESERVED_QUANTITY,
            arguments={"reservation_id": 7, "sku": "WID-100", "quantity": 900},
        ),
        result={"reservation_id": 7, "lines": [_line("WID-100", 900, 400)], "status": "active"},
        approved_by=["alice"],
    )
    after = _turn(f"Change {ORDER} to 900", found, changed)
    assert after.action is AgentAction.HAND_OVER
    assert after.text == (
        f"{ORDER}: WID-100 changed to 900, of which 500 are not in stock: "
        "production needs arranging"
    )
