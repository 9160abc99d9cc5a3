"""The agent step's contracts: the tools a model may use, its turns, and what it ended with.

An agent step gives a model a goal, a customer's message and a set of tools (bot activities,
each with the JSON schema of its arguments and whether it writes). Each turn the model answers
with one action: call a tool, answer, or hand the work over to a person. The workflow runs the
tools, so guardrails live there, not in the model: arguments are validated before anything
runs, a tool that writes waits for a person's approval, and the turns are bounded.
"""

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, model_validator

from workflows.contracts.ai import AIResult, Intent

DECIDE = "decide the next step"  # the activity of every turn, in the event log and the map
APPROVE = "approve a tool call"  # the activity of every approval of a tool that writes


class AgentTool(BaseModel):
    """A tool as the model sees it."""

    name: str = Field(description="the bot activity, e.g. erp.find_reservations")
    description: str
    parameters: dict[str, Any] = Field(description="JSON schema of the arguments")
    writes: bool = Field(False, description="changes a business system: a person approves first")


class ToolCall(BaseModel):
    call_id: str = Field(description="unique within the step, so its result can be matched")
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolOutcome(BaseModel):
    """One tool call and what came of it, as the model reads it on its next turn."""

    call: ToolCall
    reasoning: str = ""
    result: dict[str, Any] | None = Field(None, description="what the tool returned, if it ran")
    refused: str = Field("", description="why it did not run: bad arguments, declined, ...")
    approved_by: list[str] = Field(default_factory=list)


class AgentTurnRequest(BaseModel):
    goal: str = Field(description="what the agent is for and what it may do")
    message: str = Field(min_length=1, description="the customer's message")
    facts: dict[str, str] = Field(default_factory=dict, description="e.g. the customer's id")
    intent: Intent | None = Field(None, description="the message as the classifier read it")
    tools: list[AgentTool]
    transcript: list[ToolOutcome] = Field(default_factory=list)
    turns_left: int = Field(ge=1)


class AgentAction(StrEnum):
    CALL_TOOL = "call_tool"
    ANSWER = "answer"  # the reply to the customer is `text`
    HAND_OVER = "hand_over"  # `text` says why a person must take it


class AgentTurnResult(AIResult):
    action: AgentAction
    call: ToolCall | None = Field(None, description="the tool call, exactly when calling one")
    text: str = Field("", description="the reply (answer) or the reason (hand over)")
    reasoning: str = Field("", description="a short summary of why, for the ledger and the UI")

    @model_validator(mode="after")
    def _call_when_calling(self) -> "AgentTurnResult":
        if (self.call is not None) != (self.action is AgentAction.CALL_TOOL):
            raise ValueError("call: given exactly when the action is call_tool")
        return self

    def describe(self) -> str:
        """The turn in a few words (the ledger's and the step's outcome; the reply, the reason
        and the arguments are in the entry's data)."""
        if self.call is not None:
            return f"call {self.call.tool}"
        return self.action.value.replace("_", " ")
