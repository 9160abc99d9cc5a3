"""The process map as it runs: what directly followed what in each case, how often and how
long it took, drawn against the process's design.

Process mining's classic picture (a directly-follows graph) kept small, so that insight's API
can return it as data and draw it without a Graphviz binary: the design's stages give the
layout's rows, so what ran out of order shows as red, dashed edges going the wrong way.
"""

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise

from pydantic import BaseModel
from sqlmodel import Session

from core.insight.log import InsightCase, InsightEvent, Window, cases_in, events_in
from workflows.contracts.catalogue import PROCESS_TYPES
from workflows.contracts.processes import ProcessType

START = "▶ start"
FINAL_STATUSES = ("completed", "rejected", "cancelled", "failed")  # each has its end node


def end_node(status: str) -> str:
    """The node a case of this final status ends in."""
    return f"■ {status}"


END_NODES = frozenset(end_node(status) for status in FINAL_STATUSES)
_END_ORDER = {end_node(status): index for index, status in enumerate(FINAL_STATUSES)}


class MapNode(BaseModel):
    """An activity: how often it ran, how long a step of it took, who usually did it."""

    activity: str
    actor_kind: str  # the most frequent among its steps
    department: str  # likewise
    count: int
    median_seconds: float | None  # None while none of its steps has ended
    designed_stage: str | None  # the first designed stage that has it; None: not designed


class MapEdge(BaseModel):
    """`target` ran directly after `source` in `count` cases' paths (a self loop: again)."""

    source: str
    target: str
    count: int
    median_seconds: float | None  # from the source's end to the target's end
    designed: bool  # whether a run could take it and still conform to the design


class Deviation(BaseModel):
    """A run that does not conform, with its first violation as a sentence."""

    process_id: str
    business_key: str
    reason: str


class DesignedStageView(BaseModel):
    name: str
    activities: list[str]


class ProcessMap(BaseModel):
    """The map of one process type's cases; the API returns it as-is."""

    process_type: str
    cases: int
    designed_stages: list[DesignedStageView]
    nodes: list[MapNode]
    edges: list[MapEdge]  # between activities, START and the end nodes
    deviations: list[Deviation]
    conforming_cases: int


# -- The design and the conformance rule ------------------------------------------------------


class _Design:
    """Which stages each activity belongs to, and the rule of DesignedStage over them: a step
    may stay in the stage of the step before it or move to a later one, never back."""

    def __init__(self, ptype: ProcessType) -> None:
        self.stages = ptype.design
        self.stages_of: dict[str, list[int]] = {}
        for index, stage in enumerate(self.stages):
            for activity in stage.activities:
                self.stages_of.setdefault(activity, []).append(index)

    def stage_from(self, activity: str, current: int) -> int | None:
        """The earliest stage at or after `current` that has `activity` (greedy: it leaves the
        most room for the steps after it); None when there is none."""
        return next((i for i in self.stages_of.get(activity, ()) if i >= current), None)

    def first_stage(self, activity: str) -> str | None:
        stages = self.stages_of.get(activity)
        return self.stages[stages[0]].name if stages else None

    def first_violation(self, activities: Iterable[str]) -> str | None:
        """Why a run's steps, in the order they ran, do not conform; None when they do."""
        current, previous = 0, ""
        for activity in activities:
            if activity not in self.stages_of:
                return f"'{activity}' is not in the design"
            stage = self.stage_from(activity, current)
            if stage is None:
                return (
                    f"'{activity}' ran after '{previous}' (stage {self.stages[current].name}), "
                    "which the design has before it"
                )
            current, previous = stage, activity
        return None

    def can_follow(self, source: str, target: str) -> bool:
        """Whether some conforming run could take the edge. Per edge, not per run: a run
        judged on its whole path (its deviation) may still take only designed edges."""
        if source == START or target in END_NODES:
            return all(node in self.stages_of for node in (source, target) if is_activity(node))
        if source not in self.stages_of or target not in self.stages_of:
            return False
        return max(self.stages_of[target]) >= min(self.stages_of[source])

    def rank(self, node: str) -> tuple[int, int, str]:
        """Where a node comes in lists and rows: start, the design's order, the activities the
        design lacks (by name), the end nodes."""
        last = len(self.stages)
        if node == START:
            return (-1, 0, "")
        if node in END_NODES:
            return (last + 1, _END_ORDER[node], "")
        stages = self.stages_of.get(node)
        if not stages:
            return (last, 0, node)
        return (stages[0], self.stages[stages[0]].activities.index(node), "")


def is_activity(node: str) -> bool:
    return node != START and node not in END_NODES


# -- Building the map -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Point:
    """A node on a case's path: when the case was done there, and when the time of the next
    step counts from (a running step's start: it has no end yet)."""

    node: str
    reached: datetime | None
    leaves: datetime | None
    stretch: float = 0.0  # seconds a simulated run's compressed wait adds in business time


def _path(case: InsightCase, events: Sequence[InsightEvent]) -> list[_Point]:
    """The case's path from START through its steps to its end node (none while it runs)."""
    points = [_Point(START, case.started_at, case.started_at)]
    points += [
        _Point(e.activity, e.ended_at, e.ended_at or e.started_at, _stretch(e)) for e in events
    ]
    if case.status in FINAL_STATUSES:
        points.append(_Point(end_node(case.status), case.ended_at, case.ended_at))
    return points


def _stretch(event: InsightEvent) -> float:
    return (event.time_scale - 1) * (_seconds(event.started_at, event.ended_at) or 0.0)


def _business_seconds(event: InsightEvent) -> float | None:
    measured = _seconds(event.started_at, event.ended_at)
    return None if measured is None else measured * event.time_scale


def _seconds(since: datetime | None, until: datetime | None) -> float | None:
    """Parallel steps can end before the one that started before them: zero, not negative."""
    if since is None or until is None:
        return None
    return max(0.0, (_aware(until) - _aware(since)).total_seconds())


def _aware(moment: datetime) -> datetime:
    """The log's moments are UTC, with or without a zone depending on where they come from
    (built in memory, or read back from a database)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _median(values: Iterable[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def _most_common(values: Iterable[str]) -> str:
    return Counter(values).most_common(1)[0][0]


def _by_case(events: Sequence[InsightEvent]) -> dict[str, list[InsightEvent]]:
    """Each process's events in the order they ran (events_in's order, kept for any caller)."""
    grouped: dict[str, list[InsightEvent]] = defaultdict(list)
    for event in events:
        grouped[event.process_id].append(event)
    return {pid: sorted(run, key=lambda e: (e.started_at, e.seq)) for pid, run in grouped.items()}


def _nodes(events: Iterable[InsightEvent], design: _Design) -> list[MapNode]:
    by_activity: dict[str, list[InsightEvent]] = defaultdict(list)
    for event in events:
        by_activity[event.activity].append(event)
    return [
        MapNode(
            activity=activity,
            actor_kind=_most_common(e.actor_kind for e in steps),
            department=_most_common(e.department for e in steps),
            count=len(steps),
            median_seconds=_median(_business_seconds(e) for e in steps),
            designed_stage=design.first_stage(activity),
        )
        for activity, steps in sorted(by_activity.items(), key=lambda item: design.rank(item[0]))
    ]


def _edges(paths: Iterable[list[_Point]], design: _Design) -> list[MapEdge]:
    durations: dict[tuple[str, str], list[float | None]] = defaultdict(list)
    for path in paths:
        for source, target in pairwise(path):
            seconds = _seconds(source.leaves, target.reached)
            durations[source.node, target.node].append(
                None if seconds is None else seconds + target.stretch
            )
    return [
        MapEdge(
            source=source,
            target=target,
            count=len(seconds),
            median_seconds=_median(seconds),
            designed=design.can_follow(source, target),
        )
        for (source, target), seconds in sorted(
            durations.items(), key=lambda item: (design.rank(item[0][0]), design.rank(item[0][1]))
        )
    ]


def _deviations(
    cases: Iterable[InsightCase], runs: dict[str, list[InsightEvent]], design: _Design
) -> list[Deviation]:
    found = []
    for case in sorted(cases, key=lambda c: c.process_id):
        reason = design.first_violation(e.activity for e in runs.get(case.process_id, []))
        if reason is not None:
            found.append(
                Deviation(process_id=case.process_id, business_key=case.business_key, reason=reason)
            )
    return found


def build_map(
    events: Sequence[InsightEvent], cases: Sequence[InsightCase], ptype: ProcessType
) -> ProcessMap:
    """The map of `ptype`'s cases among `cases` and of their events (others are ignored)."""
    design = _Design(ptype)
    mine = [case for case in cases if case.process_type == ptype.name]
    runs = _by_case(events)
    steps = [event for case in mine for event in runs.get(case.process_id, [])]
    deviations = _deviations(mine, runs, design)
    return ProcessMap(
        process_type=ptype.name,
        cases=len(mine),
        designed_stages=[
            DesignedStageView(name=stage.name, activities=list(stage.activities))
            for stage in ptype.design
        ],
        nodes=_nodes(steps, design),
        edges=_edges((_path(case, runs.get(case.process_id, [])) for case in mine), design),
        deviations=deviations,
        conforming_cases=len(mine) - len(deviations),
    )


def map_for(session: Session, window: Window) -> ProcessMap:
    """The map of the window's processes; one type only, since a map draws one design."""
    if not window.process_type:
        raise ValueError("process_type is required")
    ptype = PROCESS_TYPES[window.process_type]
    return build_map(events_in(session, window), cases_in(session, window), ptype)


_UNITS = ((86_400, "d"), (3_600, "h"), (60, "min"))


def human_duration(seconds: float | None) -> str:
    """Like "4.2 s", "3.1 min", "2.0 h" or "1.5 d": a median read at a glance."""
    if seconds is None:
        return "—"
    for size, unit in _UNITS:
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"
