"""The event log: one row per step a process ran, one row per process (its case).

The process kit writes a run's rows as it goes (when it waits on people or on a date, and when
it ends), from its live state; `baton insight rebuild` writes them again from the histories, by
the same function (`rows_of`), so the two cannot differ. The Temporal history stays the source
of truth; the log is a projection, shaped for the questions insight asks.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Engine, Index, delete
from sqlmodel import Field, Session, SQLModel, col, select

from core.schema import UTCDateTime
from workflows.contracts.catalogue import PROCESS_TYPES
from workflows.contracts.processes import ProcessState, ProcessStatus, Step, StepStatus
from workflows.contracts.tasks import ActorKind

FINISHED = frozenset(
    {
        ProcessStatus.COMPLETED,
        ProcessStatus.REJECTED,
        ProcessStatus.CANCELLED,
        ProcessStatus.FAILED,
    }
)


class InsightEvent(SQLModel, table=True):
    """A step: what ran, who or what did it, for which department, when, and at what cost."""

    __tablename__ = "insight_events"
    __table_args__ = (Index("ix_insight_events_type_started", "process_type", "started_at"),)

    process_id: str = Field(primary_key=True, max_length=300)
    seq: int = Field(primary_key=True)  # its place among the process's steps
    process_type: str = Field(max_length=100)
    business_key: str = Field(max_length=100)
    activity: str = Field(max_length=200)  # the step's kind, e.g. "reserve stock"
    step: str  # its name as the run shows it, e.g. "schedule production of 5 x GAD-120"
    stage: str = Field(max_length=200)
    actor_kind: str = Field(max_length=20)  # bot, ai, human, system
    actor: str = Field(max_length=300)  # the bot activity, the model, the people
    department: str = Field(max_length=50)
    role: str = Field(default="", max_length=50)  # a human step's role
    status: str = Field(max_length=20)  # running, completed, failed
    outcome: str = Field(default="", max_length=200)
    started_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    objects: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    bot_calls: int = 0
    ai_calls: int = 0
    tokens: int = 0
    human_minutes: float = 0.0
    confidence: float | None = None
    overridden: bool | None = None  # an AI answer people reviewed: changed or refused
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalations: int = 0
    expired: bool = False
    # How many times its measured duration counts: a simulated run's waits (people, timers)
    # ran compressed; 1 for real runs and for every machine step.
    time_scale: float = 1.0
    # Derived when written, so KPIs sum and group in SQL without reading timestamps.
    seconds: float = 0.0  # how long it took, in business time (a human step: time in the inbox)
    sla_breached: bool = False  # it ended after its due time


class InsightCase(SQLModel, table=True):
    """A process as a whole, with the sums KPIs read without touching its steps."""

    __tablename__ = "insight_cases"
    __table_args__ = (Index("ix_insight_cases_type_started", "process_type", "started_at"),)

    process_id: str = Field(primary_key=True, max_length=300)
    process_type: str = Field(max_length=100)
    business_key: str = Field(max_length=100)
    requested_by: str = Field(default="", max_length=100)
    priority: str = Field(default="normal", max_length=20)
    status: str = Field(max_length=20)
    started_at: datetime = Field(index=True, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cycle_seconds: float | None = None  # when it ended
    touch_seconds: float = 0.0  # bots' and AI's working time, plus people's handling time
    human_steps: int = 0  # 0: straight through
    human_wait_seconds: float = 0.0  # time its tasks spent in inboxes
    bot_calls: int = 0
    ai_calls: int = 0
    tokens: int = 0
    human_minutes: float = 0.0
    escalations: int = 0
    expiries: int = 0
    sla_breaches: int = 0
    rework: int = 0  # AI answers people changed or refused
    facts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def _utc(moment: datetime) -> datetime:
    """In UTC, as the columns store and give back every moment (a naive one is taken as UTC)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


# The steps that wait (on people, on a date): a simulation compresses them, not the machines.
WAITING_ACTORS = frozenset({ActorKind.HUMAN, ActorKind.SYSTEM})


def _event(state: ProcessState, seq: int, step: Step) -> InsightEvent:
    ended = _utc(step.ended_at) if step.ended_at else None
    due = _utc(step.due_at) if step.due_at else None
    scale = state.time_scale if step.actor in WAITING_ACTORS else 1.0
    return InsightEvent(
        process_id=state.process_id,
        seq=seq,
        process_type=state.process_type,
        business_key=state.business_key,
        activity=step.activity or step.name,
        step=step.name,
        stage=step.stage,
        actor_kind=step.actor.value,
        actor=step.by,
        department=step.department,
        role=step.role,
        status=step.status.value,
        outcome=step.outcome,
        started_at=_utc(step.started_at),
        ended_at=ended,
        objects=step.objects,
        bot_calls=int(step.actor is ActorKind.BOT),
        ai_calls=int(step.actor is ActorKind.AI),
        tokens=step.tokens,
        human_minutes=step.human_minutes,
        confidence=step.confidence,
        overridden=step.overridden,
        due_at=due,
        escalations=step.escalations,
        expired=step.expired,
        time_scale=scale,
        seconds=(ended - _utc(step.started_at)).total_seconds() * scale if ended else 0.0,
        sla_breached=bool(due and ended and ended > due),
    )


@dataclass
class RunRows:
    case: InsightCase
    events: list[InsightEvent]


def rows_of(state: ProcessState) -> RunRows:
    """A run's rows, from its live state: the one mapping the runs and the rebuild share.
    Skipped steps are not events (nothing ran); their absence is what the map shows."""
    events = [
        _event(state, seq, step)
        for seq, step in enumerate(state.steps)
        if step.status is not StepStatus.SKIPPED
    ]
    human = [e for e in events if e.actor_kind == ActorKind.HUMAN]
    machine = [e for e in events if e.actor_kind not in WAITING_ACTORS]
    started = _utc(state.started_at) if state.started_at else min(e.started_at for e in events)
    ended = None
    if state.status in FINISHED:
        ended = max([started, *(e.ended_at or e.started_at for e in events)])
    # Its waits back in business time (nothing for a real run, where every scale is 1).
    uncompressed = sum(e.seconds - e.seconds / e.time_scale for e in events)
    human_minutes = sum(e.human_minutes for e in human)
    case = InsightCase(
        process_id=state.process_id,
        process_type=state.process_type,
        business_key=state.business_key,
        requested_by=state.requested_by,
        priority=state.priority.value,
        status=state.status.value,
        started_at=started,
        ended_at=ended,
        cycle_seconds=(ended - started).total_seconds() + uncompressed if ended else None,
        touch_seconds=sum(e.seconds for e in machine) + human_minutes * 60,
        human_steps=len(human),
        human_wait_seconds=sum(e.seconds for e in human),
        bot_calls=sum(e.bot_calls for e in events),
        ai_calls=sum(e.ai_calls for e in events),
        tokens=sum(e.tokens for e in events),
        human_minutes=human_minutes,
        escalations=sum(e.escalations for e in human),
        expiries=sum(e.expired for e in human),
        sla_breaches=sum(e.sla_breached for e in human),
        rework=sum(bool(e.overridden) for e in events),
        facts=state.facts,
    )
    return RunRows(case, events)


def write_run(session: Session, state: ProcessState) -> bool:
    """Replaces the run's rows with those of this state. Idempotent: a retried or repeated
    write leaves the same rows. False when the state is older than what is there (a late
    write after a newer one): the newer rows stay."""
    rows = rows_of(state)
    known = session.get(InsightCase, state.process_id)
    if known is not None and _newer(known, rows.case):
        return False
    session.exec(delete(InsightEvent).where(col(InsightEvent.process_id) == state.process_id))
    if known is not None:
        session.delete(known)
    session.flush()
    session.add(rows.case)
    session.add_all(rows.events)
    return True


def _newer(known: InsightCase, incoming: InsightCase) -> bool:
    """Whether the rows there are from a later state than the incoming ones: a finished case
    is never replaced by an unfinished one."""
    return known.ended_at is not None and incoming.ended_at is None


@dataclass(frozen=True)
class Window:
    """The processes that started in [since, until), of one type or all."""

    since: datetime | None = None
    until: datetime | None = None
    process_type: str | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be before until")
        if self.process_type is not None and self.process_type not in PROCESS_TYPES:
            raise ValueError(f"unknown process type {self.process_type!r}")

    def cases(self) -> Any:
        """A query of the window's cases."""
        query = select(InsightCase)
        return self.where(query, InsightCase)

    def where(self, query: Any, table: type[InsightCase] | type[InsightEvent]) -> Any:
        """`query` narrowed to the window's processes (for events: their processes' steps)."""
        if table is InsightEvent:
            query = query.join(
                InsightCase, col(InsightCase.process_id) == col(InsightEvent.process_id)
            )
        if self.process_type:
            query = query.where(col(InsightCase.process_type) == self.process_type)
        if self.since:
            query = query.where(col(InsightCase.started_at) >= _utc(self.since))
        if self.until:
            query = query.where(col(InsightCase.started_at) < _utc(self.until))
        return query


def events_in(session: Session, window: Window) -> list[InsightEvent]:
    """The window's events, each process's in the order they ran."""
    query = window.where(select(InsightEvent), InsightEvent).order_by(
        col(InsightEvent.process_id), col(InsightEvent.started_at), col(InsightEvent.seq)
    )
    return list(session.exec(query).all())


def cases_in(session: Session, window: Window) -> list[InsightCase]:
    query = window.cases().order_by(col(InsightCase.started_at), col(InsightCase.process_id))
    return list(session.exec(query).all())


def clear(engine: Engine, process_ids: list[str] | None = None) -> None:
    """Empties the log, or removes these processes' rows (before a rebuild)."""
    with Session(engine) as session:
        for table in (InsightEvent, InsightCase):
            removal = delete(table)
            if process_ids is not None:
                removal = removal.where(col(table.process_id).in_(process_ids))
            session.exec(removal)
        session.commit()
