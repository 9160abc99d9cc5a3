"""/v1/robot-jobs: external robots take, heartbeat and finish the jobs activities offer them.

Only users with the role `robot` (or `admin`) may call it. Heartbeats and outcomes go to
Temporal with the job's task token (async activity completion). When Temporal no longer waits
for a job (timed out, replaced by a newer attempt, cancelled), the job is marked abandoned and
the robot gets 409: its cue to drop the work.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from temporalio.client import AsyncActivityCancelledError, AsyncActivityHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.authz import allowed
from api.deps import EngineDep, PathId, TemporalDep
from api.errors import ApiError, responses
from api.temporal import Temporal
from core.robot_jobs import (
    JobNotFoundError,
    JobNotYoursError,
    JobUnavailableError,
    RobotJob,
    close_job,
    get_job,
    open_jobs,
    owned_job,
    record_heartbeat,
    take_job,
)
from core.users import User
from workflows.contracts.permissions import Action
from workflows.contracts.robots import ROBOT_JOB_FAILED, JobStatus, RobotJobResult

router = APIRouter(
    prefix="/v1/robot-jobs", tags=["robot-jobs"], responses=responses(401, 429, 500, 503)
)

_P = ParamSpec("_P")
_T = TypeVar("_T")
_Call = Callable[[AsyncActivityHandle, timedelta], Awaitable[None]]  # (handle, rpc timeout)
# What a job's actions may answer besides 200 (409: the job is closed, abandoned or taken).
_JOB_ERRORS = responses(403, 404, 409, 422, 503)


class RobotJobView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    pool: str
    kind: str
    title: str
    summary: str
    payload: dict[str, Any]
    status: JobStatus
    attempt: int
    workflow_id: str
    heartbeat_timeout_s: float | None = Field(
        description="heartbeat well within this many seconds, or the job is offered again"
    )
    created_at: datetime
    taken_by: str | None
    taken_at: datetime | None
    closed_at: datetime | None


class HeartbeatBody(BaseModel):
    details: dict[str, Any] | None = Field(None, description="progress; Temporal keeps the last")


class CompleteBody(BaseModel):
    output: dict[str, Any] = Field(default_factory=dict)


class FailBody(BaseModel):
    message: str = Field(min_length=1, max_length=2000)
    retryable: bool = Field(True, description="false ends the activity; no robot tries again")


Robot = Annotated[User, Depends(allowed(Action.WORK_ROBOT_JOBS))]


async def _db(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Runs ledger work off the event loop and turns its errors into API errors."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except JobNotFoundError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except JobNotYoursError as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    except JobUnavailableError as exc:
        raise ApiError(409, "conflict", str(exc), {"status": exc.status}) from None


def _heartbeat(*details: Any) -> _Call:
    return lambda handle, timeout: handle.heartbeat(*details, rpc_timeout=timeout)


async def _forward(temporal: Temporal, engine: Engine, job: RobotJob, call: _Call) -> None:
    """Sends `call` to the job's activity; abandons the job (409) if Temporal stopped waiting."""
    handle = temporal.client.get_async_activity_handle(task_token=job.task_token)
    try:
        await temporal.call(call(handle, temporal.rpc_timeout))
        return
    except AsyncActivityCancelledError as exc:
        if exc.details and exc.details.cancel_requested:
            # The workflow asked to cancel; acknowledging ends the attempt now, not at a timeout.
            with contextlib.suppress(RPCError, ApiError):
                cancelled = handle.report_cancellation(rpc_timeout=temporal.rpc_timeout)
                await temporal.call(cancelled)
        reason = "the activity was cancelled, paused or reset"
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise ApiError(503, "temporal_unavailable", f"Temporal: {exc.message}") from exc
        reason = "the activity timed out or a newer attempt replaced it"
    await _db(close_job, engine, job.id, JobStatus.ABANDONED)
    raise ApiError(409, "job_abandoned", f"job {job.id} is abandoned: {reason}")


async def _still_offered(temporal: Temporal, engine: Engine, job: RobotJob) -> bool:
    """Heartbeats an open job on behalf of its pool: while robots poll, a waiting job does not
    time out. False when Temporal no longer waits for it."""
    try:
        await _forward(temporal, engine, job, _heartbeat())
    except ApiError as exc:
        return exc.status != 409  # Temporal unreachable: keep it listed, `take` will tell
    await _db(record_heartbeat, engine, job.id)
    return True


@router.get("", response_model=list[RobotJobView], responses=responses(403, 422))
async def list_open_jobs(
    _robot: Robot,
    temporal: TemporalDep,
    engine: EngineDep,
    pool: Annotated[str, Query(min_length=1, max_length=100)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[RobotJobView]:
    """The pool's open jobs, oldest first."""
    jobs = await _db(open_jobs, engine, pool, limit)
    now = datetime.now(UTC)
    due = [job for job in jobs if job.keepalive_due(now)]
    offered = await asyncio.gather(*(_still_offered(temporal, engine, job) for job in due))
    gone = {job.id for job, ok in zip(due, offered, strict=True) if not ok}
    return [RobotJobView.model_validate(job) for job in jobs if job.id not in gone]


@router.get("/{job_id}", response_model=RobotJobView, responses=responses(403, 404, 422))
async def read_job(job_id: PathId, _robot: Robot, engine: EngineDep) -> RobotJobView:
    return RobotJobView.model_validate(await _db(get_job, engine, job_id))


@router.post("/{job_id}/take", response_model=RobotJobView, responses=_JOB_ERRORS)
async def take(
    job_id: PathId, robot: Robot, temporal: TemporalDep, engine: EngineDep
) -> RobotJobView:
    """Gives the job to the caller; 409 when another robot was faster or the job is closed."""
    job = await _db(take_job, engine, job_id, robot.name)
    # Renews the heartbeat and proves Temporal still waits, so no robot starts on dead work.
    await _forward(temporal, engine, job, _heartbeat())
    return RobotJobView.model_validate(job)


@router.post(
    "/{job_id}/heartbeat", response_model=RobotJobView, responses={**_JOB_ERRORS, **responses(413)}
)
async def heartbeat(
    job_id: PathId,
    robot: Robot,
    temporal: TemporalDep,
    engine: EngineDep,
    body: HeartbeatBody | None = None,
) -> RobotJobView:
    """Tells Temporal the robot still works on the job; 409 means: stop, the job is gone."""
    job = await _db(owned_job, engine, job_id, robot.name)
    details = () if body is None or body.details is None else (body.details,)
    await _forward(temporal, engine, job, _heartbeat(*details))
    await _db(record_heartbeat, engine, job.id)
    return RobotJobView.model_validate(job)


@router.post(
    "/{job_id}/complete", response_model=RobotJobView, responses={**_JOB_ERRORS, **responses(413)}
)
async def complete(
    job_id: PathId, body: CompleteBody, robot: Robot, temporal: TemporalDep, engine: EngineDep
) -> RobotJobView:
    """Completes the activity with the robot's output."""
    job = await _db(owned_job, engine, job_id, robot.name)
    result = RobotJobResult(output=body.output, robot=robot.name)
    await _forward(temporal, engine, job, lambda h, t: h.complete(result, rpc_timeout=t))
    return RobotJobView.model_validate(await _db(close_job, engine, job.id, JobStatus.COMPLETED))


@router.post(
    "/{job_id}/fail", response_model=RobotJobView, responses={**_JOB_ERRORS, **responses(413)}
)
async def fail(
    job_id: PathId, body: FailBody, robot: Robot, temporal: TemporalDep, engine: EngineDep
) -> RobotJobView:
    """Fails the attempt; Temporal retries it (a new job) unless `retryable` is false."""
    job = await _db(owned_job, engine, job_id, robot.name)
    error = ApplicationError(
        body.message,
        {"robot": robot.name, "job_id": job.id},
        type=ROBOT_JOB_FAILED,
        non_retryable=not body.retryable,
    )
    await _forward(temporal, engine, job, lambda h, t: h.fail(error, rpc_timeout=t))
    return RobotJobView.model_validate(await _db(close_job, engine, job.id, JobStatus.FAILED))
