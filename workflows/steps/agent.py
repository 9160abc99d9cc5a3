"""The agent step: a model picks bot activities as tools to reach a goal, within guardrails.

Each turn is an AI step (its choice, reasoning, tool and arguments go to the ledger); the
workflow, not the model, runs the tools:
- a call of a tool the step does not offer, with arguments its request model refuses, or
  outside the step's scope (another customer's order) is not run: the refusal goes to the
  ledger and back to the model, which may try again;
- a tool that writes opens an approval task first and runs only when a person approves; a
  declined call is fed back like a refusal;
- a business system's refusal of a call (unknown reservation) is fed back too;
- after `max_turns` turns without an answer the step hands the work over to a person.
Tools run as bot steps, each an activity with a summary in the Temporal history.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.exceptions import ActivityError

from workflows.contracts.agent import (
    APPROVE,
    DECIDE,
    AgentAction,
    AgentTool,
    AgentTurnRequest,
    AgentTurnResult,
    ToolCall,
    ToolOutcome,
)
from workflows.contracts.ai import AIActivity, Intent
from workflows.contracts.roles import Role
from workflows.contracts.tasks import ActorKind, TaskForm, TaskSpec
from workflows.steps.process import Process, business_refusal

GUARDRAILS = "baton-guardrails"  # the actor of a refusal in the ledger
DECLINED = "declined by a person"


@dataclass(frozen=True)
class Tool:
    """A bot activity an agent may call, and what its step is called in the process."""

    activity: str
    request: type[BaseModel]
    result: type[BaseModel]
    step: str  # e.g. "look up the reservations"
    description: str
    writes: bool = False

    def spec(self) -> AgentTool:
        return AgentTool(
            name=self.activity,
            description=self.description,
            parameters=self.request.model_json_schema(),
            writes=self.writes,
        )


# Why a call with these (valid) arguments is out of the step's bounds, given the calls so far;
# "" when it is within them.
Scope = Callable[[BaseModel, list[ToolOutcome]], str]


@dataclass(frozen=True)
class Guardrails:
    max_turns: int
    approver: Role  # who approves a tool that writes
    approval_expires: timedelta
    scope: Scope = lambda _request, _transcript: ""


@dataclass(frozen=True)
class AgentOutcome:
    action: AgentAction  # ANSWER or HAND_OVER
    text: str  # the reply, or why a person must take over
    confidence: float
    transcript: list[ToolOutcome]
    approvals_asked: int = 0  # write calls a person was asked to approve

    def changed(self) -> list[ToolOutcome]:
        """The calls that wrote to a business system (each approved)."""
        return [o for o in self.transcript if o.approved_by and o.result is not None]


class Agent:
    def __init__(
        self, process: Process[Any], goal: str, tools: Sequence[Tool], guardrails: Guardrails
    ) -> None:
        self.process = process
        self.goal = goal
        self.tools = {tool.activity: tool for tool in tools}
        self.guardrails = guardrails
        self.approvals_asked = 0
        self.transcript: list[ToolOutcome] = []  # the calls so far, as the step goes

    async def run(self, message: str, facts: dict[str, str], intent: Intent | None) -> AgentOutcome:
        transcript = self.transcript
        specs = [tool.spec() for tool in self.tools.values()]
        last_confidence = 0.0
        for turn in range(1, self.guardrails.max_turns + 1):
            request = AgentTurnRequest(
                goal=self.goal,
                message=message,
                facts=facts,
                intent=intent,
                tools=specs,
                transcript=transcript,
                turns_left=self.guardrails.max_turns - turn + 1,
            )
            decided = await self.process.ai_step(
                f"{DECIDE} ({turn})",
                AIActivity.AGENT_TURN,
                request,
                AgentTurnResult,
                f"agent turn {turn}: {len(transcript)} tool calls so far",
                ledger=(f"agent-turn-{turn}", AgentTurnResult.describe),
                activity=DECIDE,
            )
            last_confidence = decided.confidence
            if decided.call is not None:
                transcript.append(await self._use(turn, decided.call, decided, transcript))
            elif decided.action is AgentAction.ANSWER and not decided.text.strip():
                return self._outcome(AgentAction.HAND_OVER, "an empty reply", 0.0, transcript)
            else:
                return self._outcome(decided.action, decided.text, decided.confidence, transcript)
        why = f"no answer after {self.guardrails.max_turns} turns"
        return self._outcome(AgentAction.HAND_OVER, why, last_confidence, transcript)

    def _outcome(
        self, action: AgentAction, text: str, confidence: float, transcript: list[ToolOutcome]
    ) -> AgentOutcome:
        return AgentOutcome(action, text, confidence, transcript, self.approvals_asked)

    async def _use(
        self, turn: int, call: ToolCall, decided: AgentTurnResult, transcript: list[ToolOutcome]
    ) -> ToolOutcome:
        tool = self.tools.get(call.tool)
        if tool is None:
            offered = ", ".join(self.tools)
            return await self._refused(
                turn, call, decided, f"unknown tool {call.tool!r}; the tools are {offered}"
            )
        unknown = sorted(set(call.arguments) - set(tool.request.model_fields))
        if unknown:  # e.g. an "approved" flag: only the approval task approves
            return await self._refused(
                turn, call, decided, f"unknown arguments {unknown} of {tool.activity}"
            )
        try:
            request = tool.request.model_validate(call.arguments)
        except ValidationError as error:
            return await self._refused(
                turn, call, decided, f"invalid arguments: {_problems(error)}"
            )
        beyond = self.guardrails.scope(request, transcript)
        if beyond:
            return await self._refused(turn, call, decided, f"out of bounds: {beyond}")
        if any(_declined(done, call) for done in transcript):
            return await self._refused(turn, call, decided, "a person declined this call already")
        approved_by: list[str] = []
        if tool.writes:
            self.approvals_asked += 1
            verdict = await self.process.task(
                self._approval(turn, tool, request, decided),
                f"a {self.guardrails.approver.value}",
                activity=APPROVE,
            )
            if verdict.outcome != "approve":
                why = verdict.comment or ("nobody answered in time" if verdict.expired else "")
                return await self._refused(
                    turn, call, decided, f"{DECLINED}: {why or verdict.outcome}"
                )
            approved_by = verdict.decided_by
        try:
            result = await self.process.bot_step(
                tool.step,
                tool.activity,
                request,
                tool.result,
                f"agent: {tool.step} ({_shown(request)})",
            )
        except ActivityError as failure:
            refusal = business_refusal(failure)
            if refusal is None:
                raise  # not the business saying no: the process fails and can be retried
            return ToolOutcome(
                call=call,
                reasoning=decided.reasoning,
                refused=f"{refusal.refused_by}: {failure.cause}",
                approved_by=approved_by,
            )
        return ToolOutcome(
            call=call,
            reasoning=decided.reasoning,
            result=result.model_dump(mode="json"),
            approved_by=approved_by,
        )

    async def _refused(
        self, turn: int, call: ToolCall, decided: AgentTurnResult, why: str
    ) -> ToolOutcome:
        """A call the guardrails did not run: in the ledger, and fed back to the model."""
        await self.process.ledger(
            f"agent-refused-{turn}",
            ActorKind.SYSTEM,
            GUARDRAILS,
            "not run",
            None,
            {"tool": call.tool, "arguments": call.arguments, "model": decided.model, "why": why},
        )
        return ToolOutcome(call=call, reasoning=decided.reasoning, refused=why)

    def _approval(
        self, turn: int, tool: Tool, request: BaseModel, decided: AgentTurnResult
    ) -> TaskSpec:
        arguments = request.model_dump(mode="json")
        shown = _shown(request)
        run = self.process.run_input
        return TaskSpec(
            name=f"approve-tool-call-{turn}",
            kind="approval",
            title=f"Approve: {tool.step} ({shown}) for {run.business_key}",
            description=(
                f"The assistant ({decided.model}) wants to {tool.step}: {shown}.\n"
                f"Why: {decided.reasoning or 'it did not say'}\n"
                "Nothing is changed unless you approve."
            ),
            candidate_roles=[self.guardrails.approver],
            form=TaskForm(outcomes=["approve", "decline"], comment_required_for=["decline"]),
            context={
                "tool": tool.activity,
                "arguments": arguments,
                "reasoning": decided.reasoning,
                "model": decided.model,
                **self.process.view(),
            },
            expire_after=self.guardrails.approval_expires,
            expiry_outcome="decline",
            requester=run.requested_by,
        )


def _shown(request: BaseModel) -> str:
    """A call's arguments as people read them: "reservation_id 12, sku WID-100"."""
    return ", ".join(f"{name} {value}" for name, value in request.model_dump(mode="json").items())


def _declined(done: ToolOutcome, call: ToolCall) -> bool:
    """Whether `done` is the same call, which a person declined."""
    same = (done.call.tool, done.call.arguments) == (call.tool, call.arguments)
    return same and done.refused.startswith(DECLINED)


def _problems(error: ValidationError) -> str:
    """A validation error as the model can act on it: each field and what is wrong with it."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'arguments'}: {problem['msg']}"
        for problem in error.errors()
    )
