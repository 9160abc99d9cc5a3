"""Robot pools: external robots take jobs through the API and complete activities asynchronously.

The ledger rules run on SQLite and PostgreSQL; the rest runs the real stack: the Temporal dev
server, the API over HTTP, and the example robot (`examples/robot.py`) as a subprocess.
"""

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker

from activities.robot_pool import RobotPoolActivities
from api.app import create_app
from core.db import make_engine, prepare_database, session_scope
from core.robot_jobs import (
    ActivityAttempt,
    JobNotFoundError,
    JobNotYoursError,
    JobUnavailableError,
    RobotJob,
    get_job,
    offer_job,
    open_jobs,
    owned_job,
    take_job,
)
from core.settings import Settings
from core.users import DEMO_USERS, add_user
from tests.helpers import serve, wait_for
from workflows.contracts.robots import (
    ROBOT_JOB_FAILED,
    RUN_ROBOT_JOB,
    JobStatus,
    RobotJobRequest,
    RobotJobResult,
)
from workflows.contracts.roles import Role

POOL = "ledger-robots"
HEARTBEAT_TIMEOUT = timedelta(seconds=2)
ROBOT_SCRIPT = Path(__file__).parents[1] / "examples" / "robot.py"


# This module loads I/O libraries the workflow sandbox would re-import; the workflow needs none.
@workflow.defn(sandboxed=False)
class HandToRobots:
    @workflow.run
    async def run(self, request: RobotJobRequest) -> RobotJobResult:
        result: RobotJobResult = await workflow.execute_activity(
            RUN_ROBOT_JOB,
            request,
            result_type=RobotJobResult,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100)),
            summary=request.title,
        )
        return result


# -- the ledger, on both databases ---------------------------------------------------------------


def _attempt(number: int, run_id: str = "run-1") -> ActivityAttempt:
    return ActivityAttempt("wf-1", run_id, "1", number, f"token-{number}".encode(), None)


def test_a_job_is_offered_once_per_attempt_and_a_new_attempt_withdraws_it(engine: Engine) -> None:
    request = RobotJobRequest(pool=POOL, kind="sum", payload={"numbers": [1, 2]})
    first = offer_job(engine, request, _attempt(1))
    assert offer_job(engine, request, _attempt(1)) == first, "a retried insert adds nothing"
    assert _attempt(1, run_id="run-2").job_id != first, "a reset run offers jobs of its own"
    assert [job.id for job in open_jobs(engine, POOL, 10)] == [first]

    take_job(engine, first, "robot-1")
    with pytest.raises(JobUnavailableError):
        take_job(engine, first, "robot-2")
    with pytest.raises(JobNotYoursError):
        owned_job(engine, first, "robot-2")
    assert owned_job(engine, first, "robot-1").payload == {"numbers": [1, 2]}

    second = offer_job(engine, request, _attempt(2))
    assert get_job(engine, first).status == JobStatus.ABANDONED
    assert [job.id for job in open_jobs(engine, POOL, 10)] == [second]
    with pytest.raises(JobUnavailableError):
        owned_job(engine, first, "robot-1")
    with pytest.raises(JobNotFoundError):
        get_job(engine, "no-such-job")


def test_of_robots_racing_for_a_job_exactly_one_gets_it(engine: Engine) -> None:
    job_id = offer_job(engine, RobotJobRequest(pool=POOL, kind="sum"), _attempt(1))

    def take(robot: str) -> bool:
        try:
            take_job(engine, job_id, robot)
        except JobUnavailableError:
            return False
        return True

    robots = [f"robot-{n}" for n in range(8)]
    with ThreadPoolExecutor(len(robots)) as pool:
        won = list(pool.map(take, robots))
    winners = [robot for robot, ok in zip(robots, won, strict=True) if ok]
    assert len(winners) == 1
    assert get_job(engine, job_id).taken_by == winners[0]


# -- the real stack ------------------------------------------------------------------------------


@dataclass
class Stack:
    http: httpx.AsyncClient
    engine: Engine
    client: Client
    task_queue: str
    keys: dict[str, str]
    logs: Path

    async def start(self, request: RobotJobRequest) -> WorkflowHandle[Any, RobotJobResult]:
        return await self.client.start_workflow(
            HandToRobots.run,
            request,
            id=f"robot-pool-{uuid.uuid4().hex[:8]}",
            task_queue=self.task_queue,
        )

    async def jobs(self, workflow_id: str) -> list[RobotJob]:
        """The workflow's jobs, one per activity attempt, first attempt first."""

        def read() -> list[RobotJob]:
            with Session(self.engine) as session:
                query = select(RobotJob).where(col(RobotJob.workflow_id) == workflow_id)
                return list(session.exec(query.order_by(col(RobotJob.attempt))).all())

        return await asyncio.to_thread(read)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[user]}"}

    @asynccontextmanager
    async def robot(self, name: str, *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
        """The example robot as a subprocess; killed on exit if it still runs."""
        argv = ["--api", str(self.http.base_url), "--key", self.keys[name], "--pool", POOL]
        with (self.logs / f"{name}.log").open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *[sys.executable, str(ROBOT_SCRIPT), *argv, "--poll-seconds", "0.1", *args],
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
            try:
                yield process
            finally:
                if process.returncode is None:
                    process.kill()
                await process.wait()

    async def robot_done(self, process: asyncio.subprocess.Process, name: str) -> None:
        code = await asyncio.wait_for(process.wait(), 15)
        assert code == 0, (self.logs / f"{name}.log").read_text()


@pytest.fixture
async def stack(
    settings: Settings, client: Client, task_queue: str, tmp_path: Path
) -> AsyncIterator[Stack]:
    engine = make_engine(settings.resolved_database_url)
    prepare_database(engine, settings)
    keys = {name: key for name, _role, key in DEMO_USERS}
    with session_scope(engine) as session:
        keys |= {name: add_user(session, name, [Role.ROBOT]) for name in ("robot-1", "robot-2")}
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[HandToRobots],
        activities=[RobotPoolActivities(engine).run_job],
    )
    async with (
        serve(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url) as http,
        worker,
    ):
        yield Stack(http, engine, client, task_queue, keys, tmp_path)
    engine.dispose()


async def test_the_example_robot_takes_a_job_and_completes_it(stack: Stack) -> None:
    async with stack.robot("robot-1", "--once", "--work-seconds", "1.5") as robot:
        handle = await stack.start(
            RobotJobRequest(
                pool=POOL,
                kind="uppercase",
                payload={"text": "post the ledger entries"},
                title="Post ledger entries",
            )
        )
        result = await asyncio.wait_for(handle.result(), 20)
        await stack.robot_done(robot, "robot-1")
    assert result == RobotJobResult(output={"text": "POST THE LEDGER ENTRIES"}, robot="robot-1")
    [job] = await stack.jobs(handle.id)
    assert (job.status, job.taken_by) == (JobStatus.COMPLETED, "robot-1")


async def test_a_killed_robots_job_is_offered_again_after_the_heartbeat_timeout(
    stack: Stack,
) -> None:
    request = RobotJobRequest(pool=POOL, kind="sum", payload={"numbers": [1200, 34.5, 5]})
    async with stack.robot("robot-1", "--work-seconds", "600") as doomed:
        handle = await stack.start(request)

        async def taken() -> bool:
            jobs = await stack.jobs(handle.id)
            return bool(jobs) and jobs[0].status == JobStatus.TAKEN

        await wait_for(taken, "robot-1 to take the job")
        doomed.kill()  # mid-job, without a word: only the missing heartbeats tell

    async with stack.robot("robot-2", "--once", "--work-seconds", "0") as rescuer:
        result = await asyncio.wait_for(handle.result(), 20)
        await stack.robot_done(rescuer, "robot-2")
    assert result == RobotJobResult(output={"total": 1239.5}, robot="robot-2")

    first, *_, last = await stack.jobs(handle.id)
    assert (first.attempt, first.status, first.taken_by) == (1, JobStatus.ABANDONED, "robot-1")
    assert (last.status, last.taken_by) == (JobStatus.COMPLETED, "robot-2")
    assert last.attempt > 1

    late = await stack.http.post(
        f"/v1/robot-jobs/{first.id}/complete", json={"output": {}}, headers=stack.auth("robot-1")
    )
    assert late.status_code == 409
    assert late.json()["error"]["details"] == {"status": "abandoned"}


async def test_a_job_the_robot_cannot_do_fails_the_activity_for_good(stack: Stack) -> None:
    async with stack.robot("robot-1", "--once", "--work-seconds", "0") as robot:
        handle = await stack.start(RobotJobRequest(pool=POOL, kind="shred-paper"))
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), 20)
        await stack.robot_done(robot, "robot-1")
    assert isinstance(failed.value.cause, ActivityError)
    error = failed.value.cause.cause
    assert isinstance(error, ApplicationError)
    assert (error.type, error.non_retryable) == (ROBOT_JOB_FAILED, True)
    assert "shred-paper" in error.message
    [job] = await stack.jobs(handle.id)
    assert job.status == JobStatus.FAILED


async def test_a_waiting_job_stays_offered_while_robots_poll(stack: Stack) -> None:
    handle = await stack.start(RobotJobRequest(pool=POOL, kind="sum"))
    offered: set[str] = set()
    # Poll for twice the heartbeat timeout: without the pool's heartbeats the job would time
    # out unattended and come back as a new attempt.
    for _ in range(int(2 * HEARTBEAT_TIMEOUT.total_seconds() / 0.2)):
        listed = await stack.http.get(
            "/v1/robot-jobs", params={"pool": POOL}, headers=stack.auth("robot-1")
        )
        offered |= {job["id"] for job in listed.json()}
        await asyncio.sleep(0.2)
    [job] = await stack.jobs(handle.id)
    assert offered == {job.id}
    assert job.status == JobStatus.OPEN
    await handle.terminate("test over")


async def test_only_robots_work_jobs_and_only_the_taker_finishes_one(stack: Stack) -> None:
    http, jobs_url = stack.http, "/v1/robot-jobs"
    handle = await stack.start(RobotJobRequest(pool=POOL, kind="sum", payload={"numbers": [2]}))

    async def offered() -> bool:
        listed = await http.get(jobs_url, params={"pool": POOL}, headers=stack.auth("robot-1"))
        return bool(listed.json())

    await wait_for(offered, "the job to be offered")
    [job] = await stack.jobs(handle.id)
    url = f"{jobs_url}/{job.id}"

    assert (await http.get(jobs_url, params={"pool": POOL})).status_code == 401
    not_a_robot = await http.get(jobs_url, params={"pool": POOL}, headers=stack.auth("alice"))
    assert not_a_robot.status_code == 403
    assert not_a_robot.json()["error"]["code"] == "forbidden"
    admin = await http.get(url, headers=stack.auth("erin"))
    assert admin.json()["status"] == "open"

    taken = await http.post(f"{url}/take", headers=stack.auth("robot-1"))
    assert taken.status_code == 200
    assert (taken.json()["status"], taken.json()["taken_by"]) == ("taken", "robot-1")
    assert (await http.post(f"{url}/take", headers=stack.auth("robot-2"))).status_code == 409

    for action in ("heartbeat", "complete"):
        other = await http.post(f"{url}/{action}", json={}, headers=stack.auth("robot-2"))
        assert other.status_code == 403, action
    no_message = await http.post(f"{url}/fail", json={}, headers=stack.auth("robot-1"))
    assert no_message.status_code == 422

    beat = await http.post(
        f"{url}/heartbeat", json={"details": {"progress": 0.5}}, headers=stack.auth("robot-1")
    )
    assert beat.status_code == 200
    done = await http.post(
        f"{url}/complete", json={"output": {"total": 2}}, headers=stack.auth("robot-1")
    )
    assert done.json()["status"] == "completed"
    result = await asyncio.wait_for(handle.result(), 10)
    assert result == RobotJobResult(output={"total": 2}, robot="robot-1")
    again = await http.post(f"{url}/complete", json={}, headers=stack.auth("robot-1"))
    assert again.status_code == 409
