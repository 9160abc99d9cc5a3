"""Keeps a process's live state: stages and steps as people read them in the API and the UI."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.contracts import search_attributes as search
from workflows.contracts.priority import Priority
from workflows.contracts.processes import OpenTask, ProcessState, ProcessStatus, Step, StepStatus
from workflows.contracts.queues import Queues
from workflows.contracts.roles import ROLE_DEPARTMENTS
from workflows.contracts.tasks import ActorKind, TaskResult, TaskSpec, task_id_for
from workflows.steps.human_task import human_task

T = TypeVar("T")


class Tracker:
    def __init__(
        self,
        state: ProcessState,
        *,
        department: str = "",
        objects: Callable[[], list[str]] = list,
        before_waiting: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.state = state
        self.department = department  # of steps no department of their own owns
        self.objects = objects  # the business objects a step touches, as it ends
        self.before_waiting = before_waiting  # e.g. writes the event log before a long wait

    def stage(
        self, stage: str, status: ProcessStatus = ProcessStatus.RUNNING, waiting_on: str = ""
    ) -> None:
        self.state.stage, self.state.status = stage, status
        workflow.upsert_search_attributes(
            [
                search.STATUS.value_set(status.value),
                search.STAGE.value_set(stage),
                search.WAITING_ON.value_set(waiting_on or search.NOBODY),
            ]
        )
        workflow.set_current_details(
            f"**{stage}**" + (f": waiting for {waiting_on}" if waiting_on else "")
        )

    async def step(
        self,
        name: str,
        actor: ActorKind,
        run: Callable[[], Awaitable[T]],
        detail: str = "",
        *,
        activity: str = "",
        department: str = "",
        by: str = "",
        describe: Callable[[T, Step], None] | None = None,
    ) -> T:
        """Runs one step, recording when it started and ended and how it went.

        Only a real failure is recorded: an exception, or a cancellation (the process was
        cancelled, or a timeout gave up on the step). Whatever else ends the coroutine passes
        through untouched: the SDK's eviction error (a BaseException) while a worker drops the
        run from its cache, and GeneratorExit when the dropped coroutine is garbage-collected,
        outside the workflow's event loop, where any workflow call raises and Python prints an
        "Exception ignored" traceback at every worker shutdown.
        """
        step = Step(
            name=name,
            actor=actor,
            started_at=workflow.now(),
            detail=detail,
            activity=activity or name,
            stage=self.state.stage,
            department=department or self.department,
            by=by,
        )
        self.state.steps.append(step)
        try:
            result = await run()
        except (Exception, asyncio.CancelledError) as exc:
            step.status, step.outcome = StepStatus.FAILED, _failure(exc)
            if workflow.in_workflow():  # a cancelled coroutine may be closed outside the loop
                step.ended_at = workflow.now()
                step.objects = self.objects()
            raise
        step.status, step.ended_at = StepStatus.COMPLETED, workflow.now()
        step.outcome, step.objects = "done", self.objects()
        if describe is not None:
            describe(result, step)
        return result

    def skipped(self, name: str, actor: ActorKind, detail: str) -> None:
        now = workflow.now()
        self.state.steps.append(
            Step(
                name=name,
                actor=actor,
                status=StepStatus.SKIPPED,
                started_at=now,
                ended_at=now,
                detail=detail,
                activity=name,
                stage=self.state.stage,
                department=self.department,
            )
        )

    def reviewed(self, activity: str, changed: bool) -> None:
        """People reviewed the last answer of an AI step: whether they changed or refused it
        (insight's rework and override rate)."""
        for step in reversed(self.state.steps):
            if step.activity == activity and step.actor is ActorKind.AI:
                step.overridden = changed
                return

    async def task(
        self,
        spec: TaskSpec,
        waiting_on: str,
        *,
        process_type: str,
        queues: Queues,
        priority: Priority,
        activity: str = "",
    ) -> TaskResult:
        """A human-task step: listed as open, and the process waits on people, until it ends.
        `activity` names the step's kind where the task's name has particulars."""
        task_id = task_id_for(workflow.info().workflow_id, spec.name)
        self.state.open_tasks.append(
            OpenTask(
                task_id=task_id,
                title=spec.title,
                candidate_roles=[r.value for r in spec.candidate_roles],
            )
        )
        self.stage(spec.name, ProcessStatus.WAITING, waiting_on)

        async def wait_for_people() -> TaskResult:
            if self.before_waiting is not None:
                await self.before_waiting()  # the open task is in the log while people decide
            return await human_task(
                spec, process_type=process_type, queues=queues, priority=priority
            )

        role = spec.owner()
        try:
            return await self.step(
                spec.title,
                ActorKind.HUMAN,
                wait_for_people,
                activity=activity or spec.name.replace("-", " "),
                department=ROLE_DEPARTMENTS.get(role, "") if role else "",
                describe=lambda result, step: _describe_task(spec, result, step),
            )
        finally:
            self.state.open_tasks = [t for t in self.state.open_tasks if t.task_id != task_id]


def _describe_task(spec: TaskSpec, result: TaskResult, step: Step) -> None:
    """What the event log records of a closed task: who decided what, how late, at what
    handling time (the spec's standard effort per decision)."""
    role = spec.owner()
    step.by = ", ".join(result.decided_by) or ("nobody: expired" if result.expired else "")
    step.outcome, step.role = result.outcome, role.value if role else ""
    step.escalations, step.expired = result.escalation_level, result.expired
    step.human_minutes = spec.effort.total_seconds() / 60 * len(result.decisions)
    first_due = spec.first_due()
    opened = result.created_at or step.started_at
    step.due_at = opened + first_due if first_due is not None else None
    step.objects = [*step.objects, f"task:{result.task_id}"]


def _failure(exc: BaseException) -> str:
    """A failed step's outcome: the business system's error code where it gave one."""
    cause = exc.cause if isinstance(exc, ActivityError) else exc
    if isinstance(cause, ApplicationError) and cause.type:
        return cause.type
    return "cancelled" if isinstance(exc, asyncio.CancelledError) else "failed"
