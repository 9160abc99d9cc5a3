"""Hands a job to a pool of external robots and completes asynchronously (`robots.run_job`).

The activity records a job for its attempt (with the attempt's task token) in Baton's database
and returns at once without a result (`activity.raise_complete_async()`), so it holds no worker
slot while the robot works. Robots poll `GET /v1/robot-jobs?pool=NAME`, take a job, heartbeat it
and complete or fail it through the API, which forwards each call to Temporal with the token.

The calling workflow sets the timeouts that make a vanished robot visible:
- `heartbeat_timeout`: how long a robot may stay silent. When it passes, Temporal times the
  attempt out and retries the activity; the new attempt offers a new job and withdraws the old
  one (abandoned: no longer offered, and a late completion of it is refused with 409). While a
  job waits to be taken, the API heartbeats it whenever a robot polls the pool, so a waiting job
  is only re-offered when nobody polls; robots must poll more often than the heartbeat timeout.
- `start_to_close_timeout`: the most one attempt may take, heartbeats or not.
- `retry_policy` / `schedule_to_close_timeout`: how many robots may try, and for how long.
A robot's non-retryable failure ends the activity with a non-retryable `ApplicationError`.
"""

import asyncio

from sqlalchemy import Engine
from temporalio import activity

from core.robot_jobs import ActivityAttempt, offer_job
from workflows.contracts.robots import RUN_ROBOT_JOB, RobotJobRequest, RobotJobResult


class RobotPoolActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name=RUN_ROBOT_JOB)
    async def run_job(self, request: RobotJobRequest) -> RobotJobResult:
        info = activity.info()
        attempt = ActivityAttempt(
            # A standalone activity (started by a client, not a workflow) has a run id of its own.
            workflow_id=info.workflow_id or "",
            run_id=info.workflow_run_id or info.activity_run_id or "",
            activity_id=info.activity_id,
            attempt=info.attempt,
            task_token=info.task_token,
            heartbeat_timeout=info.heartbeat_timeout,
        )
        job_id = await asyncio.to_thread(offer_job, self._engine, request, attempt)
        activity.logger.info("offered robot job %s to pool %s", job_id, request.pool)
        activity.raise_complete_async()
