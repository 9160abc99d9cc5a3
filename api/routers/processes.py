"""Processes: the catalogue, starting one, reading its live state, listing and cancelling.

Process ids are business keys (`order-fulfillment:SO-7F3A9C21D0`); with an Idempotency-Key the
key decides the id, so repeating a start returns the first process.
"""

import base64
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import CurrentUser, SettingsDep, TemporalDep
from api.errors import ApiError
from core import processes
from core.settings import Settings
from workflows.contracts import search_attributes as search
from workflows.contracts.catalogue import PROCESS_TYPES
from workflows.contracts.processes import STATE_QUERY, ProcessState, ProcessStatus
from workflows.contracts.tasks import TASK_WORKFLOW

router = APIRouter(prefix="/v1", tags=["processes"])

_CLOSED_STATUS = {
    WorkflowExecutionStatus.FAILED: ProcessStatus.FAILED,
    WorkflowExecutionStatus.TERMINATED: ProcessStatus.FAILED,
    WorkflowExecutionStatus.TIMED_OUT: ProcessStatus.FAILED,
    WorkflowExecutionStatus.CANCELED: ProcessStatus.CANCELLED,
}


class ProcessTypeOut(BaseModel):
    name: str
    description: str
    roles: list[str]
    input_schema: dict[str, Any]


class Links(BaseModel):
    self: str
    temporal_ui: str


class Started(BaseModel):
    process_id: str
    business_key: str
    status: ProcessStatus
    links: Links


class ProcessOut(ProcessState):
    """The state, with the process's own view (e.g. `order`) at the top level."""

    model_config = ConfigDict(extra="allow")
    data: dict[str, Any] = Field(default_factory=dict, exclude=True)  # shown at the top level
    links: Links


def _out(state: ProcessState, settings: Settings) -> ProcessOut:
    view = state.model_dump(exclude={"data"})
    return ProcessOut(**view, **state.data, links=_links(settings, state.process_id))


class ProcessSummary(BaseModel):
    process_id: str
    process_type: str
    business_key: str
    status: ProcessStatus
    stage: str
    started_at: datetime | None
    closed_at: datetime | None
    links: Links


class ProcessPage(BaseModel):
    items: list[ProcessSummary]
    next_page: str | None


def _links(settings: Settings, process_id: str) -> Links:
    ui = settings.temporal_ui_url.rstrip("/")
    return Links(
        self=f"/v1/processes/{process_id}",
        temporal_ui=f"{ui}/namespaces/{settings.temporal_namespace}/workflows/{process_id}",
    )


@router.get("/process-types", response_model=list[ProcessTypeOut])
async def process_types(_user: CurrentUser) -> list[ProcessTypeOut]:
    return [
        ProcessTypeOut(
            name=ptype.name,
            description=ptype.description,
            roles=[role.value for role in ptype.roles],
            input_schema=ptype.input_model.model_json_schema(),
        )
        for ptype in PROCESS_TYPES.values()
    ]


@router.post(
    "/processes/{process_type}",
    status_code=201,
    response_model=Started,
    responses={200: {"model": Started, "description": "the process this Idempotency-Key started"}},
)
async def start(
    process_type: str,
    body: Annotated[dict[str, Any], Body(description="the process input; see /v1/process-types")],
    temporal: TemporalDep,
    settings: SettingsDep,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> JSONResponse:
    ptype = PROCESS_TYPES.get(process_type)
    if ptype is None:
        raise ApiError(
            404,
            "unknown_process_type",
            f"no process type {process_type!r}",
            {"known": sorted(PROCESS_TYPES)},
        )
    try:
        process_input = ptype.input_model.model_validate(body)
    except ValidationError as exc:
        fields = [
            {"field": ".".join(["body", *(str(p) for p in e["loc"])]), "message": e["msg"]}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        raise ApiError(422, "validation_error", f"invalid input: {summary}", fields) from None
    started_process = await processes.start_process(
        temporal, settings, ptype, process_input, user.name, idempotency_key
    )
    process_id = started_process.process_id
    started = Started(
        process_id=process_id,
        business_key=started_process.business_key,
        status=ProcessStatus.RUNNING,
        links=_links(settings, process_id),
    )
    status_code = 201 if started_process.created else 200
    return JSONResponse(started.model_dump(mode="json"), status_code=status_code)


async def _state(handle: WorkflowHandle[Any, Any]) -> ProcessState:
    try:
        state: ProcessState = await handle.query(STATE_QUERY, result_type=ProcessState)
        description = await handle.describe()
    except WorkflowQueryFailedError as exc:  # a run that is not a process (e.g. a task)
        raise ApiError(404, "process_not_found", f"{handle.id!r} is not a process") from exc
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise ApiError(404, "process_not_found", f"no process {handle.id!r}") from exc
        raise
    closed_as = _CLOSED_STATUS.get(description.status) if description.status else None
    if closed_as and state.status not in (ProcessStatus.CANCELLED, ProcessStatus.REJECTED):
        state.status = closed_as
    return state


@router.get("/processes/{process_id}", response_model=ProcessOut)
async def get_process(
    process_id: str, temporal: TemporalDep, settings: SettingsDep, _user: CurrentUser
) -> ProcessOut:
    """Live state, read from the workflow itself (a query), never from a copy."""
    state = await _state(temporal.get_workflow_handle(process_id))
    return _out(state, settings)


@router.post("/processes/{process_id}/cancel", status_code=202, response_model=ProcessOut)
async def cancel_process(
    process_id: str, temporal: TemporalDep, settings: SettingsDep, _user: CurrentUser
) -> ProcessOut:
    """Asks the process to stop; it undoes what it did (compensation) and ends cancelled."""
    handle = temporal.get_workflow_handle(process_id)
    state = await _state(handle)
    if state.status not in (ProcessStatus.RUNNING, ProcessStatus.WAITING):
        raise ApiError(409, "process_closed", f"the process is already {state.status.value}")
    await handle.cancel()
    return _out(state, settings)


def _status_of(
    execution_status: WorkflowExecutionStatus | None, baton: str | None
) -> ProcessStatus:
    """While a run is open or when it completed, the process says (BatonStatus); a run that
    ended otherwise is what Temporal says."""
    if execution_status in (None, WorkflowExecutionStatus.RUNNING):
        return ProcessStatus(baton) if baton else ProcessStatus.RUNNING
    if execution_status is WorkflowExecutionStatus.COMPLETED:
        return (
            ProcessStatus.REJECTED if baton == ProcessStatus.REJECTED else ProcessStatus.COMPLETED
        )
    return _CLOSED_STATUS.get(execution_status, ProcessStatus.FAILED)


def _baton_status_is(execution_status: str, status: ProcessStatus) -> str:
    return f"ExecutionStatus = '{execution_status}' AND {search.STATUS.name} = '{status.value}'"


_QUERY_STATUS = {
    ProcessStatus.RUNNING: _baton_status_is("Running", ProcessStatus.RUNNING),
    ProcessStatus.WAITING: _baton_status_is("Running", ProcessStatus.WAITING),
    ProcessStatus.COMPLETED: _baton_status_is("Completed", ProcessStatus.COMPLETED),
    ProcessStatus.REJECTED: _baton_status_is("Completed", ProcessStatus.REJECTED),
    ProcessStatus.FAILED: "ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut')",
    ProcessStatus.CANCELLED: "ExecutionStatus = 'Canceled'",
}


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@router.get("/processes", response_model=ProcessPage)
async def list_processes(
    temporal: TemporalDep,
    settings: SettingsDep,
    _user: CurrentUser,
    process_type: str | None = None,
    status: ProcessStatus | None = None,
    business_key: str | None = None,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    next_page: str | None = None,
) -> ProcessPage:
    """Newest first, from Temporal's visibility store (search attributes)."""
    # Human tasks carry the process type too (to be found in the UI); they are not processes.
    clauses = [
        f"{search.PROCESS_TYPE.name} IS NOT NULL",
        f"WorkflowType != {_quoted(TASK_WORKFLOW)}",
    ]
    if process_type:
        clauses.append(f"{search.PROCESS_TYPE.name} = {_quoted(process_type)}")
    if business_key:
        clauses.append(f"{search.BUSINESS_KEY.name} = {_quoted(business_key)}")
    if status:
        clauses.append(_QUERY_STATUS[status])
    token = base64.urlsafe_b64decode(next_page) if next_page else None
    iterator = temporal.list_workflows(
        " AND ".join(clauses), page_size=page_size, next_page_token=token
    )
    await iterator.fetch_next_page()
    items = []
    for execution in iterator.current_page or []:
        attributes = execution.typed_search_attributes
        items.append(
            ProcessSummary(
                process_id=execution.id,
                process_type=attributes.get(search.PROCESS_TYPE) or "",
                business_key=attributes.get(search.BUSINESS_KEY) or "",
                status=_status_of(execution.status, attributes.get(search.STATUS)),
                stage=attributes.get(search.STAGE) or "",
                started_at=execution.start_time,
                closed_at=execution.close_time,
                links=_links(settings, execution.id),
            )
        )
    page_token = iterator.next_page_token
    return ProcessPage(
        items=items,
        next_page=base64.urlsafe_b64encode(page_token).decode() if page_token else None,
    )
