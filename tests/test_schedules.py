"""Schedules start processes again and again: created, fired, listed, triggered and deleted
through the API, on a real Temporal server; each test's schedule ids are its own."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from baton.cli import app
from tests.helpers import CAROL, ERIN, Stack, keep_history, until, wait_for
from workflows.contracts.payables import PAYABLES_REVIEW

NOTHING_DUE = {"as_of": "1990-01-01"}  # a review that finds nothing and completes at once


@pytest.fixture
async def schedule_id(stack: Stack, task_queue: str) -> AsyncIterator[str]:
    """A schedule id of the test's own, deleted afterwards whatever happened."""
    name = f"review-{task_queue}"
    yield name
    await stack.api.delete(f"/v1/schedules/{name}", headers=stack.as_user(ERIN))


def _body(schedule_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "schedule_id": schedule_id,
        "process_type": PAYABLES_REVIEW.name,
        "input": NOTHING_DUE,
        "every": 2,
        "note": "every two seconds, for the test",
        **changes,
    }


async def _schedule(stack: Stack, schedule_id: str) -> dict[str, Any]:
    found = await stack.api.get(f"/v1/schedules/{schedule_id}", headers=stack.as_user(ERIN))
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


async def test_a_schedule_fires_until_it_is_deleted(stack: Stack, schedule_id: str) -> None:
    admin = stack.as_user(ERIN)
    created = await stack.api.post("/v1/schedules", json=_body(schedule_id), headers=admin)
    assert created.status_code == 201, created.text
    shown = created.json()
    assert shown["every"] == "PT2S"
    assert shown["created_by"] == "erin"
    assert len(shown["next_runs"]) >= 1

    async def two_runs() -> list[str] | None:
        runs = [run["process_id"] for run in (await _schedule(stack, schedule_id))["recent_runs"]]
        return runs if len(runs) >= 2 else None

    runs = await wait_for(two_runs, f"{schedule_id} to fire twice")
    prefix = f"{PAYABLES_REVIEW.name}:{PAYABLES_REVIEW.key_prefix}-{schedule_id}-"
    assert all(run.startswith(prefix) for run in runs), runs
    assert len(set(runs)) == len(runs)
    # Each run is an ordinary process: its business key is its own, its requester the admin.
    done = await until(stack, runs[0], "completed")
    assert done["business_key"] == runs[0].removeprefix(f"{PAYABLES_REVIEW.name}:")
    assert done["requested_by"] == "erin"
    assert done["result"]["outcome"] == "nothing overdue"
    await keep_history(stack, runs[0], "payables-scheduled")

    listed = await stack.api.get("/v1/schedules", headers=admin)
    assert schedule_id in [item["schedule_id"] for item in listed.json()]

    deleted = await stack.api.delete(f"/v1/schedules/{schedule_id}", headers=admin)
    assert deleted.status_code == 204, deleted.text
    gone = await stack.api.get(f"/v1/schedules/{schedule_id}", headers=admin)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "schedule_not_found"
    again = await stack.api.delete(f"/v1/schedules/{schedule_id}", headers=admin)
    assert again.status_code == 404


async def test_a_paused_schedule_runs_only_when_triggered(stack: Stack, schedule_id: str) -> None:
    admin = stack.as_user(ERIN)
    body = _body(schedule_id, every="P1D", paused=True)
    created = await stack.api.post("/v1/schedules", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["paused"] is True
    assert created.json()["recent_runs"] == []

    triggered = await stack.api.post(f"/v1/schedules/{schedule_id}/trigger", headers=admin)
    assert triggered.status_code == 202, triggered.text

    async def one_run() -> list[dict[str, Any]] | None:
        return (await _schedule(stack, schedule_id))["recent_runs"] or None

    [run] = await wait_for(one_run, f"{schedule_id} to run once")
    assert (await until(stack, run["process_id"], "completed"))["status"] == "completed"


async def test_bad_schedules_are_refused_with_the_field(stack: Stack, schedule_id: str) -> None:
    admin = stack.as_user(ERIN)

    async def refused(body: dict[str, Any], status: int = 422) -> str:
        answer = await stack.api.post("/v1/schedules", json=body, headers=admin)
        assert answer.status_code == status, answer.text
        error: dict[str, Any] = answer.json()["error"]
        return str(error["details"][0]["field"] if error["details"] else error["code"])

    assert await refused(_body(schedule_id, cron="0 7 * * *")) == "body"  # both
    assert await refused(_body(schedule_id, every=None)) == "body"  # neither
    assert await refused(_body(schedule_id, every=0.5)) == "body"
    assert await refused(_body(schedule_id, every="P400D")) == "body.every"
    assert await refused({**_body(schedule_id), "schedule_id": "no spaces"}) == "body.schedule_id"
    assert await refused(_body(schedule_id, process_type="nope")) == "body.process_type"
    assert await refused(_body(schedule_id, input={"as_of": "soon"})) == "body.input.as_of"
    assert await refused(_body(schedule_id, every=None, cron="every day")) == "body"
    assert await refused(_body(schedule_id, every=None, cron="0 7 * * *", timezone="Mars/Base"))
    # None of them was created; a good one is, once.
    missing = await stack.api.get(f"/v1/schedules/{schedule_id}", headers=admin)
    assert missing.status_code == 404
    good = _body(schedule_id, every=None, cron="0 7 * * MON-FRI", timezone="Europe/Berlin")
    created = await stack.api.post("/v1/schedules", json=good, headers=admin)
    assert created.status_code == 201, created.text
    shown = created.json()
    assert (shown["cron"], shown["timezone"]) == (good["cron"], good["timezone"])
    assert shown["every"] is None
    assert len(shown["next_runs"]) == 5
    assert await refused(good, 409) == "schedule_exists"
    # Only admins manage schedules.
    for verb, path in (("get", ""), ("post", ""), ("delete", f"/{schedule_id}")):
        answer = await stack.api.request(verb, f"/v1/schedules{path}", headers=stack.as_user(CAROL))
        assert answer.status_code == 403, answer.text


async def test_the_schedules_command(operator: Stack, schedule_id: str) -> None:
    """`baton schedules`: the same operations from a shell, as an admin."""

    async def baton(*args: str) -> Result:
        # In a thread: the command runs its own event loop while this test's serves the API.
        return await asyncio.to_thread(CliRunner().invoke, app, ["schedules", *args])

    create = ("create", schedule_id, PAYABLES_REVIEW.name, "--cron", "0 7 * * *")
    made = await baton(*create, "--input", '{"as_of": "1990-01-01"}', "--as", "erin")
    assert made.exit_code == 0, made.output
    assert f"created {schedule_id}" in made.output
    listed = await baton("list")
    assert listed.exit_code == 0, listed.output
    [line] = [line for line in listed.output.splitlines() if line.startswith(schedule_id)]
    assert "0 7 * * *" in line
    assert PAYABLES_REVIEW.name in line
    not_admin = await baton(*create, "--as", "carol")
    assert not_admin.exit_code == 1
    assert "not an admin" in not_admin.output
    bad_input = await baton(*create, "--input", '{"as_of": "soon"}', "--as", "erin")
    assert bad_input.exit_code == 1
    assert "as_of" in bad_input.output
    deleted = await baton("delete", schedule_id, "--as", "erin")
    assert deleted.exit_code == 0, deleted.output
    assert (await baton("delete", schedule_id, "--as", "erin")).exit_code == 1
