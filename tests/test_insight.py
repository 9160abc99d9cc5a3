"""Insight end to end: known runs through the real stack (API, Temporal, workers, sandbox),
then the log, the KPIs, the map, the exports, the rebuild and the what-if, each compared with
what the test counts by hand from the runs it made (as the process API shows them)."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pm4py
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from baton.cli import app
from core.db import create_tables, make_engine
from core.insight.log import InsightCase, InsightEvent, write_run
from core.insight.rebuild import rebuild
from core.settings import UnitCosts, get_settings
from tests.helpers import (
    ALICE,
    BOB,
    CAROL,
    ERIN,
    FAST_POLICY,
    Stack,
    decide,
    open_task,
    start,
    until,
    wait_for,
    wait_for_task,
)
from workflows.contracts.orders import ORDER_FULFILLMENT
from workflows.contracts.processes import ProcessState, ProcessStatus, Step, StepStatus
from workflows.contracts.tasks import ActorKind

FRANK = "dev-frank"
ORDER = ORDER_FULFILLMENT.name
SMALL = {"customer_id": "C-1001", "lines": [{"sku": "WID-100", "quantity": 2}]}
LARGE = {"customer_id": "C-1005", "lines": [{"sku": "PMP-410", "quantity": 20}]}
WEAK = {"customer_id": "C-1003", "message": "order: 5 x widgetz heavy, 3 flux capacitors"}
CORRECTED = [{"sku": "WID-200", "quantity": 5}, {"sku": "CBL-610", "quantity": 3}]
# Long enough that no approval escalates before the test decides it, however busy the machine.
PATIENT = FAST_POLICY.model_copy(update={"approval_due": timedelta(minutes=10)})
HASTY = FAST_POLICY.model_copy(update={"approval_due": timedelta(seconds=1)})


async def run_known_orders(stack: Stack) -> dict[str, dict[str, Any]]:
    """Six orders whose every decision the test makes; their final states by name."""
    stack.set_policy(ORDER_FULFILLMENT, PATIENT)
    ids = {
        "small-1": await start(stack, ORDER, SMALL),
        "small-2": await start(stack, ORDER, SMALL),
        "approved": await start(stack, ORDER, LARGE),
        "rejected": await start(stack, ORDER, LARGE),
        "corrected": await start(stack, ORDER, WEAK, key=BOB),
    }
    stack.set_policy(ORDER_FULFILLMENT, HASTY)
    ids["escalated"] = await start(stack, ORDER, LARGE)

    await decide(stack, await open_task(stack, ids["approved"], BOB), BOB, "approve")
    await decide(
        stack, await open_task(stack, ids["rejected"], BOB), BOB, "reject", comment="too much"
    )
    review = await open_task(stack, ids["corrected"], ALICE)
    await decide(stack, review, ALICE, "confirm", data={"lines": CORRECTED})
    escalated = await open_task(stack, ids["escalated"], CAROL)  # carol's once it escalated
    await wait_for_task(stack, escalated, CAROL)
    await decide(stack, escalated, CAROL, "approve")
    return {name: await until(stack, pid, "completed", "rejected") for name, pid in ids.items()}


def human_steps(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in state["steps"] if s["actor"] == "human" and s["status"] != "skipped"]


def log_rows(engine: Engine) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with Session(engine) as session:
        cases = session.exec(select(InsightCase).order_by(col(InsightCase.process_id))).all()
        events = session.exec(
            select(InsightEvent).order_by(col(InsightEvent.process_id), col(InsightEvent.seq))
        ).all()
        return [c.model_dump() for c in cases], [e.model_dump() for e in events]


@pytest.mark.filterwarnings("ignore:Install the optional requirement:UserWarning")
async def test_insight_over_runs_with_known_decisions(stack: Stack, tmp_path: Path) -> None:
    runs = await run_known_orders(stack)
    engine = make_engine(stack.settings.resolved_database_url)
    frank = stack.as_user(FRANK)

    async def logged_finished() -> bool:
        cases, _ = log_rows(engine)
        return sum(c["ended_at"] is not None for c in cases) == len(runs)

    await wait_for(logged_finished, "every run's final rows in the log")

    # -- KPIs, against a count by hand from the process API's states ------------------------
    response = await stack.api.get(
        "/v1/insight/kpis", params={"process_type": ORDER}, headers=frank
    )
    assert response.status_code == 200, response.text
    overall = response.json()["overall"]
    completed = [s for s in runs.values() if s["status"] == "completed"]
    untouched = [s for s in completed if not human_steps(s)]
    assert overall["volume"]["started"] == len(runs)
    assert overall["volume"]["completed"] == len(completed)
    assert overall["volume"]["rejected"] == 1
    assert overall["straight_through_rate"] == round(len(untouched) / len(completed), 4)
    assert overall["escalations"] == 1  # the hasty one
    assert overall["sla_breaches"] == 1  # it was decided after its (1 s) due time
    assert overall["rework"] == 1  # the rep corrected the AI's lines
    costs = UnitCosts()
    steps = [s for state in runs.values() for s in state["steps"] if s["status"] != "skipped"]
    bot_calls = sum(s["actor"] == "bot" for s in steps)
    ai_calls = sum(s["actor"] == "ai" for s in steps)
    rates = {"approval": costs.of_role("sales_manager"), "review lines": costs.of_role("sales_rep")}
    people = sum(5 / 60 * rates[s["activity"]] for s in steps if s["actor"] == "human")
    total = overall["cost_total"]
    assert total["bot"] == pytest.approx(bot_calls * costs.bot_call)
    assert total["ai"] == pytest.approx(ai_calls * costs.ai_call)  # the local model: no tokens
    assert total["human"] == pytest.approx(people, abs=0.01)

    # -- the rebuild from the histories gives the same rows ----------------------------------
    written = log_rows(engine)
    rebuilt_engine = make_engine(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    create_tables(rebuilt_engine)
    ids = ", ".join(f'"{state["process_id"]}"' for state in runs.values())

    async def listed() -> bool:
        found = [r async for r in stack.client.list_workflows(f"WorkflowId IN ({ids})")]
        return len(found) == len(runs) and all(r.close_time for r in found)

    await wait_for(listed, "the runs in Temporal's visibility")
    done = await rebuild(stack.client, rebuilt_engine, where=f"WorkflowId IN ({ids})")
    assert (done.processes, done.unread) == (len(runs), {})
    assert log_rows(rebuilt_engine) == written

    # -- the map: every run as designed, until one that is not ------------------------------
    found = (
        await stack.api.get("/v1/insight/map", params={"process_type": ORDER}, headers=frank)
    ).json()
    assert (found["cases"], found["conforming_cases"], found["deviations"]) == (6, 6, [])
    nodes = {node["activity"]: node["count"] for node in found["nodes"]}
    assert nodes["approval"] == sum(
        1 for s in steps if s["activity"] == "approval" and s["actor"] == "human"
    )
    assert nodes["review lines"] == 1
    deviant = deviating_run(runs["approved"])
    with Session(engine) as session:
        write_run(session, deviant)
        session.commit()
    found = (
        await stack.api.get("/v1/insight/map", params={"process_type": ORDER}, headers=frank)
    ).json()
    assert [d["process_id"] for d in found["deviations"]] == [deviant.process_id]
    picture = await stack.api.get(
        "/v1/insight/map", params={"process_type": ORDER, "format": "svg"}, headers=frank
    )
    assert picture.headers["content-type"].startswith("image/svg+xml")
    assert "approval" in picture.text

    # -- exports read back in pm4py ------------------------------------------------------------
    cases, events = log_rows(engine)
    objects = {obj for event in events for obj in event["objects"]}
    for fmt, name in (("ocel", "log.jsonocel"), ("xes", "log.xes"), ("csv", "log.csv")):
        exported = await stack.api.get("/v1/insight/export", params={"format": fmt}, headers=frank)
        assert exported.status_code == 200, exported.text
        path = tmp_path / name
        path.write_bytes(exported.content)
        if fmt == "ocel":
            ocel = pm4py.read_ocel2_json(str(path))
            assert len(ocel.events) == len(events)
            assert len(ocel.objects) == len(objects) + len(cases)  # each case is an object too
        elif fmt == "xes":
            log = pm4py.read_xes(str(path))
            assert (len(log), log["case:concept:name"].nunique()) == (len(events), len(cases))
        else:
            import pandas

            frame = pandas.read_csv(path)
            assert (len(frame), frame["case_id"].nunique()) == (len(events), len(cases))

    # -- what-if: every order to a manager, and no reviews -----------------------------------
    reached_check = [
        s for s in runs.values() if any(step["activity"] == "check credit" for step in s["steps"])
    ]
    answer = await stack.api.post(
        "/v1/insight/what-if",
        json={
            "process_type": ORDER,
            "policy": {"approval_threshold": 0, "confidence_threshold": 0},
        },
        headers=frank,
    )
    assert answer.status_code == 200, answer.text
    what_if = answer.json()
    finished_real = len(runs)  # the injected deviating run is finished too
    assert what_if["runs"] == finished_real + 1
    assert what_if["recorded"]["tasks"] == {"review lines": 1, "approval": 4}  # 3 + the deviant
    assert what_if["what_if"]["tasks"] == {"review lines": 0, "approval": len(reached_check) + 1}
    assert "estimated" in what_if["estimated"]

    # -- the terminal's table ------------------------------------------------------------------
    get_settings.cache_clear()
    result = CliRunner().invoke(
        app, ["insight", "--process", ORDER], env={"BATON_DATABASE_URL": str(engine.url)}
    )
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "straight-through rate" in result.output
    engine.dispose()
    rebuilt_engine.dispose()


def deviating_run(model: dict[str, Any]) -> ProcessState:
    """A run that was approved before its credit was checked: not as designed."""
    started = model["steps"][0]["started_at"]

    def step(activity: str, actor: ActorKind) -> Step:
        return Step(
            name=activity,
            activity=activity,
            actor=actor,
            status=StepStatus.COMPLETED,
            started_at=started,
            ended_at=started,
        )

    return ProcessState(
        process_id=f"{ORDER}:SO-DEVIANT",
        process_type=ORDER,
        business_key="SO-DEVIANT",
        status=ProcessStatus.COMPLETED,
        started_at=started,
        steps=[
            step("record the interaction in the CRM", ActorKind.BOT),
            step("approval", ActorKind.HUMAN),
            step("check credit", ActorKind.BOT),
        ],
        facts={"amount": 1.0, "risk": "low", "credit_available": 100.0},
    )


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/insight/kpis", {"process_type": "no-such-process"}, "query.process_type"),
        (
            "/v1/insight/kpis",
            {"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
            "query.until",
        ),
        ("/v1/insight/export", {"format": "pdf"}, "query.format"),
        ("/v1/insight/map", {}, "query.process_type"),
        ("/v1/insight/kpis", {"since": "yesterday"}, "query.since"),
    ],
)
async def test_bad_questions_get_422_naming_the_field(
    api: Any, path: str, params: dict[str, str], field: str
) -> None:
    response = await api.get(path, params=params, headers={"Authorization": f"Bearer {FRANK}"})
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["error"]["details"]]


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"approval_threshold": -5}, "body.policy.approval_threshold"),
        ({"approval_treshold": 5000}, "body.policy.approval_treshold"),
    ],
)
async def test_a_policy_that_does_not_validate_gets_422(
    api: Any, policy: dict[str, Any], field: str
) -> None:
    response = await api.post(
        "/v1/insight/what-if",
        json={"process_type": ORDER, "policy": policy},
        headers={"Authorization": f"Bearer {FRANK}"},
    )
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


@pytest.mark.parametrize("key", [ALICE, BOB, CAROL])
async def test_only_analysts_and_admins_read_insight(api: Any, key: str) -> None:
    refused = await api.get("/v1/insight/kpis", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 403
    for allowed in (FRANK, ERIN):
        answer = await api.get("/v1/insight/kpis", headers={"Authorization": f"Bearer {allowed}"})
        assert answer.status_code == 200, answer.text
