"""Insight's KPIs over a log of known runs, on SQLite and PostgreSQL: every figure equals what
the test counts by hand from the runs it wrote."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from core.insight.kpis import KpiReport, kpis, percentile
from core.insight.log import Window, cases_in, events_in, rows_of, write_run
from core.settings import UnitCosts
from workflows.contracts.processes import ProcessState, ProcessStatus, Step, StepStatus
from workflows.contracts.tasks import ActorKind

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ORDER, INVOICE = "order-fulfillment", "invoice-processing"
COSTS = UnitCosts()


def bots(start: datetime, count: int, department: str = "inventory") -> list[Step]:
    """`count` bot steps of one second each, one after the other."""
    return [
        Step(
            name=f"bot step {i}",
            activity=f"bot step {i}",
            actor=ActorKind.BOT,
            status=StepStatus.COMPLETED,
            started_at=start + timedelta(seconds=i),
            ended_at=start + timedelta(seconds=i + 1),
            department=department,
            by="erp.something",
        )
        for i in range(count)
    ]


def ai(start: datetime, model: str, confidence: float, overridden: bool | None = None) -> Step:
    return Step(
        name="extract",
        activity="extract",
        actor=ActorKind.AI,
        status=StepStatus.COMPLETED,
        started_at=start,
        ended_at=start + timedelta(seconds=2),
        department="sales",
        by=model,
        confidence=confidence,
        overridden=overridden,
        tokens=300,
    )


def human(
    start: datetime,
    activity: str,
    role: str,
    wait_s: float | None,
    outcome: str,
    *,
    escalations: int = 0,
    due_s: float = 3600,
    department: str = "sales",
) -> Step:
    """A human step that waited `wait_s` in the inbox (None: still open)."""
    ended = start + timedelta(seconds=wait_s) if wait_s is not None else None
    return Step(
        name=f"{activity} of something",
        activity=activity,
        actor=ActorKind.HUMAN,
        status=StepStatus.COMPLETED if ended else StepStatus.RUNNING,
        started_at=start,
        ended_at=ended,
        department=department,
        role=role,
        outcome=outcome if ended else "",
        human_minutes=5.0 if ended else 0.0,
        escalations=escalations,
        due_at=start + timedelta(seconds=due_s),
    )


def run(
    pid: str, ptype: str, status: ProcessStatus, minute: int, steps: list[Step], **facts: object
) -> ProcessState:
    return ProcessState(
        process_id=f"{ptype}:{pid}",
        process_type=ptype,
        business_key=pid,
        status=status,
        started_at=T0 + timedelta(minutes=minute),
        steps=steps,
        facts=facts,
    )


def at(minute: int, second: float = 0) -> datetime:
    return T0 + timedelta(minutes=minute, seconds=second)


DONE, REJECTED, WAITING = ProcessStatus.COMPLETED, ProcessStatus.REJECTED, ProcessStatus.WAITING
RUNS = [
    # Straight through.
    run("O1", ORDER, DONE, 0, bots(at(0), 6)),
    # Approved within its due time.
    run(
        "O2",
        ORDER,
        DONE,
        10,
        [
            ai(at(10), "m1", 0.95),
            human(at(10, 5), "approval", "sales_manager", 600, "approve"),
            *bots(at(20, 10), 6),
        ],
    ),
    # Escalated, then approved after its due time: an SLA breach.
    run(
        "O3",
        ORDER,
        DONE,
        30,
        [
            human(at(30), "approval", "sales_manager", 5000, "approve", escalations=1),
            *bots(at(120), 6),
        ],
    ),
    # The AI was unsure; the rep corrected it; then the manager rejected the order.
    run(
        "O4",
        ORDER,
        REJECTED,
        40,
        [
            ai(at(40), "m1", 0.6, overridden=True),
            human(at(40, 2), "review lines", "sales_rep", 120, "confirm"),
            human(at(43), "approval", "sales_manager", 600, "reject"),
        ],
    ),
    # Still waiting for its approval.
    run(
        "O5",
        ORDER,
        WAITING,
        50,
        [*bots(at(50), 3), human(at(51), "approval", "sales_manager", None, "")],
    ),
    # Invoices: each reviewed and confirmed as extracted.
    *(
        run(
            f"I{n}",
            INVOICE,
            DONE,
            60 + n,
            [
                ai(at(60 + n), "m2", 0.85, overridden=False),
                human(
                    at(60 + n, 3),
                    "review invoice",
                    "ap_clerk",
                    300,
                    "confirm",
                    department="accounts payable",
                ),
                *bots(at(70 + n), 4, department="finance"),
            ],
        )
        for n in (1, 2, 3)
    ),
]


@pytest.fixture
def report(engine: Engine) -> KpiReport:
    with Session(engine) as session:
        for state in RUNS:
            assert write_run(session, state)
        session.commit()
    with Session(engine) as session:
        return kpis(session, Window(), COSTS, candidate_min_cases=3)


def steps_of(kind: ActorKind, ptype: str | None = None) -> list[Step]:
    return [
        step
        for state in RUNS
        if ptype in (None, state.process_type)
        for step in state.steps
        if step.actor is kind
    ]


@pytest.mark.postgres
def test_volumes_rates_and_counts_are_those_of_the_runs(report: KpiReport) -> None:
    overall = report.overall
    assert overall.volume.model_dump() == {
        "started": 8,
        "completed": 6,
        "rejected": 1,
        "cancelled": 0,
        "failed": 0,
        "open": 1,
    }
    # Straight through: completed with no person (O1 only, of 6 completed; of 3 orders).
    assert overall.straight_through_rate == round(1 / 6, 4)
    orders = next(f for f in report.by_process_type if f.name == ORDER)
    assert orders.straight_through_rate == round(1 / 3, 4)
    assert (overall.escalations, overall.sla_breaches, overall.expiries) == (1, 1, 0)
    assert (overall.rework, overall.rework_rate) == (1, round(1 / 8, 4))
    finished = [s for s in RUNS if s.status is not WAITING]
    cycles = [
        (max(step.ended_at for step in s.steps if step.ended_at) - s.started_at).total_seconds()
        for s in finished
        if s.started_at
    ]
    assert overall.cycle_p50_s == pytest.approx(percentile(cycles, 50))
    assert overall.cycle_p90_s == pytest.approx(percentile(cycles, 90))


@pytest.mark.postgres
def test_cost_is_counted_from_calls_and_people_time(report: KpiReport) -> None:
    bot_calls, ai_steps = len(steps_of(ActorKind.BOT)), steps_of(ActorKind.AI)
    minutes_by_role: dict[str, float] = {}
    for step in steps_of(ActorKind.HUMAN):
        minutes_by_role[step.role] = minutes_by_role.get(step.role, 0) + step.human_minutes
    people = sum(minutes / 60 * COSTS.of_role(role) for role, minutes in minutes_by_role.items())
    machine_ai = (
        len(ai_steps) * COSTS.ai_call + sum(s.tokens for s in ai_steps) / 1000 * COSTS.ai_1k_tokens
    )
    total = report.overall.cost_total
    assert total.bot == pytest.approx(bot_calls * COSTS.bot_call)
    assert total.ai == pytest.approx(round(machine_ai, 2))
    assert total.human == pytest.approx(round(people, 2))
    assert report.overall.cost_per_process.total == pytest.approx(
        (bot_calls * COSTS.bot_call + machine_ai + people) / len(RUNS), abs=0.02
    )
    assert report.overall.human_hours == pytest.approx(sum(minutes_by_role.values()) / 60, abs=1e-3)


@pytest.mark.postgres
def test_waits_overrides_candidates_and_bottlenecks(report: KpiReport) -> None:
    waits = {w.role: w for w in report.human_wait_by_role}
    managers = [600, 5000, 600]  # O5's open approval has not waited its full time yet
    assert waits["sales_manager"].tasks == len(managers)
    assert waits["sales_manager"].p50_s == percentile(managers, 50)
    assert waits["ap_clerk"].hours == pytest.approx(3 * 300 / 3600, abs=1e-3)

    overrides = {
        (o.model, o.band): (o.answers, o.reviewed, o.overridden) for o in report.ai_overrides
    }
    assert overrides == {
        ("m1", "0.90-1.00"): (1, 0, 0),
        ("m1", "0.50-0.75"): (1, 1, 1),
        ("m2", "0.75-0.90"): (3, 3, 0),
    }

    # Three invoice reviews, all confirmed: a candidate. Approvals: 2 of 3 approved: not one.
    assert [
        (c.process_type, c.activity, c.outcome, c.decisions) for c in report.automation_candidates
    ] == [(INVOICE, "review invoice", "confirm", 3)]
    assert report.automation_candidates[0].cost == pytest.approx(
        3 * 5 / 60 * COSTS.of_role("ap_clerk")
    )

    top = report.bottlenecks[0]
    assert (top.process_type, top.activity, top.count) == (ORDER, "approval", 4)
    assert top.hours == pytest.approx((600 + 5000 + 600) / 3600, abs=1e-3)

    departments = {d.department: d for d in report.by_department}
    assert sum(d.steps for d in departments.values()) == sum(len(s.steps) for s in RUNS)
    assert departments["accounts payable"].inbox_hours == pytest.approx(3 * 300 / 3600, abs=1e-3)


@pytest.mark.postgres
def test_a_window_narrows_to_its_processes(engine: Engine) -> None:
    with Session(engine) as session:
        for state in RUNS:
            write_run(session, state)
        session.commit()
        window = Window(since=at(10), until=at(45), process_type=ORDER)
        assert [c.business_key for c in cases_in(session, window)] == ["O2", "O3", "O4"]
        assert {e.business_key for e in events_in(session, window)} == {"O2", "O3", "O4"}
        found = kpis(session, window, COSTS)
        assert found.overall.volume.started == 3
        assert found.process_type == ORDER


def test_bad_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="since must be before until"):
        Window(since=at(10), until=at(5))
    with pytest.raises(ValueError, match="unknown process type"):
        Window(process_type="no-such-process")


@pytest.mark.postgres
def test_a_later_write_replaces_a_run_and_an_older_one_does_not(engine: Engine) -> None:
    finished = RUNS[1]
    waiting = finished.model_copy(update={"status": WAITING, "steps": finished.steps[:2]})
    with Session(engine) as session:
        assert write_run(session, waiting)
        assert write_run(session, finished)
        assert not write_run(session, waiting)  # late: the finished rows stay
        session.commit()
        [case] = cases_in(session, Window())
        assert case.status == "completed"
        assert len(events_in(session, Window())) == len(finished.steps)


def test_a_simulated_run_counts_its_waits_in_business_time() -> None:
    """A simulation compresses people and timers, not machines: only waits are scaled back."""
    scaled = RUNS[1].model_copy(update={"time_scale": 100.0})
    rows = rows_of(scaled)
    machine = [e for e in rows.events if e.actor_kind != ActorKind.HUMAN]
    [approval] = [e for e in rows.events if e.actor_kind == ActorKind.HUMAN]
    assert approval.seconds == pytest.approx(600 * 100)
    assert all(
        e.seconds == pytest.approx((e.ended_at - e.started_at).total_seconds())
        for e in machine
        if e.ended_at
    )
    measured = rows_of(RUNS[1]).case.cycle_seconds
    assert measured is not None
    assert rows.case.cycle_seconds == pytest.approx(measured + 600 * 99)
