"""Processes: a list with filters, a page per process (its timeline, open tasks, ledger and a
link to the run in the Temporal UI), cancelling one, and starting one from a form generated
from its input schema. Each goes through the functions behind `/v1/processes`."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.authz import process_subject, type_roles, with_requester_roles
from api.deps import EngineDep, MetricsDep, PathId, SettingsDep, TemporalDep, read
from api.errors import ApiError
from api.routers import processes as processes_api
from api.workspace.forms import parse, problems_by_input, refilled, schema_inputs
from api.workspace.pages import PREFIX, CheckedForm, PageRoute, Person, field_value, render
from core import ledger
from core.web_sessions import SignedIn
from workflows.contracts.catalogue import PROCESS_TYPES
from workflows.contracts.permissions import Action, Subject, permits
from workflows.contracts.processes import ProcessStatus, ProcessType

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)

_OPEN = (ProcessStatus.RUNNING, ProcessStatus.WAITING)


@router.get("/processes")
async def processes_page(
    request: Request,
    person: Person,
    temporal: TemporalDep,
    settings: SettingsDep,
    process_type: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    business_key: Annotated[str | None, Query(max_length=200)] = None,
    next_page: Annotated[str | None, Query(max_length=4000)] = None,
) -> Response:
    chosen_status = {s.value: s for s in ProcessStatus}.get(status or "")
    page = await processes_api.list_processes(
        temporal,
        settings,
        person.user,
        process_type=process_type or None,
        status=chosen_status,
        business_key=business_key.strip() if business_key and business_key.strip() else None,
        page_size=25,
        next_page=next_page,
    )
    filters = {
        "process_type": process_type or "",
        "status": chosen_status.value if chosen_status else "",
        "business_key": business_key or "",
    }
    return render(
        request,
        "processes.html",
        {
            "title": "Processes",
            "page": page,
            "filters": filters,
            "statuses": [s.value for s in ProcessStatus],
            "process_types": sorted(PROCESS_TYPES),
            "startable": _startable(person),
        },
    )


@router.get("/processes/{process_id}")
async def process_page(
    request: Request,
    process_id: PathId,
    person: Person,
    engine: EngineDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> Response:
    state = await processes_api.process_state(temporal, process_id, person.user)
    entries = await read(engine, lambda session: ledger.for_process(session, process_id))
    subject = await with_requester_roles(
        engine, process_subject(state.process_type, state.requested_by or None)
    )
    user = person.user
    may_cancel = state.status in _OPEN and permits(
        Action.CANCEL_PROCESS, user.name, user.roles, subject
    )
    return render(
        request,
        "process.html",
        {
            "title": f"{state.business_key} · {state.process_type}",
            "state": state,
            "entries": entries,
            "links": processes_api.links(settings, process_id),
            "may_cancel": may_cancel,
            "started": request.query_params.get("started") == "1",
            "cancelled": request.query_params.get("cancelled") == "1",
        },
    )


@router.post("/processes/{process_id}/cancel")
async def cancel(
    process_id: PathId,
    person: Person,
    _form: CheckedForm,
    engine: EngineDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> Response:
    await processes_api.cancel_process(process_id, temporal, engine, settings, person.user)
    return RedirectResponse(f"{PREFIX}/processes/{process_id}?cancelled=1", status_code=303)


# -- starting one -----------------------------------------------------------------------------


def _startable(person: SignedIn) -> list[ProcessType]:
    user = person.user
    return [
        ptype
        for name, ptype in PROCESS_TYPES.items()
        if permits(
            Action.START_PROCESS, user.name, user.roles, Subject(type_roles=type_roles(name))
        )
    ]


def _start_type(person: SignedIn, name: str) -> ProcessType:
    for ptype in _startable(person):
        if ptype.name == name:
            return ptype
    raise ApiError(404, "unknown_process_type", f"There is no process {name!r} you may start.")


def _start_page(
    request: Request,
    ptype: ProcessType,
    *,
    status: int = 200,
    error: str = "",
    problems: dict[str, str] | None = None,
    sent: dict[str, Any] | None = None,
) -> Response:
    inputs = schema_inputs(ptype.input_model.model_json_schema())
    return render(
        request,
        "start.html",
        {
            "title": f"Start {ptype.noun}",
            "ptype": ptype,
            "inputs": refilled(inputs, sent or {}),
            "error": error,
            "problems": problems or {},
            "action_key": uuid.uuid4().hex,
        },
        status=status,
    )


@router.get("/start/{process_type}")
def start_form(request: Request, process_type: PathId, person: Person) -> Response:
    return _start_page(request, _start_type(person, process_type))


@router.post("/start/{process_type}")
async def start(
    request: Request,
    process_type: PathId,
    person: Person,
    form: CheckedForm,
    temporal: TemporalDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> Response:
    """Starts the process from the form; a refused input shows every problem by its field."""
    ptype = _start_type(person, process_type)
    parsed = parse(schema_inputs(ptype.input_model.model_json_schema()), form)
    problem = "Some fields need another look; nothing was started."
    if parsed.problems:
        return _start_page(
            request, ptype, status=422, error=problem, problems=parsed.problems, sent=parsed.sent
        )
    try:
        started = await processes_api.start_as(
            person.user,
            ptype.name,
            parsed.values,
            temporal,
            settings,
            metrics,
            field_value(form, "action_key") or None,
        )
    except ApiError as exc:
        problems = problems_by_input(exc.details, "body.")
        whole = problems.pop("", None)
        if exc.status != 422:
            problem = exc.message
        elif whole or not problems:
            problem = f"{problem} {whole or exc.message}"
        return _start_page(
            request, ptype, status=exc.status, error=problem, problems=problems, sent=parsed.sent
        )
    return RedirectResponse(f"{PREFIX}/processes/{started.process_id}?started=1", status_code=303)
