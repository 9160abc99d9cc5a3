"""The inbox: people list, claim and decide the tasks their roles allow.

Every change is a signal to the task's workflow, which checks it again and applies or refuses
it; the API answers once the workflow has done so. Tasks outside the caller's roles are 404, so
their content never leaks.
"""

import asyncio
import hashlib
import time
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlmodel import Session, select
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from api.deps import CurrentUser, EngineDep, KeyringDep, SessionDep, TemporalDep
from api.errors import ApiError
from core import inbox
from core.users import User
from workflows.contracts.tasks import (
    ACT_SIGNAL,
    VERDICT_QUERY,
    ActionKind,
    TaskAction,
    TaskStatus,
    Verdict,
    VerdictLookup,
)

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

VERDICT_TIMEOUT_S = 15.0

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=100,
        description="Repeat a request with the same key and it is applied once.",
    ),
]


class TaskSummary(BaseModel):
    task_id: str
    process_id: str
    process_type: str
    kind: str
    title: str
    status: str
    outcome: str | None
    candidate_roles: list[str]
    assignee: str | None
    escalation_level: int
    due_at: datetime | None
    created_at: datetime


class TaskDetail(TaskSummary):
    description: str
    context: dict[str, Any]
    requester: str | None
    approval_level: int
    outcomes: list[str]
    form_schema: dict[str, Any] = Field(description="JSON schema of the decision's `data`")
    closed_at: datetime | None
    history: list[dict[str, Any]]


class TaskPage(BaseModel):
    items: list[TaskSummary]
    next_offset: int | None


class DecisionIn(BaseModel):
    outcome: str = Field(min_length=1, max_length=100)
    comment: str = Field("", max_length=5_000)
    data: dict[str, Any] = Field(default_factory=dict)


class ReassignIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=100)


def _summary(task: inbox.HumanTask) -> TaskSummary:
    return TaskSummary.model_validate(task, from_attributes=True)


def _detail(task: inbox.HumanTask) -> TaskDetail:
    form = task.task_form
    return TaskDetail.model_validate(
        {
            **task.model_dump(),
            "outcomes": form.outcomes,
            "form_schema": form.json_schema(),
            "history": task.history,
        }
    )


def _visible_task(session: SessionDep, task_id: str, user: User) -> inbox.HumanTask:
    task = session.get(inbox.HumanTask, task_id)
    if task is None or not inbox.may_see(task, user.name, user.roles):
        raise ApiError(404, "task_not_found", f"no task {task_id!r} in your inbox")
    return task


@router.get("", response_model=TaskPage)
def list_tasks(
    session: SessionDep,
    user: CurrentUser,
    status: TaskStatus | None = TaskStatus.OPEN,
    process_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TaskPage:
    """The caller's inbox: tasks for their roles or assigned to them, oldest first."""
    tasks = inbox.list_tasks(
        session,
        user.name,
        user.roles,
        status=status,
        process_id=process_id,
        limit=limit + 1,
        offset=offset,
    )
    more = len(tasks) > limit
    return TaskPage(
        items=[_summary(task) for task in tasks[:limit]],
        next_offset=offset + limit if more else None,
    )


@router.get("/{task_id}", response_model=TaskDetail)
def get_task(task_id: str, session: SessionDep, user: CurrentUser) -> TaskDetail:
    return _detail(_visible_task(session, task_id, user))


def _check_decision(task: inbox.HumanTask, body: DecisionIn) -> None:
    """The task's own form checks, so bad input never reaches the workflow."""
    problems = task.task_form.problems(body.outcome, body.comment, body.data)
    if problems:
        raise ApiError(
            422,
            "validation_error",
            "; ".join(map(str, problems)),
            [{"field": f"body.{p.field}", "message": p.message} for p in problems],
        )


async def _lookup(handle: WorkflowHandle[Any, Any], action_id: str) -> Verdict | None:
    lookup: VerdictLookup = await handle.query(VERDICT_QUERY, action_id, result_type=VerdictLookup)
    return lookup.verdict


async def _wait_for_verdict(handle: WorkflowHandle[Any, Any], action_id: str) -> Verdict:
    deadline = time.monotonic() + VERDICT_TIMEOUT_S
    while time.monotonic() < deadline:
        if (verdict := await _lookup(handle, action_id)) is not None:
            return verdict
        await asyncio.sleep(0.02)
    raise ApiError(
        504, "not_applied_yet", "the task's workflow has not answered yet; ask again later"
    )


def _reload(engine: EngineDep, task_id: str) -> TaskDetail:
    with Session(engine) as session:
        task = session.get(inbox.HumanTask, task_id)
        assert task is not None
        return _detail(task)


class TaskCall:
    """One action on one task by the caller: loaded, checked visible, then signalled."""

    def __init__(
        self,
        task_id: str,
        session: SessionDep,
        engine: EngineDep,
        temporal: TemporalDep,
        keyring: KeyringDep,
        user: CurrentUser,
        idempotency_key: IdempotencyKey = None,
    ) -> None:
        self.task = _visible_task(session, task_id, user)
        self.session, self.engine, self.temporal, self.user = session, engine, temporal, user
        self.keyring = keyring
        self.idempotency_key = idempotency_key

    async def act(self, kind: ActionKind, **fields: Any) -> TaskDetail:
        task = self.task
        handle: WorkflowHandle[Any, Any] = self.temporal.get_workflow_handle(task.task_id)
        # With an Idempotency-Key, a retried request becomes the same signal, applied once,
        # and a retry after the answer was lost gets that answer again.
        key = self.idempotency_key
        if key:
            digest = hashlib.sha256(key.encode()).hexdigest()[:24]
            action_id = f"{self.user.name[:40]}:{kind.value}:{digest}"
            earlier = await _lookup(handle, action_id)
        else:
            action_id, earlier = str(uuid.uuid4()), None
        if earlier is None:
            if task.status != TaskStatus.OPEN:
                raise ApiError(409, "task_closed", f"the task is {task.status} ({task.outcome})")
            action = self.keyring.sign(
                task.task_id,
                TaskAction(action_id=action_id, kind=kind, user=self.user.name, **fields),
            )
            try:
                await handle.signal(ACT_SIGNAL, action)
                verdict = await _wait_for_verdict(handle, action_id)
            except RPCError as exc:  # the task's workflow has closed meanwhile
                raise ApiError(
                    409, "task_closed", f"the task no longer takes actions: {exc}"
                ) from exc
        else:
            verdict = earlier
        if not verdict.applied:
            code = {403: "forbidden", 409: "conflict", 422: "validation_error"}[verdict.status]
            raise ApiError(verdict.status, code, verdict.reason)
        return await run_in_threadpool(_reload, self.engine, task.task_id)


Call = Annotated[TaskCall, Depends()]


@router.post("/{task_id}/decision", response_model=TaskDetail)
async def decide(body: DecisionIn, call: Call) -> TaskDetail:
    """Decide the task. 200 once applied; 403 not yours to decide; 409 closed; 422 bad input."""
    _check_decision(call.task, body)
    return await call.act(ActionKind.DECIDE, **body.model_dump())


@router.post("/{task_id}/claim", response_model=TaskDetail)
async def claim(call: Call) -> TaskDetail:
    """Become the task's assignee: then only you may decide it."""
    return await call.act(ActionKind.CLAIM)


@router.post("/{task_id}/release", response_model=TaskDetail)
async def release(call: Call) -> TaskDetail:
    """Give a claimed task back to everyone with the candidate roles."""
    return await call.act(ActionKind.RELEASE)


@router.post("/{task_id}/reassign", response_model=TaskDetail)
async def reassign(body: ReassignIn, call: Call) -> TaskDetail:
    """Delegate the task to someone else (the assignee or an admin may)."""
    if call.session.exec(select(User).where(User.name == body.assignee)).first() is None:
        raise ApiError(
            422,
            "validation_error",
            f"assignee: no user {body.assignee!r}",
            [{"field": "body.assignee", "message": "unknown user"}],
        )
    return await call.act(ActionKind.REASSIGN, assignee=body.assignee)
