"""The inbox: people list, claim and decide the tasks their roles allow.

Every change is a workflow update to the task's workflow, which checks it again and applies or
refuses it, and answers with its verdict. Tasks outside the caller's roles are 404, so their
content never leaks.
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
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api.authz import authorize, task_subject
from api.deps import (
    CurrentUser,
    EngineDep,
    MetricsDep,
    PathId,
    SignerDep,
    TemporalDep,
    in_session,
    read,
)
from api.errors import ApiError, field_error, responses
from api.temporal import Temporal, is_closed_or_missing
from core import inbox
from core.task_actions import verdict_of
from core.users import User
from workflows.contracts.permissions import Action
from workflows.contracts.priority import Priority
from workflows.contracts.roles import Role
from workflows.contracts.tasks import (
    ACT_UPDATE,
    PREVIEW_QUERY,
    REFUSED_MALFORMED,
    ActionKind,
    DecisionPreview,
    Refusal,
    TaskAction,
    TaskStatus,
    Verdict,
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
    priority: Priority
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
    next_cursor: str | None = Field(description="send it as `cursor` for the next page")


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


def visible_task(engine: Engine, task_id: str, user: User, action: Action) -> inbox.HumanTask:
    """The task, if the caller may do `action` to it; else 404, as if there were none. Blocks
    (a short session of its own): call it in a thread."""
    task = in_session(engine, lambda session: session.get(inbox.HumanTask, task_id))
    missing = ApiError(404, "task_not_found", f"no task {task_id!r} in your inbox")
    if task is None:
        raise missing
    authorize(user, action, task_subject(task), hidden=missing)
    return task


_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"  # no control characters, which no id or type has


@router.get("", response_model=TaskPage, responses=responses(422))
async def list_tasks(
    engine: EngineDep,
    user: CurrentUser,
    status: TaskStatus = TaskStatus.OPEN,
    process_id: Annotated[str | None, Query(max_length=400, pattern=_PRINTABLE)] = None,
    process_type: Annotated[str | None, Query(max_length=100, pattern=_PRINTABLE)] = None,
    escalated: Annotated[bool | None, Query(description="escalated at least once")] = None,
    overdue: Annotated[bool | None, Query(description="due before now")] = None,
    assigned_to_me: bool = False,
    sort: Annotated[
        inbox.TaskSort,
        Query(
            description="created: oldest first; due: soonest due first (none last); "
            "priority: urgent first, then oldest"
        ),
    ] = inbox.TaskSort.CREATED,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> TaskPage:
    """The caller's inbox: tasks for their roles or assigned to them, a page at a time."""
    try:
        after = inbox.read_cursor(cursor, sort) if cursor else None
    except inbox.BadCursor as exc:
        raise field_error(422, "validation_error", "query.cursor", str(exc)) from None
    listing = inbox.Listing(
        status=status,
        process_id=process_id,
        process_type=process_type,
        escalated=escalated,
        overdue=overdue,
        assigned_to_me=assigned_to_me,
        sort=sort,
        after=after,
    )

    def page(session: Session) -> TaskPage:
        # One more than asked: whether there is a next page, without counting.
        tasks = inbox.list_tasks(session, user.name, user.roles, listing, limit=limit + 1)
        more = len(tasks) > limit
        return TaskPage(
            items=[_summary(task) for task in tasks[:limit]],
            next_cursor=inbox.cursor_after(tasks[limit - 1], sort) if more else None,
        )

    return await read(engine, page)


@router.get("/{task_id}", response_model=TaskDetail, responses=responses(404, 422))
def get_task(task_id: PathId, engine: EngineDep, user: CurrentUser) -> TaskDetail:
    return _detail(visible_task(engine, task_id, user, Action.READ_TASK))


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


class _Closed(Exception):
    """The task takes no more actions."""


# Raised afresh each time (a raised exception keeps its traceback, and every request's frames).
class _NotAppliedYet(ApiError):
    def __init__(self) -> None:
        super().__init__(
            504,
            "not_applied_yet",
            "the task's workflow has not answered yet; it may still apply the action: ask again "
            "(with the same Idempotency-Key) later",
        )


class _TaskClosed(ApiError):
    def __init__(self) -> None:
        super().__init__(
            409, "task_closed", "the task no longer takes actions", {"refusal": Refusal.CLOSED}
        )


_REFUSAL_CODES = {403: "forbidden", 409: "conflict", 422: "validation_error"}


def _raise_refusal(verdict: Verdict) -> None:
    """Raises the API's error for a refused verdict (`details.refusal` says why, as a code)."""
    if not verdict.applied:
        code = _REFUSAL_CODES.get(verdict.status, "refused")
        details = {"refusal": verdict.refusal} if verdict.refusal else None
        raise ApiError(verdict.status, code, verdict.reason, details)


async def _send(
    temporal: Temporal, handle: WorkflowHandle[Any, Any], action: TaskAction
) -> Verdict:
    """Sends the action as an update and returns the workflow's verdict. The update's id is the
    action's, so a repeated request joins the first one instead of acting twice."""
    update = handle.execute_update(
        ACT_UPDATE,
        action,
        id=action.action_id,
        result_type=Verdict,
        rpc_timeout=temporal.query_rpc_timeout,
    )
    try:
        return await temporal.answer(update, late=_NotAppliedYet)
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise _NotAppliedYet() from None
    except WorkflowUpdateFailedError as exc:  # the validator refused it: not in history
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == REFUSED_MALFORMED:
            raise ApiError(422, "validation_error", cause.message) from exc
        raise
    except RPCError as exc:
        if is_closed_or_missing(exc):  # the task's run has ended (or never was)
            raise _Closed from exc
        raise


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
        metrics: MetricsDep,
        idempotency_key: IdempotencyKey = None,
    ) -> None:  # FastAPI runs it in a thread: the short lookup blocks no one
        self.task = visible_task(engine, task_id, user, Action.ACT_ON_TASK)
        self.engine, self.temporal, self.user = engine, temporal, user
        self.roles = [Role(role) for role in user.roles]  # as the workflow checks them
        self.signer, self.metrics = signer, metrics
        self.idempotency_key = idempotency_key

    async def act(self, kind: ActionKind, **fields: Any) -> TaskDetail:
        task, temporal = self.task, self.temporal
        handle: WorkflowHandle[Any, Any] = temporal.client.get_workflow_handle(task.task_id)
        action_id = self._action_id(kind)
        try:
            if task.status != TaskStatus.OPEN:
                raise _Closed
            # The one place a TaskAction is built, and signed, before it is sent.
            action = self.signer.sign(
                task.task_id,
                TaskAction(
                    action_id=action_id,
                    kind=kind,
                    user=self.user.name,
                    roles=self.roles,
                    **fields,
                ),
            )
            began = time.perf_counter()
            verdict = await _send(temporal, handle, action)
            if kind is ActionKind.DECIDE:
                self.metrics.decision_seconds.observe(time.perf_counter() - began)
        except _Closed:
            # A retry of the action that closed the task gets that action's verdict again.
            earlier = None
            if self.idempotency_key:
                earlier = await temporal.call(verdict_of(handle, action_id), query=True)
            if earlier is None:
                raise _TaskClosed() from None
            verdict = earlier
        except _NotAppliedYet:
            verdict = await self._unanswered(handle, action_id)
        _raise_refusal(verdict)
        return await read(self.engine, lambda session: _reloaded(session, task.task_id))

    async def preview(self, body: DecisionIn) -> None:
        """Returns when the task's workflow would apply this decision; else raises its refusal.
        Changes nothing (a query), so it needs no signature."""
        task, temporal = self.task, self.temporal
        if task.status != TaskStatus.OPEN:
            raise _TaskClosed()
        action = TaskAction(
            action_id=str(uuid.uuid4()),
            kind=ActionKind.DECIDE,
            user=self.user.name,
            **body.model_dump(),
        )
        handle = temporal.client.get_workflow_handle(task.task_id)
        query = handle.query(
            PREVIEW_QUERY,
            DecisionPreview(action=action, roles=self.roles),
            result_type=Verdict,
            rpc_timeout=temporal.query_rpc_timeout,
        )
        try:
            verdict = await temporal.call(query, query=True)
        except RPCError as exc:
            if is_closed_or_missing(exc):
                raise _TaskClosed() from exc
            raise
        _raise_refusal(verdict)

    async def _unanswered(self, handle: WorkflowHandle[Any, Any], action_id: str) -> Verdict:
        """What became of an action whose update got no answer in time. A task still open may
        apply it yet: still 504. A closed one (the updates still waiting when a decision closes
        the task are aborted) has its verdict, if it applied it, else 409."""
        temporal = self.temporal
        try:
            described = await temporal.call(handle.describe(rpc_timeout=temporal.rpc_timeout))
            if described.status is WorkflowExecutionStatus.RUNNING:
                raise _NotAppliedYet()
            verdict = await temporal.call(verdict_of(handle, action_id), query=True)
        except (ApiError, RPCError):  # Temporal slow, or no worker to read the run: unknown
            raise _NotAppliedYet() from None
        if verdict is None:
            raise _TaskClosed()
        return verdict

    def _action_id(self, kind: ActionKind) -> str:
        """With an Idempotency-Key, a retried request is the same action, applied once; a retry
        after the answer was lost gets that answer again."""
        key = self.idempotency_key
        if not key:
            return str(uuid.uuid4())
        scope = f"{self.task.task_id}\0{self.user.name}\0{kind.value}\0{key}"
        return f"key:{hashlib.sha256(scope.encode()).hexdigest()[:32]}"


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


class BulkDecisionIn(DecisionIn):
    task_ids: list[Annotated[str, Field(min_length=1, max_length=400, pattern=_PRINTABLE)]] = Field(
        min_length=1, max_length=100
    )
    dry_run: bool = Field(
        True, strict=True, description="only say which would be applied, and why not"
    )


class BulkItem(BaseModel):
    task_id: str
    title: str = ""
    process_type: str = ""
    candidate_roles: list[Role] = Field(default_factory=list)
    assignee: str | None = None
    applied: bool = Field(description="applied; in a dry run: would be applied")
    status: int = Field(description="what a decision on this task alone answers(ed)")
    code: str = ""
    refusal: Refusal | None = None
    reason: str = ""


class BulkResult(BaseModel):
    dry_run: bool
    items: list[BulkItem]


# Decisions of a bulk request in flight at once: enough to overlap the workflows' round trips,
# few enough to leave the database pool to everyone else.
_BULK_CONCURRENCY = 4
_ABOUT_TASK = {"title", "process_type", "candidate_roles", "assignee"}


# Its own path: under /v1/tasks it would read as a task id to GET /v1/tasks/{task_id}.
bulk_router = APIRouter(prefix="/v1", tags=["tasks"], responses=responses(401, 429, 500, 503))


@bulk_router.post("/decisions", response_model=BulkResult, responses=responses(413, 422))
async def bulk_decision(
    body: BulkDecisionIn,
    engine: EngineDep,
    temporal: TemporalDep,
    signer: SignerDep,
    user: CurrentUser,
    metrics: MetricsDep,
    idempotency_key: IdempotencyKey = None,
) -> BulkResult:
    """One outcome for many tasks: with `dry_run` (the default) it says which would be applied
    and why each other one would be refused (four-eyes, closed, not yours); without, each is
    decided as its own decision, in the ledger like any other."""
    decision = DecisionIn.model_validate(body.model_dump(include={"outcome", "comment", "data"}))
    gate = asyncio.Semaphore(_BULK_CONCURRENCY)

    async def one(task_id: str) -> BulkItem:
        item = BulkItem(task_id=task_id, applied=False, status=404)
        async with gate:
            try:
                call = await run_in_threadpool(
                    TaskCall, task_id, engine, temporal, signer, user, metrics, idempotency_key
                )
                task = call.task
                item = BulkItem.model_validate(
                    {**item.model_dump(), **task.model_dump(include=_ABOUT_TASK)}
                )
                _check_decision(call.task, decision)
                if body.dry_run:
                    await call.preview(decision)
                else:
                    await call.act(ActionKind.DECIDE, **decision.model_dump())
            except ApiError as exc:
                details = exc.details if isinstance(exc.details, dict) else {}
                refused = {"status": exc.status, "code": exc.code, "reason": exc.message}
                return item.model_copy(update={**refused, "refusal": details.get("refusal")})
        return item.model_copy(update={"applied": True, "status": 200})

    items = await asyncio.gather(*(one(task_id) for task_id in dict.fromkeys(body.task_ids)))
    return BulkResult(dry_run=body.dry_run, items=list(items))
