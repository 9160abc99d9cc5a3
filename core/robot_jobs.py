"""The robot-job ledger: jobs that `robots.run_job` activities offer to external robot pools.

One row is one activity attempt. The activity writes it (with the attempt's task token) and the
API serves it to robots, which move it from open to taken to completed or failed. Temporal stays
the source of truth: the API forwards every heartbeat and outcome to it, and a job Temporal no
longer waits for is marked abandoned.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, Engine, Index, LargeBinary
from sqlmodel import Field, Session, SQLModel, col, select, update

from core.schema import UTCDateTime
from workflows.contracts.robots import JobStatus, RobotJobRequest

_LIVE = (JobStatus.OPEN, JobStatus.TAKEN)
_JOB_IDS = uuid.UUID("5c0e1f1e-7d2a-4a57-9a39-0b8f3c1d2e4a")  # namespace for uuid5 job ids


def _now() -> datetime:
    return datetime.now(UTC)


class RobotJob(SQLModel, table=True):
    __tablename__ = "robot_jobs"
    __table_args__ = (Index("ix_robot_jobs_offered", "pool", "status", "created_at"),)

    id: str = Field(primary_key=True, max_length=36)
    pool: str = Field(max_length=100)
    kind: str = Field(max_length=100)
    title: str = Field(default="", max_length=200)
    summary: str = Field(default="", max_length=2000)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=JobStatus.OPEN.value, max_length=20)

    workflow_id: str = Field(index=True, max_length=1000)
    run_id: str = Field(max_length=100)
    activity_id: str = Field(max_length=1000)
    attempt: int
    task_token: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    heartbeat_timeout_s: float | None = None

    created_at: datetime = Field(default_factory=_now, sa_type=UTCDateTime)
    taken_by: str | None = Field(default=None, max_length=100)
    taken_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    def keepalive_due(self, now: datetime) -> bool:
        """True when an open job should be heartbeaten on behalf of its pool (see the router)."""
        if self.status != JobStatus.OPEN or self.heartbeat_timeout_s is None:
            return False
        last = self.heartbeat_at or self.created_at
        return now - last >= timedelta(seconds=self.heartbeat_timeout_s / 3)


@dataclass(frozen=True)
class ActivityAttempt:
    """The activity attempt a job belongs to."""

    workflow_id: str
    run_id: str
    activity_id: str
    attempt: int
    task_token: bytes
    heartbeat_timeout: timedelta | None

    @property
    def job_id(self) -> str:
        # The run id is part of it: a reset or re-run restarts activity ids at "1".
        key = f"{self.workflow_id}\n{self.run_id}\n{self.activity_id}\n{self.attempt}"
        return str(uuid.uuid5(_JOB_IDS, key))


class JobNotFoundError(LookupError):
    pass


class JobNotYoursError(PermissionError):
    pass


class JobUnavailableError(RuntimeError):
    """The job is not in a state that allows the operation (taken by another, or closed)."""

    def __init__(self, job: RobotJob) -> None:
        super().__init__(f"job {job.id} is {job.status}")
        self.status = job.status


def _session(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)


def offer_job(engine: Engine, request: RobotJobRequest, attempt: ActivityAttempt) -> str:
    """Records the job of `attempt` once and withdraws older attempts' jobs; returns its id."""
    with _session(engine) as session, session.begin():
        session.exec(
            update(RobotJob)
            .where(
                col(RobotJob.workflow_id) == attempt.workflow_id,
                col(RobotJob.run_id) == attempt.run_id,
                col(RobotJob.activity_id) == attempt.activity_id,
                col(RobotJob.attempt) < attempt.attempt,
                col(RobotJob.status).in_(_LIVE),
            )
            .values(status=JobStatus.ABANDONED.value, closed_at=_now())
        )
        if session.get(RobotJob, attempt.job_id) is None:
            timeout = attempt.heartbeat_timeout
            session.add(
                RobotJob(
                    id=attempt.job_id,
                    **request.model_dump(),
                    workflow_id=attempt.workflow_id,
                    run_id=attempt.run_id,
                    activity_id=attempt.activity_id,
                    attempt=attempt.attempt,
                    task_token=attempt.task_token,
                    heartbeat_timeout_s=timeout.total_seconds() if timeout else None,
                )
            )
    return attempt.job_id


def get_job(engine: Engine, job_id: str) -> RobotJob:
    with _session(engine) as session:
        job = session.get(RobotJob, job_id)
    if job is None:
        raise JobNotFoundError(f"no robot job {job_id}")
    return job


def open_jobs(engine: Engine, pool: str, limit: int) -> list[RobotJob]:
    """The pool's open jobs, oldest first."""
    query = (
        select(RobotJob)
        .where(col(RobotJob.pool) == pool, col(RobotJob.status) == JobStatus.OPEN.value)
        .order_by(col(RobotJob.created_at), col(RobotJob.id))
        .limit(limit)
    )
    with _session(engine) as session:
        return list(session.exec(query).all())


def take_job(engine: Engine, job_id: str, robot: str) -> RobotJob:
    """Gives an open job to `robot`; a conditional update, so of rivals exactly one wins."""
    now = _now()
    with _session(engine) as session, session.begin():
        taken = session.exec(
            update(RobotJob)
            .where(col(RobotJob.id) == job_id, col(RobotJob.status) == JobStatus.OPEN.value)
            .values(status=JobStatus.TAKEN.value, taken_by=robot, taken_at=now, heartbeat_at=now)
        ).rowcount
    job = get_job(engine, job_id)
    if not taken:
        raise JobUnavailableError(job)
    return job


def owned_job(engine: Engine, job_id: str, robot: str) -> RobotJob:
    """The job if `robot` took it and still holds it."""
    job = get_job(engine, job_id)
    if job.taken_by != robot:
        raise JobNotYoursError(f"job {job_id} was not taken by {robot}")
    if job.status != JobStatus.TAKEN:
        raise JobUnavailableError(job)
    return job


def close_job(engine: Engine, job_id: str, status: JobStatus) -> RobotJob:
    """Moves a live job to a final status (a job already closed keeps its own); returns it."""
    with _session(engine) as session, session.begin():
        session.exec(
            update(RobotJob)
            .where(col(RobotJob.id) == job_id, col(RobotJob.status).in_(_LIVE))
            .values(status=status.value, closed_at=_now())
        )
    return get_job(engine, job_id)


def record_heartbeat(engine: Engine, job_id: str) -> None:
    with _session(engine) as session, session.begin():
        session.exec(update(RobotJob).where(col(RobotJob.id) == job_id).values(heartbeat_at=_now()))
