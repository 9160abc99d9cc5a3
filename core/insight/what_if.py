"""Counterfactual policy replay: the recorded runs' decision points under another policy.

Each finished process recorded the facts its decision points were decided on (amount, risk,
credit, the AI's confidence). The process type's policy says, as a pure function of those
facts, at which decision points a run goes to people (`ProcessPolicy.people_needed`, the very
function the workflow decides by). So for every recorded run, which people it would have needed
under another policy is exact; what those people would have cost, and how long the run would
have waited for them, is estimated from what the same step cost in the recorded runs.
"""

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from core.insight.kpis import percentile, share_of
from core.insight.log import InsightCase, InsightEvent, Window
from workflows.contracts.processes import ProcessPolicy
from workflows.contracts.tasks import ActorKind

EXACT = (
    "exact: which runs go to people and at which decision points; the straight-through rate, "
    "each run keeping its recorded outcome"
)
ESTIMATED = (
    "estimated: human hours, inbox hours and cycle times. A decision point a run no longer "
    "needs takes away what it recorded; one it newly needs adds the median handling time and "
    "inbox wait that step recorded in this window, and assumes the run then went on as it did"
)


class Side(BaseModel):
    """What happened, or what would have under the other policy, over the same runs."""

    runs: int
    to_people: int  # runs that went to people at one of the decision points
    tasks: dict[str, int]  # decision point -> runs that went to people there
    straight_through_rate: float | None  # completed runs no person touched, as the KPIs count
    human_hours: float
    inbox_hours: float
    cycle_p50_s: float | None
    cycle_mean_s: float | None


class WhatIf(BaseModel):
    process_type: str
    policy: dict[str, Any]  # the other policy, in full
    runs: int  # finished runs looked at
    not_evaluated: int = Field(description="finished runs without the facts a decision needs")
    changed: int  # runs whose decision points differ under the other policy
    recorded: Side
    what_if: Side
    exact: str = EXACT
    estimated: str = ESTIMATED


@dataclass(frozen=True)
class _Figures:
    """One run's figures under one policy."""

    needed: frozenset[str]  # the decision points it goes to people at
    touched: bool  # whether any person touched it
    completed: bool
    minutes: float  # people's handling time
    inbox: float  # seconds its tasks waited
    cycle: float  # seconds


class _Run:
    """One recorded run, as the what-if changes it."""

    def __init__(self, case: InsightCase, events: list[InsightEvent], points: tuple[str, ...]):
        self.case = case
        human = [e for e in events if e.actor_kind == ActorKind.HUMAN.value]
        self.at_points = {e.activity: e for e in human if e.activity in points}
        self.other_human = [e for e in human if e.activity not in points]

    def side(self, needed: set[str], typical: dict[str, tuple[float, float]]) -> _Figures:
        """Its figures when people are needed at `needed`: removed points give back what they
        recorded; added ones cost what the step typically costs (minutes, inbox seconds)."""
        minutes = sum(e.human_minutes for e in self.other_human)
        inbox = sum(e.seconds for e in self.other_human)
        cycle = self.case.cycle_seconds or 0.0
        for point, event in self.at_points.items():
            if point in needed:
                minutes, inbox = minutes + event.human_minutes, inbox + event.seconds
            else:
                cycle -= event.seconds
        for point in needed - set(self.at_points):
            added_minutes, added_wait = typical.get(point, (0.0, 0.0))
            minutes, inbox, cycle = minutes + added_minutes, inbox + added_wait, cycle + added_wait
        return _Figures(
            frozenset(needed),
            bool(needed or self.other_human),
            self.case.status == "completed",
            minutes,
            inbox,
            max(cycle, 0.0),
        )


def what_if(session: Session, window: Window, policy: ProcessPolicy) -> WhatIf:
    """The window's finished runs of `window.process_type` under `policy`, beside what they did."""
    if window.process_type is None:
        raise ValueError("process_type is required")
    points = policy.decision_points
    runs, skipped = _finished_runs(session, window, points)
    typical = _typical(runs, points)
    recorded = [run.side(set(run.at_points), typical) for run in runs]
    other = [run.side(policy.people_needed(run.case.facts), typical) for run in runs]
    return WhatIf(
        process_type=window.process_type,
        policy=policy.model_dump(mode="json"),
        runs=len(runs),
        not_evaluated=skipped,
        changed=sum(r.needed != o.needed for r, o in zip(recorded, other, strict=True)),
        recorded=_summary(recorded, points),
        what_if=_summary(other, points),
    )


def _finished_runs(
    session: Session, window: Window, points: tuple[str, ...]
) -> tuple[list[_Run], int]:
    cases = session.exec(window.cases().where(col(InsightCase.ended_at).is_not(None))).all()
    events: dict[str, list[InsightEvent]] = defaultdict(list)
    query = window.where(select(InsightEvent), InsightEvent).where(
        col(InsightEvent.actor_kind) == ActorKind.HUMAN.value,
        col(InsightCase.ended_at).is_not(None),
    )
    for event in session.exec(query):
        events[event.process_id].append(event)
    runs = [_Run(case, events[case.process_id], points) for case in cases if case.facts]
    return runs, len(cases) - len(runs)


def _typical(runs: list[_Run], points: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    """Per decision point, the median handling minutes and inbox seconds it recorded."""
    typical = {}
    for point in points:
        recorded = [run.at_points[point] for run in runs if point in run.at_points]
        if recorded:
            typical[point] = (
                percentile([e.human_minutes for e in recorded], 50) or 0.0,
                percentile([e.seconds for e in recorded], 50) or 0.0,
            )
    return typical


def _summary(sides: list[_Figures], points: tuple[str, ...]) -> Side:
    cycles = [side.cycle for side in sides]
    return Side(
        runs=len(sides),
        to_people=sum(bool(side.needed) for side in sides),
        tasks={point: sum(point in side.needed for side in sides) for point in points},
        straight_through_rate=share_of(
            sum(side.completed and not side.touched for side in sides),
            sum(side.completed for side in sides),
        ),
        human_hours=round(sum(side.minutes for side in sides) / 60, 3),
        inbox_hours=round(sum(side.inbox for side in sides) / 3600, 3),
        cycle_p50_s=percentile(cycles, 50),
        cycle_mean_s=round(sum(cycles) / len(cycles), 3) if cycles else None,
    )
