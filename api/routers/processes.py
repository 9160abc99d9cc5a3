"""Processes: the catalogue, starting one, reading its live state, listing and cancelling.

Process ids are business keys (`order-fulfillment:SO-7F3A9C21D0`); with an Idempotency-Key the
key decides the id, so repeating a start returns the first process.
"""

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query
from fastapi.responses import JSONResponse
from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio.client import (
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.authz import (
    authorize,
    process_subject,
    quoted,
    readable_processes,
    type_roles,
    with_requester_roles,
)
from api.deps import CurrentUser, EngineDep, MetricsDep, PathId, SettingsDep, TemporalDep
from api.errors import ApiError, field_error, invalid, responses
from api.temporal import Temporal, is_closed_or_missing
from core import processes
from core.metrics import ApiMetrics
from core.settings import Settings
from core.tracing import process_attributes
from core.users import User
from workflows.contracts import search_attributes as search
from workflows.contracts.catalogue import PROCESS_TYPES
from workflows.contracts.permissions import Action, Subject
from workflows.contracts.processes import STATE_QUERY, ProcessState, ProcessStatus
from workflows.contracts.roles import Role
from workflows.contracts.tasks import TASK_WORKFLOW

router = APIRouter(prefix="/v1", tags=["processes"], responses=responses(401, 429, 500, 503))

_OPEN = (ProcessStatus.RUNNING, ProcessStatus.WAITING)

_CLOSED_STATUS = {
    WorkflowExecutionStatus.FAILED: ProcessStatus.FAILED,
    WorkflowExecutionStatus.TERMINATED: ProcessStatus.FAILED,
    WorkflowExecutionStatus.TIMED_OUT: ProcessStatus.FAILED,
    WorkflowExecutionStatus.CANCELED: ProcessStatus.CANCELLED,
}


class ProcessTypeOut(BaseModel):
    name: str
    description: str
    roles: list[Role]
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
    return ProcessOut(**view, **state.data, links=links(settings, state.process_id))


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


def links(settings: Settings, process_id: str) -> Links:
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
            roles=list(ptype.roles),
            input_schema=ptype.input_model.model_json_schema(),
        )
        for ptype in PROCESS_TYPES.values()
    ]


@router.post(
    "/processes/{process_type}",
    status_code=201,
    response_model=Started,
    responses={
        200: {"model": Started, "description": "the process this Idempotency-Key started"},
        **responses(403, 404, 413, 422, 503),
    },
)
async def start(
    process_type: PathId,
    body: Annotated[dict[str, Any], Body(description="the process input; see /v1/process-types")],
    temporal: TemporalDep,
    settings: SettingsDep,
    user: CurrentUser,
    metrics: MetricsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> JSONResponse:
    started_process = await start_as(
        user, process_type, body, temporal, settings, metrics, idempotency_key
    )
    process_id = started_process.process_id
    started = Started(
        process_id=process_id,
        business_key=started_process.business_key,
        status=ProcessStatus.RUNNING,
        links=links(settings, process_id),
    )
    status_code = 201 if started_process.created else 200
    return JSONResponse(started.model_dump(mode="json"), status_code=status_code)


async def start_as(
    user: User,
    process_type: str,
    body: dict[str, Any],
    temporal: Temporal,
    settings: Settings,
    metrics: ApiMetrics,
    idempotency_key: str | None,
) -> processes.StartedProcess:
    """Starts a process of `process_type` for `user` (the API's and the workspace's start):
    checked, validated, started once per Idempotency-Key, counted."""
    ptype = PROCESS_TYPES.get(process_type)
    if ptype is None:
        raise ApiError(
            404,
            "unknown_process_type",
            f"no process type {process_type!r}",
            {"known": sorted(PROCESS_TYPES)},
        )
    authorize(user, Action.START_PROCESS, Subject(type_roles=type_roles(process_type)))
    try:
        process_input = ptype.input_model.model_validate(body)
    except ValidationError as exc:
        raise invalid(exc, "body", "input") from None
    try:
        started_process = await temporal.call(
            processes.start_process(
                temporal.client, settings, ptype, process_input, user.name, idempotency_key
            )
        )
    except processes.IdempotencyKeyReused as exc:
        raise ApiError(
            422,
            "idempotency_key_reused",
            str(exc),
            [{"field": "header.Idempotency-Key", "message": "used before with another body"}],
        ) from None
    trace.get_current_span().set_attributes(process_attributes(started_process.process_id))
    if started_process.created:
        metrics.started.labels(ptype.name).inc()
    return started_process


def _missing(process_id: str) -> ApiError:
    return ApiError(404, "process_not_found", f"no process {process_id!r}")


@dataclass(frozen=True)
class _Process:
    """A process the caller may read: its handle, its description and what authorization needs."""

    handle: WorkflowHandle[Any, Any]
    description: WorkflowExecutionDescription
    subject: Subject


async def _readable(temporal: Temporal, process_id: str, user: User) -> _Process:
    """One describe says whether it is a process, who requested it and its type; a process the
    caller may not read is as missing as one that never was."""
    handle = temporal.client.get_workflow_handle(process_id)
    try:
        description = await temporal.call(handle.describe(rpc_timeout=temporal.rpc_timeout))
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise _missing(process_id) from exc
        raise
    attributes = description.typed_search_attributes
    process_type = attributes.get(search.PROCESS_TYPE)
    if process_type is None or description.workflow_type == TASK_WORKFLOW:
        raise _missing(process_id)  # another kind of run, e.g. a human task
    subject = process_subject(process_type, attributes.get(search.REQUESTED_BY))
    authorize(user, Action.READ_PROCESS, subject, hidden=_missing(process_id))
    return _Process(handle, description, subject)


async def _state(temporal: Temporal, process: _Process) -> ProcessState:
    description = process.description
    state = temporal.states.get(description) or await _queried(temporal, process)
    # A run that failed, timed out or was terminated may not have said so in its own state.
    state.status = _status_of(description.status, state.status)
    return state


async def _queried(temporal: Temporal, process: _Process) -> ProcessState:
    handle = process.handle
    try:
        state: ProcessState = await temporal.call(
            handle.query(
                STATE_QUERY, result_type=ProcessState, rpc_timeout=temporal.query_rpc_timeout
            ),
            query=True,
        )
    except WorkflowQueryFailedError as exc:  # a run that is not a process
        raise _missing(handle.id) from exc
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise _missing(handle.id) from exc
        if exc.status is RPCStatusCode.FAILED_PRECONDITION and "closed before" in exc.message:
            return _described(process)  # it ended before a worker ran it: nothing to ask
        raise
    temporal.states.put(process.description, state)
    return state


def _described(process: _Process) -> ProcessState:
    """The state as Temporal describes the run, for one that has no state to query."""
    attributes = process.description.typed_search_attributes
    return ProcessState(
        process_id=process.handle.id,
        process_type=attributes.get(search.PROCESS_TYPE) or "",
        business_key=attributes.get(search.BUSINESS_KEY) or "",
        status=_status_of(process.description.status, attributes.get(search.STATUS)),
        stage=attributes.get(search.STAGE) or "started",
        reason="it ended before any worker ran it",
    )


@router.get(
    "/processes/{process_id}", response_model=ProcessOut, responses=responses(404, 422, 503)
)
async def get_process(
    process_id: PathId, temporal: TemporalDep, settings: SettingsDep, user: CurrentUser
) -> ProcessOut:
    """Live state, read from the workflow itself (a query; asked again once its history has
    grown, as nothing else changes it)."""
    return _out(await process_state(temporal, process_id, user), settings)


async def process_state(temporal: Temporal, process_id: str, user: User) -> ProcessState:
    """The live state of a process the caller may read; else 404, as if there were none."""
    return await _state(temporal, await _readable(temporal, process_id, user))


@router.post(
    "/processes/{process_id}/cancel",
    status_code=202,
    response_model=ProcessOut,
    responses=responses(403, 404, 409, 422, 503),
)
async def cancel_process(
    process_id: PathId,
    temporal: TemporalDep,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> ProcessOut:
    """Asks the process to stop; it undoes what it did (compensation) and ends cancelled."""
    process = await _readable(temporal, process_id, user)
    authorize(user, Action.CANCEL_PROCESS, await with_requester_roles(engine, process.subject))
    state = await _state(temporal, process)
    closed = ApiError(409, "process_closed", f"the process is already {state.status.value}")
    if state.status not in _OPEN:
        raise closed
    try:
        await temporal.call(process.handle.cancel(rpc_timeout=temporal.rpc_timeout))
    except RPCError as exc:
        if is_closed_or_missing(exc):
            raise closed from exc
        raise
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


# Page tokens carry a checksum of Temporal's token: a token the API never gave is 422 at once
# (Temporal would answer one it cannot read only after the client's retries).
_CHECK = 8


def _page_token(token: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(token).digest()[:_CHECK] + token).decode()


def _temporal_token(next_page: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(next_page.encode("ascii"))
    except (ValueError, binascii.Error):
        raw = b""
    check, token = raw[:_CHECK], raw[_CHECK:]
    if not token or hashlib.sha256(token).digest()[:_CHECK] != check:
        message = "not a page token of this API; send the next_page of the previous page"
        raise field_error(422, "validation_error", "query.next_page", message)
    return token


@router.get("/processes", response_model=ProcessPage, responses=responses(422, 503))
async def list_processes(
    temporal: TemporalDep,
    settings: SettingsDep,
    user: CurrentUser,
    process_type: Annotated[
        str | None, Query(max_length=100, pattern=r"^[a-z0-9][a-z0-9-]*$")
    ] = None,
    status: ProcessStatus | None = None,
    business_key: Annotated[
        str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    next_page: Annotated[str | None, Query(max_length=4000)] = None,
) -> ProcessPage:
    """Newest first, from Temporal's visibility store (search attributes); only the processes
    the caller may read."""
    # Human tasks carry the process type too (to be found in the UI); they are not processes.
    clauses = [
        f"{search.PROCESS_TYPE.name} IS NOT NULL",
        f"WorkflowType != {quoted(TASK_WORKFLOW)}",
    ]
    if (readable := readable_processes(user)) is not None:
        clauses.append(readable)
    if process_type:
        clauses.append(f"{search.PROCESS_TYPE.name} = {quoted(process_type)}")
    if business_key:
        clauses.append(f"{search.BUSINESS_KEY.name} = {quoted(business_key)}")
    if status:
        clauses.append(_QUERY_STATUS[status])
    iterator = temporal.client.list_workflows(
        " AND ".join(clauses),
        page_size=page_size,
        next_page_token=_temporal_token(next_page) if next_page else None,
        rpc_timeout=temporal.rpc_timeout,
    )
    try:
        await temporal.call(iterator.fetch_next_page())
    except RPCError as exc:  # the filters are checked above: only the token can be refused
        if exc.status is not RPCStatusCode.INVALID_ARGUMENT or not next_page:
            raise
        message = f"Temporal refused it: {exc.message}"
        raise field_error(422, "validation_error", "query.next_page", message) from exc
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
                links=links(settings, execution.id),
            )
        )
    page_token = iterator.next_page_token
    return ProcessPage(
        items=items,
        next_page=_page_token(page_token) if page_token else None,
    )
