"""An example external robot: it polls a Baton robot pool, takes jobs, heartbeats while it works,
and completes or fails them. Only httpx is needed, so it runs on any machine that reaches the API.

    python examples/robot.py --api http://127.0.0.1:8000 --key KEY --pool ledger-robots

The key belongs to a user with the role `robot` (`baton users add NAME --role robot`).
It knows two kinds of job:
- `uppercase`: payload {"text": "..."} -> output {"text": "..."} in capitals;
- `sum`:       payload {"numbers": [...]} -> output {"total": ...}.
Any other kind, or a payload it cannot read, is failed as not retryable. A 409 from the API means
the job is no longer this robot's (another robot was faster, or it timed out): it drops it.
"""

import argparse
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

log = logging.getLogger("robot")

Job = dict[str, Any]
Skill = Callable[[dict[str, Any]], dict[str, Any]]


class JobRejectedError(ValueError):
    """The robot cannot do this job; trying it again would not help."""


def uppercase(payload: dict[str, Any]) -> dict[str, Any]:
    text = payload.get("text")
    if not isinstance(text, str):
        raise JobRejectedError("payload.text must be a string")
    return {"text": text.upper()}


def total(payload: dict[str, Any]) -> dict[str, Any]:
    numbers = payload.get("numbers")
    if not isinstance(numbers, list) or not all(isinstance(n, int | float) for n in numbers):
        raise JobRejectedError("payload.numbers must be a list of numbers")
    return {"total": sum(numbers)}


SKILLS: dict[str, Skill] = {"uppercase": uppercase, "sum": total}


class Robot:
    def __init__(self, api: httpx.Client, pool: str, work_seconds: float) -> None:
        self.api, self.pool, self.work_seconds = api, pool, work_seconds

    def take_next(self) -> Job | None:
        """Takes the oldest open job another robot does not get first."""
        listed = self.api.get("/v1/robot-jobs", params={"pool": self.pool})
        listed.raise_for_status()
        for job in listed.json():
            taken = self.api.post(f"/v1/robot-jobs/{job['id']}/take")
            if taken.status_code == 409:
                continue  # another robot was faster
            taken.raise_for_status()
            result: Job = taken.json()
            log.info("took job %s (%s): %s", result["id"], result["kind"], result["title"])
            return result
        return None

    def work(self, job: Job) -> None:
        """'Works' for --work-seconds while heartbeating, then completes or fails the job."""
        interval = min(1.0, (job["heartbeat_timeout_s"] or 3.0) / 3)
        deadline = time.monotonic() + self.work_seconds
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(interval, left))
            progress = 1 - max(deadline - time.monotonic(), 0) / self.work_seconds
            if not self._post(job, "heartbeat", {"details": {"progress": round(progress, 2)}}):
                return
        skill = SKILLS.get(job["kind"])
        try:
            if skill is None:
                raise JobRejectedError(f"this robot cannot do jobs of kind {job['kind']!r}")
            output = skill(job["payload"])
        except JobRejectedError as exc:
            if self._post(job, "fail", {"message": str(exc), "retryable": False}):
                log.info("failed job %s: %s", job["id"], exc)
            return
        if self._post(job, "complete", {"output": output}):
            log.info("completed job %s: %s", job["id"], output)

    def _post(self, job: Job, action: str, body: dict[str, Any]) -> bool:
        """False when the job is no longer ours (409): the robot drops it."""
        response = self.api.post(f"/v1/robot-jobs/{job['id']}/{action}", json=body)
        if response.status_code == 409:
            log.warning("dropped job %s: %s", job["id"], response.json()["error"]["message"])
            return False
        response.raise_for_status()
        return True


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="Baton API base URL")
    parser.add_argument("--key", required=True, help="API key of a user with the role 'robot'")
    parser.add_argument("--pool", required=True, help="the robot pool to serve")
    parser.add_argument("--work-seconds", type=float, default=3.0, help="time each job takes")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="pause between polls")
    parser.add_argument("--once", action="store_true", help="exit after one job")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s robot: %(message)s")
    headers = {"Authorization": f"Bearer {args.key}"}
    with httpx.Client(base_url=args.api, headers=headers, timeout=10) as api:
        robot = Robot(api, args.pool, args.work_seconds)
        log.info("serving pool %s at %s", args.pool, args.api)
        while True:
            try:
                job = robot.take_next()
                if job is not None:
                    robot.work(job)
                    if args.once:
                        return 0
                    continue
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code in {401, 403}:
                    log.error("the API refuses this key: %s", exc.response.text)
                    return 2
                log.warning("API error, retrying: %s", exc)
            except httpx.TransportError as exc:
                # The API may be restarting; a job left half done is offered again by Temporal.
                log.warning("API unreachable, retrying: %s", exc)
            time.sleep(args.poll_seconds)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
