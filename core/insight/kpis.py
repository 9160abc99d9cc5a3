"""KPIs over the event log, for a window of processes: per process type, per department and
overall. Every figure is summed and grouped in SQL over the case and step rows (durations are
stored with the rows), so a report reads a few small result sets however many processes ran;
only the durations that percentiles need are read one by one.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Integer, case, cast, func, select
from sqlmodel import Session, col

from core.insight.log import InsightCase, InsightEvent, Window
from core.settings import Settings, UnitCosts
from workflows.contracts.processes import ProcessStatus
from workflows.contracts.tasks import ActorKind

ALL = "all"
OPEN = frozenset({ProcessStatus.RUNNING.value, ProcessStatus.WAITING.value})
# An AI answer's confidence band: the band's floor and its name.
BANDS: tuple[tuple[float, str], ...] = ((0.9, "0.90-1.00"), (0.75, "0.75-0.90"), (0.5, "0.50-0.75"))
LOWEST_BAND = "0.00-0.50"
TOP_BOTTLENECKS = 5


class Volume(BaseModel):
    started: int = 0
    completed: int = 0
    rejected: int = 0
    cancelled: int = 0
    failed: int = 0
    open: int = 0  # running or waiting


class Costs(BaseModel):
    bot: float = 0.0
    ai: float = 0.0
    human: float = 0.0

    @property
    def total(self) -> float:
        return self.bot + self.ai + self.human

    def add(self, other: "Costs") -> None:
        self.bot, self.ai, self.human = (
            self.bot + other.bot,
            self.ai + other.ai,
            self.human + other.human,
        )

    def per(self, count: int) -> "Costs":
        if not count:
            return Costs()
        return Costs(bot=self.bot / count, ai=self.ai / count, human=self.human / count)

    def rounded(self) -> "Costs":
        return Costs(bot=round(self.bot, 2), ai=round(self.ai, 2), human=round(self.human, 2))


class Figures(BaseModel):
    """One process type's figures, or every type's (`name` "all")."""

    name: str
    volume: Volume = Field(default_factory=Volume)
    cycle_p50_s: float | None = None  # of finished processes
    cycle_p90_s: float | None = None
    touch_hours: float = 0.0  # bots and AI working, people handling (finished processes)
    wait_hours: float = 0.0  # the rest of their cycle time
    straight_through_rate: float | None = None  # completed with no person touching them
    human_hours: float = 0.0
    escalations: int = 0
    expiries: int = 0
    sla_breaches: int = 0
    rework: int = 0  # AI answers people changed or refused
    rework_rate: float | None = None  # share of processes with rework
    cost_per_process: Costs = Field(default_factory=Costs)
    cost_total: Costs = Field(default_factory=Costs)


class DepartmentFigures(BaseModel):
    department: str
    steps: int = 0
    machine_hours: float = 0.0  # bot and AI steps' durations
    human_hours: float = 0.0  # people's handling time
    inbox_hours: float = 0.0  # time tasks waited in inboxes
    timer_hours: float = 0.0  # time processes waited for a date or another party
    escalations: int = 0
    sla_breaches: int = 0
    cost: Costs = Field(default_factory=Costs)


class RoleWait(BaseModel):
    role: str
    tasks: int
    p50_s: float | None
    p90_s: float | None
    hours: float


class Override(BaseModel):
    model: str
    band: str  # confidence band
    answers: int
    reviewed: int  # answers a person looked at
    overridden: int  # ... and changed or refused
    rate: float | None  # overridden / reviewed


class Candidate(BaseModel):
    """A human step whose outcome is nearly always the same: a rule or a bot could take it."""

    process_type: str
    activity: str
    decisions: int
    outcome: str
    share: float
    human_hours: float
    cost: float


class Bottleneck(BaseModel):
    process_type: str
    activity: str
    actor_kind: str
    count: int
    mean_s: float
    hours: float  # the time processes spent in it


class KpiReport(BaseModel):
    since: str | None
    until: str | None
    process_type: str | None
    overall: Figures
    by_process_type: list[Figures]
    by_department: list[DepartmentFigures]
    human_wait_by_role: list[RoleWait]
    ai_overrides: list[Override]
    automation_candidates: list[Candidate]
    bottlenecks: list[Bottleneck]
    unit_costs: UnitCosts


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100), interpolated between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def share_of(part: float, whole: float) -> float | None:
    """part / whole as a share (0..1, four places); None when there is no whole."""
    return round(part / whole, 4) if whole else None


def _int(column: Any) -> Any:
    return func.coalesce(func.sum(cast(column, Integer)), 0)


def _sum(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


def kpis(
    session: Session,
    window: Window,
    costs: UnitCosts,
    *,
    candidate_share: float = 0.95,
    candidate_min_cases: int = 20,
) -> KpiReport:
    by_type = _case_figures(session, window)
    step_costs = _step_costs(session, window, costs)
    for name, figures in by_type.items():
        cost = step_costs.get(name, Costs())
        figures.cost_total = cost.rounded()
        figures.cost_per_process = cost.per(figures.volume.started).rounded()
    overall = by_type.pop(ALL)
    return KpiReport(
        since=window.since.isoformat() if window.since else None,
        until=window.until.isoformat() if window.until else None,
        process_type=window.process_type,
        overall=overall,
        by_process_type=[by_type[name] for name in sorted(by_type)],
        by_department=_departments(session, window, costs),
        human_wait_by_role=_role_waits(session, window),
        ai_overrides=_overrides(session, window),
        automation_candidates=_candidates(
            session, window, costs, candidate_share, candidate_min_cases
        ),
        bottlenecks=_bottlenecks(session, window),
        unit_costs=costs,
    )


def kpis_by_settings(session: Session, window: Window, settings: Settings) -> KpiReport:
    """The report with the unit costs and candidate rules the settings give."""
    return kpis(
        session,
        window,
        settings.insight_costs,
        candidate_share=settings.insight_candidate_share,
        candidate_min_cases=settings.insight_candidate_min_cases,
    )


# -- per process type and overall, from the cases -----------------------------------------------


def _case_figures(session: Session, window: Window) -> dict[str, Figures]:
    c = InsightCase
    finished = col(c.ended_at).is_not(None)
    query = select(
        col(c.process_type),
        col(c.status),
        func.count(),
        _int(col(c.human_steps) == 0),
        _sum(case((finished, col(c.touch_seconds)), else_=0)),
        _sum(col(c.cycle_seconds)),
        _sum(col(c.human_minutes)),
        _sum(col(c.escalations)),
        _sum(col(c.expiries)),
        _sum(col(c.sla_breaches)),
        _sum(col(c.rework)),
        _int(col(c.rework) > 0),
    ).group_by(col(c.process_type), col(c.status))
    figures: dict[str, Figures] = defaultdict(lambda: Figures(name=""))
    touch: dict[str, float] = defaultdict(float)
    cycle: dict[str, float] = defaultdict(float)
    straight: dict[str, int] = defaultdict(int)
    reworked: dict[str, int] = defaultdict(int)
    for row in session.execute(window.where(query, InsightCase)):
        ptype, status, count, untouched, touch_s, cycle_s, minutes = row[:7]
        escalations, expiries, breaches, rework, with_rework = row[7:]
        for name in (ptype, ALL):
            f = figures[name]
            f.name = name
            f.volume.started += count
            if status in OPEN:
                f.volume.open += count
            else:
                setattr(f.volume, status, getattr(f.volume, status) + count)
            if status == ProcessStatus.COMPLETED:
                straight[name] += untouched
            touch[name] += touch_s
            cycle[name] += cycle_s
            f.human_hours += minutes / 60
            f.escalations += escalations
            f.expiries += expiries
            f.sla_breaches += breaches
            f.rework += rework
            reworked[name] += with_rework
    cycles = _cycle_times(session, window)
    for name, f in figures.items():
        f.touch_hours = round(touch[name] / 3600, 3)
        f.wait_hours = round(max(0.0, cycle[name] - touch[name]) / 3600, 3)
        f.human_hours = round(f.human_hours, 3)
        f.straight_through_rate = share_of(straight[name], f.volume.completed)
        f.rework_rate = share_of(reworked[name], f.volume.started)
        f.cycle_p50_s = percentile(cycles[name], 50)
        f.cycle_p90_s = percentile(cycles[name], 90)
    figures.setdefault(ALL, Figures(name=ALL))
    return dict(figures)


def _cycle_times(session: Session, window: Window) -> dict[str, list[float]]:
    query = select(col(InsightCase.process_type), col(InsightCase.cycle_seconds)).where(
        col(InsightCase.cycle_seconds).is_not(None)
    )
    found: dict[str, list[float]] = defaultdict(list)
    for ptype, seconds in session.execute(window.where(query, InsightCase)):
        found[ptype].append(seconds)
        found[ALL].append(seconds)
    return found


# -- from the steps ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _StepSums:
    """The steps of one group (a process type or a department), one kind of actor and role."""

    group: str
    kind: str
    role: str
    count: int
    seconds: float
    minutes: float
    bots: int
    ais: int
    tokens: int
    breaches: int
    escalations: int

    def cost(self, costs: UnitCosts) -> Costs:
        return Costs(
            bot=self.bots * costs.bot_call,
            ai=self.ais * costs.ai_call + self.tokens / 1000 * costs.ai_1k_tokens,
            human=self.minutes / 60 * costs.of_role(self.role),
        )


def _step_sums(session: Session, window: Window, group: Any) -> list[_StepSums]:
    e = InsightEvent
    query = select(
        group,
        col(e.actor_kind),
        col(e.role),
        func.count(),
        _sum(col(e.seconds)),
        _sum(col(e.human_minutes)),
        _sum(col(e.bot_calls)),
        _sum(col(e.ai_calls)),
        _sum(col(e.tokens)),
        _int(col(e.sla_breached)),
        _sum(col(e.escalations)),
    ).group_by(group, col(e.actor_kind), col(e.role))
    return [_StepSums(*row) for row in session.execute(window.where(query, InsightEvent))]


def _step_costs(session: Session, window: Window, costs: UnitCosts) -> dict[str, Costs]:
    found: dict[str, Costs] = defaultdict(Costs)
    for sums in _step_sums(session, window, col(InsightEvent.process_type)):
        found[sums.group].add(sums.cost(costs))
        found[ALL].add(sums.cost(costs))
    return found


def _departments(session: Session, window: Window, costs: UnitCosts) -> list[DepartmentFigures]:
    found: dict[str, DepartmentFigures] = {}
    for sums in _step_sums(session, window, col(InsightEvent.department)):
        d = found.setdefault(sums.group, DepartmentFigures(department=sums.group))
        d.steps += sums.count
        if sums.kind == ActorKind.HUMAN:
            d.inbox_hours += sums.seconds / 3600
            d.human_hours += sums.minutes / 60
        elif sums.kind == ActorKind.SYSTEM:
            d.timer_hours += sums.seconds / 3600
        else:
            d.machine_hours += sums.seconds / 3600
        d.escalations += sums.escalations
        d.sla_breaches += sums.breaches
        d.cost.add(sums.cost(costs))
    for d in found.values():
        d.machine_hours, d.human_hours = round(d.machine_hours, 3), round(d.human_hours, 3)
        d.inbox_hours, d.cost = round(d.inbox_hours, 3), d.cost.rounded()
        d.timer_hours = round(d.timer_hours, 3)
    return sorted(found.values(), key=lambda d: d.department)


def _role_waits(session: Session, window: Window) -> list[RoleWait]:
    query = select(col(InsightEvent.role), col(InsightEvent.seconds)).where(
        col(InsightEvent.actor_kind) == ActorKind.HUMAN.value,
        col(InsightEvent.ended_at).is_not(None),
    )
    waits: dict[str, list[float]] = defaultdict(list)
    for role, seconds in session.execute(window.where(query, InsightEvent)):
        waits[role].append(seconds)
    return [
        RoleWait(
            role=role,
            tasks=len(values),
            p50_s=percentile(values, 50),
            p90_s=percentile(values, 90),
            hours=round(sum(values) / 3600, 3),
        )
        for role, values in sorted(waits.items())
    ]


def _overrides(session: Session, window: Window) -> list[Override]:
    e = InsightEvent
    confidence = col(e.confidence)
    band = case(*((confidence >= floor, name) for floor, name in BANDS), else_=LOWEST_BAND)
    query = (
        select(
            col(e.actor),
            band,
            func.count(),
            _int(col(e.overridden).is_not(None)),
            _int(col(e.overridden).is_(True)),
        )
        .where(col(e.actor_kind) == ActorKind.AI.value)
        .group_by(col(e.actor), band)
    )
    return sorted(
        (
            Override(
                model=model,
                band=band_name,
                answers=answers,
                reviewed=reviewed,
                overridden=overridden,
                rate=share_of(overridden, reviewed),
            )
            for model, band_name, answers, reviewed, overridden in session.execute(
                window.where(query, InsightEvent)
            )
        ),
        key=lambda o: (o.model, o.band),
    )


def _candidates(
    session: Session, window: Window, costs: UnitCosts, share: float, min_cases: int
) -> list[Candidate]:
    e = InsightEvent
    query = (
        select(
            col(e.process_type),
            col(e.activity),
            col(e.role),
            col(e.outcome),
            func.count(),
            _sum(col(e.human_minutes)),
        )
        .where(
            col(e.actor_kind) == ActorKind.HUMAN.value,
            col(e.status) == "completed",
            col(e.expired).is_(False),  # an expiry is nobody's decision
        )
        .group_by(col(e.process_type), col(e.activity), col(e.role), col(e.outcome))
    )
    steps: dict[tuple[str, str], list[tuple[str, str, int, float]]] = defaultdict(list)
    for ptype, activity, role, outcome, count, minutes in session.execute(
        window.where(query, InsightEvent)
    ):
        steps[(ptype, activity)].append((outcome, role, count, minutes))
    found = []
    for (ptype, activity), outcomes in steps.items():
        decisions = sum(count for _, _, count, _ in outcomes)
        top = max(outcomes, key=lambda o: o[2])
        if decisions < min_cases or top[2] / decisions < share:
            continue
        minutes = sum(m for *_, m in outcomes)
        found.append(
            Candidate(
                process_type=ptype,
                activity=activity,
                decisions=decisions,
                outcome=top[0],
                share=round(top[2] / decisions, 4),
                human_hours=round(minutes / 60, 3),
                cost=round(sum(m / 60 * costs.of_role(r) for _, r, _, m in outcomes), 2),
            )
        )
    return sorted(found, key=lambda c: -c.human_hours)


def _bottlenecks(session: Session, window: Window) -> list[Bottleneck]:
    e = InsightEvent
    total = _sum(col(e.seconds))
    query = (
        select(col(e.process_type), col(e.activity), col(e.actor_kind), func.count(), total)
        .group_by(col(e.process_type), col(e.activity), col(e.actor_kind))
        .order_by(total.desc())
        .limit(TOP_BOTTLENECKS)
    )
    return [
        Bottleneck(
            process_type=ptype,
            activity=activity,
            actor_kind=kind,
            count=count,
            mean_s=round(seconds / count, 3),
            hours=round(seconds / 3600, 3),
        )
        for ptype, activity, kind, count, seconds in session.execute(
            window.where(query, InsightEvent)
        )
    ]
