"""The process kit: what every process workflow shares, so a process file holds only its stages.

A process subclasses `Process`, is declared with its catalogue entry, and its `run` reads as
the business process:

    @process(ORDER_FULFILLMENT)
    class OrderFulfillmentWorkflow(Process[OrderRun]):
        @workflow.init  # typed exactly like `run`, as the SDK wants
        def __init__(self, run: OrderRun) -> None:
            super().__init__(run)  # then the process's own state

        @workflow.run
        async def run(self, run: OrderRun) -> ProcessState:
            async with self.conducting():
                await self._capture()
                ...
            return self.live_state()

The kit owns the live state (the `state` query, which only reads), the tracker (stages, steps,
the BatonStatus/BatonStage/BatonWaitingOn search attributes), the saga, the task priority of
every step, the reject / cancel / fail skeleton with compensation, and the bot, AI, human-task
and ledger calls.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, ClassVar, Generic, NoReturn, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    FailureError,
    is_cancelled_exception,
)

from workflows.contracts import search_attributes as search
from workflows.contracts.ai import AIResult, ai_department
from workflows.contracts.bots import Refusal, bot_department
from workflows.contracts.insight import InsightActivity
from workflows.contracts.processes import (
    STATE_QUERY,
    ProcessInput,
    ProcessRun,
    ProcessState,
    ProcessStatus,
    ProcessType,
    Step,
    business_key_of,
)
from workflows.contracts.tasks import ActorKind, LedgerEntry, TaskResult, TaskSpec
from workflows.steps.calls import AI_TIMEOUT, BOT_TIMEOUT, R, call, inbox_call
from workflows.steps.ledger import record_decision
from workflows.steps.patches import Patches
from workflows.steps.saga import Saga
from workflows.steps.tracker import Tracker

RunT = TypeVar("RunT", bound=ProcessRun)
AIR = TypeVar("AIR", bound=AIResult)
P = TypeVar("P", bound="type[Process[Any]]")


def process(ptype: ProcessType) -> Callable[[P], P]:
    """Declares a process workflow: its Temporal type name and its catalogue entry come from
    one place, and an input that fails validation fails the run instead of retrying its first
    task forever (sdk-python #815)."""

    def declare(cls: P) -> P:
        cls.process_type = ptype
        return workflow.defn(name=ptype.workflow, failure_exception_types=[ValidationError])(cls)

    return declare


REFUSALS_REJECT = "refusals-reject"  # the patch after which a system's refusal rejects
INSIGHT_LOG = "insight-log"  # the patch after which a run writes insight's event log


class Rejected(Exception):
    """A business rule said no: the process compensates and ends `rejected` with the reason.
    `refused_by` is the error code when a business system said no (e.g. unknown_customer)."""

    def __init__(
        self, reason: str, result: dict[str, Any] | None = None, refused_by: str = ""
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result or {"outcome": "rejected", "reason": reason}
        self.refused_by = refused_by


def business_refusal(failure: ActivityError | ChildWorkflowError) -> Rejected | None:
    """A step that failed because a business system refused it, as a rejection."""
    cause = failure.cause
    if not (isinstance(cause, ApplicationError) and cause.non_retryable and cause.details):
        return None
    try:
        refusal = Refusal.model_validate(cause.details[0])
    except ValidationError:
        return None  # not from a business system: a bug
    code = cause.type or ""
    if not refusal.is_business_no(code):
        return None
    reason = f"refused by a business system: {code}"
    result = {"outcome": "rejected", "reason": reason, "detail": cause.message}
    return Rejected(reason, result, refused_by=code)


class Process(Generic[RunT]):
    process_type: ClassVar[ProcessType]

    @workflow.init
    def __init__(self, run: RunT) -> None:
        workflow_id = workflow.info().workflow_id
        key = business_key_of(workflow_id, self.process_type.name, run.business_key)
        run = run.model_copy(update={"business_key": key})  # a scheduled run's is its own
        self.run_input = run
        self.state = ProcessState(
            process_id=workflow_id,
            process_type=self.process_type.name,
            business_key=run.business_key,
        )
        self.state.started_at = workflow.info().start_time
        self.state.requested_by, self.state.priority = run.requested_by, run.priority
        self.state.time_scale = run.time_scale
        self.tracker = Tracker(
            self.state,
            department=self.process_type.department.value,
            objects=self.objects,
            before_waiting=self.record,
        )
        self.saga = Saga()
        self.patches = Patches()
        # Every step at the run's priority (set again explicitly: runs started before the
        # start carried one have none to inherit).
        self.priority = run.priority.for_temporal(self.process_type.name)

    # -- what a process adds ----------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        """The process's own data (its order, its invoice), shown in its live state."""
        return {}

    def objects(self) -> list[str]:
        """The business objects its steps touch so far, as "type:id" (insight's object log)."""
        return []

    async def on_rejected(self, rejected: Rejected) -> None:
        """Runs after compensation when the process is rejected, e.g. to tell the customer."""

    # -- the skeleton ---------------------------------------------------------------------------

    @workflow.query(name=STATE_QUERY)
    def live_state(self) -> ProcessState:
        state = self.state.model_copy(deep=True)  # queries only read
        state.data.update(self.view())
        return state

    @asynccontextmanager
    async def conducting(self) -> AsyncIterator[None]:
        """Runs the stages inside it. A rejection, or a business system's refusal of a step
        (unknown customer, credit limit exceeded), undoes what was done and ends the process
        `rejected`; a cancellation undoes it and ends it `cancelled`; a step that failed for
        no business reason undoes it and fails the run, as does an undo that fails. A process
        that completes or is rejected waits for running handlers before it returns."""
        run = self.run_input
        given: ProcessInput = getattr(run, self.process_type.input_field)
        workflow.upsert_search_attributes(
            [
                search.PROCESS_TYPE.value_set(self.process_type.name),
                search.BUSINESS_KEY.value_set(run.business_key),
                search.CUSTOMER.value_set(given.counterparty()),
                search.REQUESTED_BY.value_set(run.requested_by),
            ]
        )
        try:
            try:
                yield
            except Rejected as rejected:
                await self._rejected(rejected)
            except asyncio.CancelledError:
                await self._cancelled()
                raise
            except (ActivityError, ChildWorkflowError) as failure:
                if is_cancelled_exception(failure):  # a step or task cut short by the cancel
                    await self._cancelled()
                    raise asyncio.CancelledError from failure
                refused = business_refusal(failure)
                if refused is None or not self.patches.patched(REFUSALS_REJECT):
                    await self._failed(failure)
                else:
                    await self._rejected(refused)
        except (FailureError, asyncio.CancelledError):  # failed or cancelled: recorded as such
            await self.record()
            raise
        await self.record()
        await workflow.wait_condition(workflow.all_handlers_finished)

    def complete(self, result: dict[str, Any]) -> None:
        self.state.result = result
        self.tracker.stage("completed", ProcessStatus.COMPLETED)

    async def undo(self, why: str) -> None:
        if not self.saga.pending:
            return
        self.tracker.stage(f"compensating ({why})")
        try:
            self.state.data["compensated"] = await self.saga.compensate()
        except ActivityError as failure:  # what is left to undo needs a person
            self.state.reason = f"compensation failed ({why}): {failure.cause or failure}"
            self.state.data["not_compensated"] = self.saga.pending
            self.tracker.stage("failed", ProcessStatus.FAILED)
            raise ApplicationError(
                self.state.reason, type="CompensationFailed", non_retryable=True
            ) from failure

    async def _rejected(self, rejected: Rejected) -> None:
        await self.undo("rejected")
        try:
            await self.on_rejected(rejected)
        except ActivityError as failure:  # e.g. the notice could not be sent: still rejected
            workflow.logger.warning("after the rejection: %s", failure.cause or failure)
        self.state.reason = rejected.reason
        self.state.result = rejected.result
        self.tracker.stage("rejected", ProcessStatus.REJECTED)

    async def _failed(self, failure: ActivityError | ChildWorkflowError) -> NoReturn:
        await self.undo("failed")
        self.state.reason = f"a step failed: {failure.cause or failure}"
        self.tracker.stage("failed", ProcessStatus.FAILED)
        raise ApplicationError(
            self.state.reason, type="ProcessFailed", non_retryable=True
        ) from failure

    async def _cancelled(self) -> None:
        await self.undo("cancelled")
        self.state.reason = "cancelled on request"
        self.tracker.stage("cancelled", ProcessStatus.CANCELLED)

    async def record(self) -> None:
        """Writes the run as it stands to insight's event log: before the process waits on
        people or a date, and when it ends. Runs from before the patch write nothing (the
        rebuild reads them from their histories)."""
        if not self.run_input.insight_log or not self.patches.patched(INSIGHT_LOG):
            return
        state = self.live_state()
        await inbox_call(
            InsightActivity.RECORD_RUN,
            state,
            bool,
            queues=self.run_input.queues,
            summary=f"insight: {len(state.steps)} steps, {state.status.value}",
        )

    # -- steps ----------------------------------------------------------------------------------

    async def bot(self, name: str, request: BaseModel, result: type[R], summary: str) -> R:
        """One call of a bot, on the bots queue, at the process's priority."""
        return await self._call(
            name, request, result, summary, self.run_input.queues.bots, BOT_TIMEOUT
        )

    async def bot_step(
        self,
        step: str,
        name: str,
        request: BaseModel,
        result: type[R],
        summary: str,
        *,
        activity: str = "",
    ) -> R:
        """A bot call that is a step of the process, tracked in its live state. `activity`
        names the step's kind where its name has particulars ("schedule production")."""
        return await self.tracker.step(
            step,
            ActorKind.BOT,
            lambda: self.bot(name, request, result, summary),
            activity=activity,
            department=bot_department(name),
            by=name,
        )

    def undo_by_bot(
        self,
        undo: str,
        name: str,
        request: BaseModel,
        result: type[BaseModel],
        summary: str,
        *,
        activity: str = "",
    ) -> None:
        """Registers the bot call that undoes a step, should the process be compensated; the
        undo is a step too."""
        self.saga.on_undo(
            undo, lambda: self.bot_step(undo, name, request, result, summary, activity=activity)
        )

    async def ai_step(
        self,
        step: str,
        name: str,
        request: BaseModel,
        result: type[AIR],
        summary: str,
        *,
        ledger: tuple[str, Callable[[AIR], str]],
        activity: str = "",
    ) -> AIR:
        """An AI call that is a step; its answer goes to the ledger as `(entry, outcome)` say:
        what decided, what it said and how sure it was."""
        entry, outcome = ledger

        def describe(answer: AIR, done: Step) -> None:
            done.by, done.outcome = answer.model, outcome(answer)
            done.confidence = answer.confidence
            done.tokens = answer.metrics.prompt_tokens + answer.metrics.completion_tokens

        answer = await self.tracker.step(
            step,
            ActorKind.AI,
            lambda: self._call(
                name, request, result, summary, self.run_input.queues.ai, AI_TIMEOUT
            ),
            activity=activity,
            department=ai_department(name),
            describe=describe,
        )
        await self.ledger(
            entry,
            ActorKind.AI,
            answer.model,
            outcome(answer),
            answer.confidence,
            answer.model_dump(mode="json"),
        )
        return answer

    async def task(self, spec: TaskSpec, waiting_on: str, *, activity: str = "") -> TaskResult:
        """A human task: the process waits on people (and says so) until it closes."""
        return await self.tracker.task(
            spec,
            waiting_on,
            process_type=self.process_type.name,
            queues=self.run_input.queues,
            priority=self.run_input.priority,
            activity=activity,
        )

    async def ledger(
        self,
        step: str,
        kind: ActorKind,
        actor: str,
        outcome: str,
        confidence: float | None,
        data: dict[str, Any],
    ) -> None:
        """A decision the process made (an AI answer, a correction), one entry per step."""
        process_id = workflow.info().workflow_id
        entry = LedgerEntry(
            decision_id=f"{process_id}:{step}",
            process_id=process_id,
            step=step,
            actor_kind=kind,
            actor=actor,
            outcome=outcome,
            confidence=confidence,
            data=data,
            decided_at=workflow.now(),
        )
        await record_decision(entry, self.run_input.queues)

    async def _call(
        self,
        name: str,
        request: BaseModel,
        result: type[R],
        summary: str,
        queue: str,
        start_to_close: timedelta,
    ) -> R:
        return await call(
            name,
            request,
            result,
            queue=queue,
            summary=summary,
            priority=self.priority,
            start_to_close=start_to_close,
        )
