"""The inbox, a task's page and bulk decisions: what approvers, clerks and reps work in.

Every read and every action goes through the same functions as `/v1/tasks`, so a page shows
and refuses exactly what the API would; a refusal is shown as a sentence on the page.
"""

import contextlib
import uuid
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlmodel import Session, col, select

from api.deps import EngineDep, MetricsDep, PathId, SignerDep, TemporalDep, read
from api.errors import ApiError, invalid
from api.routers import tasks as tasks_api
from api.routers.processes import process_state
from api.workspace.forms import Input, parse, problems_by_input, refilled, task_inputs
from api.workspace.pages import PREFIX, CheckedForm, PageRoute, Person, field_value, render
from api.workspace.sentences import About, explain, explain_item, role_names
from core import inbox
from core.web_sessions import SignedIn
from workflows.contracts.catalogue import PROCESS_TYPES
from workflows.contracts.permissions import Action
from workflows.contracts.tasks import ActionKind, TaskStatus

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)
Body = TypeVar("Body", bound=BaseModel)

PAGE_SIZE = 50
_NEEDS_A_LOOK = "Some fields need another look; nothing was decided."
_SORTS = {
    inbox.TaskSort.DUE: "Due soonest",
    inbox.TaskSort.PRIORITY: "Most urgent",
    inbox.TaskSort.CREATED: "Oldest first",
}


@router.get("")
def home() -> Response:
    return RedirectResponse(f"{PREFIX}/inbox", status_code=303)


def _outcomes_of(session: Session, task_ids: list[str]) -> list[str]:
    """Every outcome the listed tasks' forms offer, approve first: the bulk choices."""
    if not task_ids:
        return []
    forms = session.exec(
        select(inbox.HumanTask.form).where(col(inbox.HumanTask.task_id).in_(task_ids))
    ).all()
    found = dict.fromkeys(o for form in forms for o in form.get("outcomes", ["approve", "reject"]))
    return sorted(found, key=lambda outcome: (outcome != "approve", outcome != "reject", outcome))


@router.get("/inbox")
async def inbox_page(
    request: Request,
    person: Person,
    engine: EngineDep,
    process_type: Annotated[str | None, Query(max_length=100)] = None,
    escalated: bool = False,
    overdue: bool = False,
    mine: bool = False,
    sort: inbox.TaskSort = inbox.TaskSort.DUE,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    user = person.user
    page = await tasks_api.list_tasks(
        engine,
        user,
        status=TaskStatus.OPEN,
        process_id=None,
        process_type=process_type or None,
        escalated=True if escalated else None,
        overdue=True if overdue else None,
        assigned_to_me=mine,
        sort=sort,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    ids = [task.task_id for task in page.items]

    def counts_and_outcomes(session: Session) -> tuple[inbox.InboxCounts, list[str]]:
        return inbox.count_open(session, user.name, user.roles), _outcomes_of(session, ids)

    counts, outcomes = await read(engine, counts_and_outcomes)
    filters = {
        "process_type": process_type or "",
        "escalated": escalated,
        "overdue": overdue,
        "mine": mine,
        "sort": sort.value,
    }
    return render(
        request,
        "inbox.html",
        {
            "title": "Inbox",
            "page": page,
            "counts": counts,
            "filters": filters,
            "sorts": _SORTS,
            "process_types": sorted(PROCESS_TYPES),
            "outcomes": outcomes,
            "role_names": role_names,
        },
    )


# -- one task ---------------------------------------------------------------------------------


async def _task_page(
    request: Request,
    person: SignedIn,
    engine: EngineDep,
    temporal: TemporalDep,
    task_id: str,
    *,
    status: int = 200,
    error: str = "",
    problems: dict[str, str] | None = None,
    sent: dict[str, Any] | None = None,
) -> Response:
    try:
        task = await run_in_threadpool(
            tasks_api.visible_task, engine, task_id, person.user, Action.READ_TASK
        )
    except ApiError as exc:
        raise ApiError(exc.status, exc.code, explain(exc, About())) from None
    inputs: list[Input] = task_inputs(task.task_form)
    if sent:
        inputs = refilled(inputs, sent)
    process = None
    # The process's own view (the order, the invoice) is context for the decision; without it
    # (not readable by this person, or unreachable) the task's own context remains.
    with contextlib.suppress(ApiError):
        process = await process_state(temporal, task.process_id, person.user)
    done = request.query_params.get("done", "")
    return render(
        request,
        "task.html",
        {
            "title": task.title,
            "task": task,
            "inputs": inputs,
            "process": process,
            # The process's own view, unless the task's context already holds it (approvals).
            "process_view": process.data
            if process and not set(process.data) <= set(task.context)
            else {},
            "error": error,
            "problems": problems or {},
            "sent": sent or {},
            "done": done,
            "action_key": uuid.uuid4().hex,  # the form's Idempotency-Key: a resubmit joins it
            "mine": task.assignee == person.user.name,
            "role_names": role_names,
        },
        status=status,
    )


@router.get("/tasks/{task_id}")
async def task_page(
    request: Request, task_id: PathId, person: Person, engine: EngineDep, temporal: TemporalDep
) -> Response:
    return await _task_page(request, person, engine, temporal, task_id)


def _about(call: tasks_api.TaskCall | None, outcome: str = "") -> About:
    if call is None:
        return About(outcome=outcome)
    task = call.task
    return About(
        process_type=task.process_type,
        candidate_roles=tuple(task.candidate_roles),
        assignee=task.assignee,
        outcome=outcome,
    )


def _valid(model: type[Body], **fields: Any) -> Body:
    """The API's request body from a form's fields; a field the model refuses is a 422 by
    that field, as the API would answer."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise invalid(exc, "body", "form") from None


@router.post("/tasks/{task_id}/{action}")
async def act_on_task(
    request: Request,
    task_id: PathId,
    action: ActionKind,
    person: Person,
    form: CheckedForm,
    engine: EngineDep,
    temporal: TemporalDep,
    signer: SignerDep,
    metrics: MetricsDep,
) -> Response:
    """Decide, claim, release or reassign from the task's page; a refusal shows on the page,
    with what was typed kept as it was."""
    key = field_value(form, "action_key") or None
    outcome = field_value(form, "outcome")
    call: tasks_api.TaskCall | None = None
    parsed = None
    try:
        call = await run_in_threadpool(
            tasks_api.TaskCall, task_id, engine, temporal, signer, person.user, metrics, key
        )
        if action is ActionKind.DECIDE:
            parsed = parse(task_inputs(call.task.task_form), form)
            if parsed.problems:
                return await _task_page(
                    request,
                    person,
                    engine,
                    temporal,
                    task_id,
                    status=422,
                    error=_NEEDS_A_LOOK,
                    problems={f"data.{k}": v for k, v in parsed.problems.items()},
                    sent=parsed.sent,
                )
            body = _valid(
                tasks_api.DecisionIn,
                outcome=outcome,
                comment=field_value(form, "comment"),
                data=parsed.values,
            )
            await tasks_api.decide(body, call)
        elif action is ActionKind.REASSIGN:
            assignee = field_value(form, "assignee")
            if not assignee:
                message = "choose the person to hand the task to"
                raise ApiError(
                    422,
                    "validation_error",
                    f"Assignee: {message}.",
                    [{"field": "body.assignee", "message": message}],
                )
            await tasks_api.reassign(_valid(tasks_api.ReassignIn, assignee=assignee), call)
        else:
            await call.act(action)
    except ApiError as exc:
        return await _task_page(
            request,
            person,
            engine,
            temporal,
            task_id,
            status=exc.status,
            error=_NEEDS_A_LOOK
            if isinstance(exc.details, list)
            else explain(exc, _about(call, outcome)),
            problems=problems_by_input(exc.details, "body."),
            sent={**(parsed.sent if parsed else {}), "comment": field_value(form, "comment")},
        )
    done = outcome if action is ActionKind.DECIDE else action.value
    return RedirectResponse(f"{PREFIX}/tasks/{task_id}?done={done}", status_code=303)


# -- bulk -------------------------------------------------------------------------------------


@router.post("/bulk")
async def bulk(
    request: Request,
    person: Person,
    form: CheckedForm,
    engine: EngineDep,
    temporal: TemporalDep,
    signer: SignerDep,
    metrics: MetricsDep,
) -> Response:
    """A dry run first (`step=preview`): which tasks the outcome would be applied to and why
    each other would be refused; then `step=apply` decides each of them on its own."""
    task_ids = [value for value in form.getlist("task_id") if isinstance(value, str)]
    outcome, comment = field_value(form, "outcome"), field_value(form, "comment")
    dry_run = field_value(form, "step") != "apply"
    if not task_ids:
        raise ApiError(422, "validation_error", "Select at least one task first.")
    body = _valid(
        tasks_api.BulkDecisionIn,
        task_ids=task_ids,
        outcome=outcome,
        comment=comment,
        dry_run=dry_run,
    )
    key = field_value(form, "action_key") or None
    result = await tasks_api.bulk_decision(
        body, engine, temporal, signer, person.user, metrics, key
    )

    def sentence(item: tasks_api.BulkItem) -> str:
        if item.applied:
            return ""
        about = About(item.process_type, tuple(item.candidate_roles), item.assignee, outcome)
        return explain_item(item.status, item.refusal, item.reason, about)

    rows = [{"item": item, "sentence": sentence(item)} for item in result.items]
    return render(
        request,
        "bulk.html",
        {
            "title": "Dry run" if dry_run else "Bulk decision",
            "rows": rows,
            "dry_run": dry_run,
            "outcome": outcome,
            "comment": comment,
            "applicable": [item.task_id for item in result.items if item.applied],
            "action_key": uuid.uuid4().hex,
        },
    )
