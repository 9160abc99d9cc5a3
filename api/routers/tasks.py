"""The inbox: people list, claim and decide the tasks their roles allow.

Every change is a signal to the task's workflow, which checks it again and applies or refuses
it; the API answers once the workflow has done so. Tasks outside the caller's roles are 404, so
their content never leaks.
"""

import hashlib
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from api.authz import authorize, task_subject
from api.deps import CurrentUser, EngineDep, PathId, SignerDep, TemporalDep, in_session, read
from api.errors import ApiError, responses
from api.temporal import Temporal, is_closed_or_missing
from core import inbox
from core.task_actions import NoVerdictYet, wait_for_verdict
from core.users import User
from workflows.contracts.permissions import Action
from workflows.contracts.roles import Role
from workflows.contracts.tasks import (
    ACT_SIGNAL,
    VERDICT_QUERY,
    ActionKind,
    TaskAction,
    TaskStatus,
    Verdict,
    VerdictLookup,
)

router = APIRouter(prefix="/v1/tasks", tags=["tasks"], responses=responses(401, 429, 500, 503))
# What an action on a task may answer besides 200 (504: the workflow has not answered in time).
_ACTION_ERRORS = responses(403, 404, 409, 422, 503, 504)
_ACTION_WITH_BODY_ERRORS = responses(403, 404, 409, 413, 422, 503, 504)


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
    status: TaskStatus
    outcome: str | None
    candidate_roles: list[Role]
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


def _task(engine: Engine, task_id: str, user: User, action: Action) -> inbox.HumanTask:
    """The task, if the caller may do `action` to it; else 404, as if there were none. Blocks
    (a short session of its own): call it in a thread."""
    task = in_session(engine, lambda session: session.get(inbox.HumanTask, task_id))
    missing = ApiError(404, "task_not_found", f"no task {task_id!r} in your inbox")
    if task is None:
        raise missing
    authorize(user, action, task_subject(task), hidden=missing)
    return task


@router.get("", response_model=TaskPage, responses=responses(422))
async def list_tasks(
    engine: EngineDep,
    user: CurrentUser,
    status: TaskStatus | None = TaskStatus.OPEN,
    process_id: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> TaskPage:
    """The caller's inbox: tasks for their roles or assigned to them, oldest first."""

    def page(session: Session) -> TaskPage:
        tasks = inbox.list_tasks(
            session,
            user.name,
            user.roles,
            status=status,
            process_id=process_id,
            limit=limit + 1,
            offset=offset,
        )
        return TaskPage(
            items=[_summary(task) for task in tasks[:limit]],
            next_offset=offset + limit if len(tasks) > limit else None,
        )

    return await read(engine, page)


@router.get("/{task_id}", response_model=TaskDetail, responses=responses(404, 422))
def get_task(task_id: PathId, engine: EngineDep, user: CurrentUser) -> TaskDetail:
    return _detail(_task(engine, task_id, user, Action.READ_TASK))


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


async def _lookup(
    temporal: Temporal, handle: WorkflowHandle[Any, Any], action_id: str, *, first: bool = False
) -> Verdict | None:
    """The verdict on the action, if the workflow has given one. The first call of a request is
    bounded like any call to Temporal's frontend, so an unreachable Temporal is 503 at once."""
    timeout = temporal.rpc_timeout if first else temporal.query_rpc_timeout
    query = handle.query(VERDICT_QUERY, action_id, result_type=VerdictLookup, rpc_timeout=timeout)
    lookup: VerdictLookup = await temporal.call(query, query=not first)
    return lookup.verdict


async def _wait_for_verdict(
    temporal: Temporal, handle: WorkflowHandle[Any, Any], action_id: str
) -> Verdict:
    try:
        return await wait_for_verdict(lambda: _lookup(temporal, handle, action_id))
    except NoVerdictYet:
        raise ApiError(
            504, "not_applied_yet", "the task's workflow has not answered yet; ask again later"
        ) from None


class TaskCall:
    """One action on one task by the caller: loaded, checked visible, then signalled. No
    database session is open while it waits for the workflow's verdict."""

    def __init__(
        self,
        task_id: PathId,
        engine: EngineDep,
        temporal: TemporalDep,
        signer: SignerDep,
        user: CurrentUser,
        idempotency_key: IdempotencyKey = None,
    ) -> None:  # FastAPI runs it in a thread: the short lookup blocks no one
        self.task = _task(engine, task_id, user, Action.ACT_ON_TASK)
        self.engine, self.temporal, self.user = engine, temporal, user
        self.signer = signer
        self.idempotency_key = idempotency_key

    async def act(self, kind: ActionKind, **fields: Any) -> TaskDetail:
        task, temporal = self.task, self.temporal
        handle: WorkflowHandle[Any, Any] = temporal.client.get_workflow_handle(task.task_id)
        closed = ApiError(409, "task_closed", f"the task is {task.status} ({task.outcome})")
        try:
            # With an Idempotency-Key, a retried request becomes the same signal, applied
            # once, and a retry after the answer was lost gets that answer again.
            key = self.idempotency_key
            if key:
                scope = f"{task.task_id}\0{self.user.name}\0{kind.value}\0{key}"
                action_id = f"key:{hashlib.sha256(scope.encode()).hexdigest()[:32]}"
                earlier = await _lookup(temporal, handle, action_id, first=True)
            else:
                action_id, earlier = str(uuid.uuid4()), None
            if earlier is None:
                if task.status != TaskStatus.OPEN:
                    raise closed
                # The one place a TaskAction is built, and signed, before it is signalled.
                action = self.signer.sign(
                    task.task_id,
                    TaskAction(action_id=action_id, kind=kind, user=self.user.name, **fields),
                )
                await temporal.call(
                    handle.signal(ACT_SIGNAL, action, rpc_timeout=temporal.rpc_timeout)
                )
                verdict = await _wait_for_verdict(temporal, handle, action_id)
            else:
                verdict = earlier
        except RPCError as exc:
            if not is_closed_or_missing(exc):
                raise
            # The task's run has ended (or never was): closed, whatever the inbox said.
            raise ApiError(409, "task_closed", "the task no longer takes actions") from exc
        if not verdict.applied:
            codes = {403: "forbidden", 409: "conflict", 422: "validation_error"}
            raise ApiError(verdict.status, codes.get(verdict.status, "refused"), verdict.reason)
        return await read(self.engine, lambda session: _reloaded(session, task.task_id))


def _reloaded(session: Session, task_id: str) -> TaskDetail:
    task = session.get(inbox.HumanTask, task_id)
    assert task is not None
    return _detail(task)


Call = Annotated[TaskCall, Depends()]


@router.post("/{task_id}/decision", response_model=TaskDetail, responses=_ACTION_WITH_BODY_ERRORS)
async def decide(body: DecisionIn, call: Call) -> TaskDetail:
    """Decide the task. 200 once applied; 403 not yours to decide; 409 closed; 422 bad input."""
    _check_decision(call.task, body)
    return await call.act(ActionKind.DECIDE, **body.model_dump())


@router.post("/{task_id}/claim", response_model=TaskDetail, responses=_ACTION_ERRORS)
async def claim(call: Call) -> TaskDetail:
    """Become the task's assignee: then only you may decide it."""
    return await call.act(ActionKind.CLAIM)


@router.post("/{task_id}/release", response_model=TaskDetail, responses=_ACTION_ERRORS)
async def release(call: Call) -> TaskDetail:
    """Give a claimed task back to everyone with the candidate roles."""
    return await call.act(ActionKind.RELEASE)


@router.post("/{task_id}/reassign", response_model=TaskDetail, responses=_ACTION_WITH_BODY_ERRORS)
async def reassign(body: ReassignIn, call: Call) -> TaskDetail:
    """Delegate the task to someone else (the assignee or an admin may)."""

    def known(session: Session) -> bool:
        return session.exec(select(User).where(User.name == body.assignee)).first() is not None

    if not await read(call.engine, known):
        raise ApiError(
            422,
            "validation_error",
            f"assignee: no user {body.assignee!r}",
            [{"field": "body.assignee", "message": "unknown user"}],
        )
    return await call.act(ActionKind.REASSIGN, assignee=body.assignee)
