"""The offline agent policy: picks tools from what the customer asks, with no model service.

It reads the request (status, a quantity change, a cancellation, or unclear) from cue words,
falling back on the classifier's intent, and the order number from the text; then, turn by
turn, it looks at what its tools returned so far and decides the next call, the answer, or a
hand-over. It never guesses: a message with no order number, an order with several lines and
no product named, or anything it does not recognise goes to a person.
"""

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from activities.ai.local.fuzzy import codes_written, normalize_code
from activities.ai.local.numbers import find_numbers
from workflows.contracts.agent import (
    AgentAction,
    AgentTurnRequest,
    AgentTurnResult,
    ToolCall,
    ToolOutcome,
)
from workflows.contracts.ai import Intent
from workflows.contracts.bots import BotActivity

VERSION = "rules-1"  # the policy's version in the ledger: change it with the rules
SURE = 0.9  # the request was read from its own words
UNSURE = 0.6  # only the classifier's intent said what it is: a person checks the reply

_ORDER_REF = re.compile(r"\bSO-[A-Z0-9]{4,}\b", re.I)
_CHANGE = re.compile(
    r"\b(?:change|update|increase|decrease|reduce|raise|lower|amend|adjust|make it)\b", re.I
)
_CANCEL = re.compile(r"\b(?:cancel\w*|withdraw\w*|call off|no longer need)\b", re.I)
# What follows "to" when it is no quantity: a date, a time, an address ("3 Main Street").
_NOT_A_QUANTITY = re.compile(
    r"\s*(?:st|nd|rd|th)?\s*(?:of\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
    r"|mon|tue|wed|thu|fri|sat|sun|am\b|pm\b|o'clock|h\b|[:/.]\d|days?\b|weeks?\b)"
    r"|(?:\s+\w+)?\s+(?:street|st\b|road|rd\b|avenue|ave\b|lane|way|drive|boulevard)",
    re.I,
)
_STATUS = re.compile(
    r"\b(?:where|status|when|arriv\w*|deliver\w*|ship\w*|track\w*|eta|progress)\b", re.I
)


class Request(StrEnum):
    STATUS = "status"
    CHANGE = "change the quantity"
    CANCEL = "cancel"
    UNCLEAR = "unclear"


@dataclass(frozen=True)
class Reading:
    request: Request
    confidence: float
    order_ref: str | None
    quantity: int | None  # the new quantity of a change
    codes: frozenset[str]  # product codes written, normalized


def read(message: str, intent: Intent | None) -> Reading:
    found = _ORDER_REF.search(message)
    order_ref = found[0].upper() if found else None
    rest = _ORDER_REF.sub(" ", message)
    quantity = _new_quantity(rest)
    change = _CHANGE.search(rest)
    if change and quantity is not None:
        request, confidence = Request.CHANGE, SURE
    elif _CANCEL.search(rest):
        request, confidence = Request.CANCEL, SURE
    elif change:  # a change of something else (a date, an address): a person makes it
        request, confidence = Request.UNCLEAR, SURE
    elif _STATUS.search(rest):
        request, confidence = Request.STATUS, SURE
    elif intent is Intent.CANCELLATION:
        request, confidence = Request.CANCEL, UNSURE
    elif intent is Intent.INQUIRY:
        request, confidence = Request.STATUS, UNSURE
    else:
        request, confidence = Request.UNCLEAR, SURE
    return Reading(request, confidence, order_ref, quantity, frozenset(codes_written(rest)))


def _new_quantity(text: str) -> int | None:
    """The quantity after "to" ("change the quantity to 30", "increase it to thirty pcs")."""
    for mention in find_numbers(text, words=True):
        before = text[max(0, mention.start - 4) : mention.start].lower()
        if not before.rstrip().endswith("to") or _NOT_A_QUANTITY.match(text, mention.end):
            continue
        if mention.value.is_integer() and mention.value > 0:
            return int(mention.value)
    return None


def next_turn(request: AgentTurnRequest) -> AgentTurnResult:
    reading = read(request.message, request.intent)
    offered = {tool.name for tool in request.tools}
    turn = _Turn(reading, request.transcript, offered)
    if reading.request is Request.UNCLEAR:
        return turn.hand_over("the message asks for nothing I can do: a person reads it")
    if reading.order_ref is None:
        return turn.hand_over(f"a request ({reading.request.value}) that names no order number")
    return turn.decide()


class _Turn:
    def __init__(self, reading: Reading, transcript: list[ToolOutcome], offered: set[str]):
        self.reading = reading
        self.transcript = transcript
        self.offered = offered
        self.ref = reading.order_ref or ""

    def decide(self) -> AgentTurnResult:
        looked_up = self._outcome(BotActivity.FIND_RESERVATIONS)
        if looked_up is None:
            return self.call(BotActivity.FIND_RESERVATIONS, {"order_ref": self.ref}, "find it")
        reservations = (looked_up.result or {}).get("reservations") or []
        if not reservations:
            why = looked_up.refused or "no reservation"
            return self.hand_over(f"the ERP has nothing for {self.ref} ({why})")
        if self.reading.request is Request.CHANGE:
            return self._change(reservations[-1])
        production = self._outcome(BotActivity.FIND_PRODUCTION_ORDERS)
        if production is None:
            return self.call(
                BotActivity.FIND_PRODUCTION_ORDERS, {"order_ref": self.ref}, "what is produced"
            )
        made = (production.result or {}).get("production_orders") or []
        status = _status(self.ref, reservations, made)
        if self.reading.request is Request.CANCEL:
            return self.hand_over(
                f"cancelling {self.ref} undoes stock, production and the forecast: a sales rep "
                f"decides. {status}"
            )
        return self.answer(status, "answered from the ERP and the MES")

    def _change(self, reservation: dict[str, Any]) -> AgentTurnResult:
        attempt = self._outcome(BotActivity.CHANGE_RESERVED_QUANTITY)
        if attempt is not None and attempt.result is not None:
            line = next(
                line
                for line in attempt.result["lines"]
                if line["sku"] == attempt.call.arguments["sku"]
            )
            if line["shortfall"]:  # the change alone produces nothing: a person arranges it
                return self.hand_over(
                    f"{self.ref}: {line['sku']} changed to {line['requested']}, of which "
                    f"{line['shortfall']} are not in stock: production needs arranging"
                )
            return self.answer(
                f"Order {self.ref}: {line['sku']} is now {line['requested']}, all in stock "
                "for you.",
                f"changed with the approval of {', '.join(attempt.approved_by)}",
            )
        if attempt is not None:
            return self.hand_over(f"the change of {self.ref} was not made: {attempt.refused}")
        if reservation.get("status") != "active":
            return self.hand_over(f"{self.ref} is {reservation.get('status')}: nothing to change")
        lines = reservation["lines"]
        named = [line for line in lines if normalize_code(line["sku"]) in self.reading.codes]
        chosen = named if named else (lines if len(lines) == 1 else [])
        if len(chosen) != 1:
            skus = ", ".join(line["sku"] for line in lines)
            return self.hand_over(f"{self.ref} has several lines ({skus}): which one to change?")
        arguments = {
            "reservation_id": reservation["reservation_id"],
            "sku": chosen[0]["sku"],
            "quantity": self.reading.quantity,
        }
        return self.call(BotActivity.CHANGE_RESERVED_QUANTITY, arguments, "the customer asked")

    def _outcome(self, tool: str) -> ToolOutcome | None:
        return next((o for o in reversed(self.transcript) if o.call.tool == tool), None)

    def call(self, tool: str, arguments: dict[str, Any], why: str) -> AgentTurnResult:
        if tool not in self.offered:
            return self.hand_over(f"I would need {tool}, which this step does not offer")
        return AgentTurnResult(
            action=AgentAction.CALL_TOOL,
            call=ToolCall(
                call_id=f"call-{len(self.transcript) + 1}", tool=tool, arguments=arguments
            ),
            reasoning=f"{self.reading.request.value} {self.ref}: {why}",
            confidence=self.reading.confidence,
        )

    def answer(self, text: str, why: str) -> AgentTurnResult:
        return AgentTurnResult(
            action=AgentAction.ANSWER,
            text=text,
            reasoning=f"{self.reading.request.value} {self.ref}: {why}",
            confidence=self.reading.confidence,
        )

    def hand_over(self, why: str) -> AgentTurnResult:
        return AgentTurnResult(
            action=AgentAction.HAND_OVER,
            text=why,
            reasoning=why,
            confidence=self.reading.confidence,
        )


def _status(ref: str, reservations: list[dict[str, Any]], made: list[dict[str, Any]]) -> str:
    """What the systems say of an order, in sentences a customer reads."""
    parts = []
    for reservation in reservations:
        if reservation.get("status") == "released":
            parts.append(f"reservation {reservation['reservation_id']} was released")
            continue
        for line in reservation["lines"]:
            parts.append(f"{line['requested']} x {line['sku']}: {_reserved(line)}")
    for order in made:
        parts.append(
            f"production of {order['quantity']} x {order['sku']} {order['status']}, "
            f"due {order['completion_date']}"
        )
    return f"Order {ref}: " + "; ".join(parts) + "."


def _reserved(line: dict[str, Any]) -> str:
    if line["shortfall"]:
        return f"{line['reserved']} in stock for you, {line['shortfall']} to be produced"
    return "all in stock for you"
