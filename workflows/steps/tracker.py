"""Keeps a process's live state: stages and steps as people read them in the API and the UI."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio import workflow

from workflows.contracts import search_attributes as search
from workflows.contracts.priority import Priority
from workflows.contracts.processes import OpenTask, ProcessState, ProcessStatus, Step, StepStatus
from workflows.contracts.queues import Queues
from workflows.contracts.tasks import ActorKind, TaskResult, TaskSpec, task_id_for
from workflows.steps.human_task import human_task

T = TypeVar("T")


class Tracker:
    def __init__(self, state: ProcessState) -> None:
        self.state = state

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
        self, name: str, actor: ActorKind, run: Callable[[], Awaitable[T]], detail: str = ""
    ) -> T:
        """Runs one step, recording when it started and ended and how it went.

        Only a real failure is recorded: an exception, or a cancellation (the process was
        cancelled, or a timeout gave up on the step). Whatever else ends the coroutine passes
        through untouched: the SDK's eviction error (a BaseException) while a worker drops the
        run from its cache, and GeneratorExit when the dropped coroutine is garbage-collected,
        outside the workflow's event loop, where any workflow call raises and Python prints an
        "Exception ignored" traceback at every worker shutdown.
        """
        step = Step(name=name, actor=actor, started_at=workflow.now(), detail=detail)
        self.state.steps.append(step)
        try:
            result = await run()
        except (Exception, asyncio.CancelledError):
            step.status = StepStatus.FAILED
            if workflow.in_workflow():  # a cancelled coroutine may be closed outside the loop
                step.ended_at = workflow.now()
            raise
        step.status, step.ended_at = StepStatus.COMPLETED, workflow.now()
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
            )
        )

    async def task(
        self,
        spec: TaskSpec,
        waiting_on: str,
        *,
        process_type: str,
        queues: Queues,
        priority: Priority,
    ) -> TaskResult:
        """A human-task step: listed as open, and the process waits on people, until it ends."""
        task_id = task_id_for(workflow.info().workflow_id, spec.name)
        self.state.open_tasks.append(
            OpenTask(
                task_id=task_id,
                title=spec.title,
                candidate_roles=[r.value for r in spec.candidate_roles],
            )
        )
        self.stage(spec.name, ProcessStatus.WAITING, waiting_on)
        try:
            return await self.step(
                spec.title,
                ActorKind.HUMAN,
                lambda: human_task(
                    spec, process_type=process_type, queues=queues, priority=priority
                ),
            )
        finally:
            self.state.open_tasks = [t for t in self.state.open_tasks if t.task_id != task_id]
