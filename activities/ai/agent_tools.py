"""An agent's turn in the chat-completions tool-calling format, and the model's answer back.

The tools are the step's bot activities, plus two that end the step: `answer_customer` (the
reply, with the model's confidence) and `hand_over` (why a person must take it). Function names
may not contain dots, so `erp.find_reservations` travels as `erp__find_reservations`. What the
model calls is taken as it is: an unknown tool or bad arguments are the workflow's to refuse,
and the refusal comes back on the next turn.
"""

import json
from typing import Any

from workflows.contracts.agent import AgentAction, AgentTurnRequest, AgentTurnResult, ToolCall

ANSWER_TOOL = "answer_customer"
HAND_OVER_TOOL = "hand_over"
RULES = (
    "Use the tools to find the facts before you answer, one tool call per turn. Tools marked "
    "[writes] change a business system: they run only after a person approves, and a declined "
    "call is not retried. Finish by calling answer_customer with the reply to the customer "
    f"and your confidence (0 to 1) that it is right, or {HAND_OVER_TOOL} with the reason when a "
    "person must take over (unclear request, missing facts, a change that was declined)."
)
_ENDINGS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": ANSWER_TOOL,
            "description": "Reply to the customer and end the step.",
            "parameters": {
                "type": "object",
                "properties": {
                    "reply": {"type": "string"},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                },
                "required": ["reply", "confidence"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": HAND_OVER_TOOL,
            "description": "Give the request to a person, saying why, and end the step.",
            "parameters": {
                "type": "object",
                "properties": {"reason": {"type": "string"}},
                "required": ["reason"],
            },
        },
    },
]


def function_name(tool: str) -> str:
    return tool.replace(".", "__")


def turn_request(request: AgentTurnRequest) -> dict[str, Any]:
    """The chat-completions body for one turn: the goal, the message, the calls so far."""
    asked = {
        "message": request.message,
        "facts": request.facts,
        "intent": request.intent.value if request.intent else None,
        "turns_left": request.turns_left,
    }
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": f"{request.goal} {RULES}"},
        {"role": "user", "content": json.dumps(asked)},
    ]
    for outcome in request.transcript:
        call = outcome.call
        messages.append(
            {
                "role": "assistant",
                "content": outcome.reasoning or None,
                "tool_calls": [
                    {
                        "id": call.call_id,
                        "type": "function",
                        "function": {
                            "name": function_name(call.tool),
                            "arguments": json.dumps(call.arguments),
                        },
                    }
                ],
            }
        )
        told: dict[str, Any] = {"refused": outcome.refused} if outcome.refused else {}
        if outcome.result is not None:
            told["result"] = outcome.result
        messages.append({"role": "tool", "tool_call_id": call.call_id, "content": json.dumps(told)})
    tools = [
        {
            "type": "function",
            "function": {
                "name": function_name(tool.name),
                "description": ("[writes] " if tool.writes else "") + tool.description,
                "parameters": tool.parameters,
            },
        }
        for tool in request.tools
    ]
    return {"messages": messages, "tools": tools + _ENDINGS, "tool_choice": "auto"}


def read_turn(body: dict[str, Any], request: AgentTurnRequest) -> AgentTurnResult:
    """The model's answer as one action. Plain text instead of a tool call is a reply whose
    confidence nobody stated (0: a person checks it); of several calls the first is taken."""
    try:
        message = body["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        message = None
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    if not isinstance(message, dict) or not isinstance(calls or [], list):
        return AgentTurnResult(
            action=AgentAction.HAND_OVER, text="the model's answer was unreadable", confidence=0.0
        )
    reasoning = str(message.get("content") or "")
    if not calls:
        if not reasoning:
            return AgentTurnResult(
                action=AgentAction.HAND_OVER, text="the model gave no answer", confidence=0.0
            )
        return AgentTurnResult(
            action=AgentAction.ANSWER, text=reasoning, reasoning="replied in text", confidence=0.0
        )
    first = calls[0] if isinstance(calls[0], dict) else {}
    raw_function = first.get("function")
    function: dict[str, Any] = raw_function if isinstance(raw_function, dict) else {}
    name = str(function.get("name") or "")
    arguments = _arguments(function.get("arguments"))
    if name == ANSWER_TOOL:
        return AgentTurnResult(
            action=AgentAction.ANSWER,
            text=str(arguments.get("reply") or ""),
            reasoning=reasoning,
            confidence=_confidence(arguments.get("confidence")),
        )
    if name == HAND_OVER_TOOL:
        return AgentTurnResult(
            action=AgentAction.HAND_OVER,
            text=str(arguments.get("reason") or "the model handed over"),
            reasoning=reasoning,
            confidence=0.0,
        )
    tools = {function_name(tool.name): tool.name for tool in request.tools}
    call_id = str(first.get("id") or f"call-{len(request.transcript) + 1}")
    return AgentTurnResult(
        action=AgentAction.CALL_TOOL,
        call=ToolCall(call_id=call_id, tool=tools.get(name, name), arguments=arguments),
        reasoning=reasoning,
        confidence=0.0,  # a tool call states none; nothing is decided on it
    )


def _arguments(raw: Any) -> dict[str, Any]:
    """The call's arguments; text that is not a JSON object stays as `_unreadable`, which no
    tool accepts, so the refusal tells the model what it sent."""
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(str(raw or "{}"))
    except json.JSONDecodeError:
        return {"_unreadable": str(raw)}
    return parsed if isinstance(parsed, dict) else {"_unreadable": str(raw)}


def _confidence(raw: Any) -> float:
    try:
        return min(1.0, max(0.0, float(raw)))
    except (TypeError, ValueError):
        return 0.0
