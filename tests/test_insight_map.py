"""The process map: directly-follows edges, their counts and medians, conformance to the
order-fulfillment design, and the SVG picture. Expectations are computed from the test's own
events, not typed in."""

import statistics
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from core.db import create_tables, make_engine
from core.insight.log import InsightCase, InsightEvent, Window
from core.insight.map_svg import UNDESIGNED_COLOUR, render_svg
from core.insight.process_map import (
    START,
    ProcessMap,
    build_map,
    end_node,
    human_duration,
    map_for,
)
from workflows.contracts.invoices import INVOICE_PROCESSING
from workflows.contracts.orders import ORDER_FULFILLMENT
from workflows.contracts.processes import process_id_for

SVG = "{http://www.w3.org/2000/svg}"
BASE = datetime(2025, 3, 3, 9, 0)
WAIT = timedelta(seconds=2)  # between a step's end and the next step's start
FINISHED = {"completed", "rejected", "cancelled", "failed"}

CAPTURE = ["record the interaction in the CRM", "classify the message", "extract the order lines"]
CHECK = ["check credit", "score the risk"]
FULFIL = ["reserve stock", "schedule production", "book the revenue forecast"]
CONFIRM = ["notify the customer", "close the CRM interaction"]

KINDS = {
    "classify the message": "ai",
    "extract the order lines": "ai",
    "score the risk": "ai",
    "approval": "human",
    "audit": "human",
}
SECONDS = {"approval": 3_600.0, "audit": 600.0, "score the risk": 4.0}  # others: 1 s


@dataclass(frozen=True)
class Run:
    key: str
    status: str
    activities: list[str]  # the last one still runs when the case does


RUNS = [
    Run("SO-AUTO1", "completed", CAPTURE + CHECK + FULFIL + CONFIRM),
    Run("SO-AUTO2", "completed", CAPTURE + CHECK + FULFIL + CONFIRM),
    Run("SO-APPROVED", "completed", [*CAPTURE, *CHECK, "approval", *FULFIL, *CONFIRM]),
    Run(
        "SO-REJECTED", "rejected", [*CAPTURE, *CHECK, "reserve stock", "release stock", CONFIRM[0]]
    ),
    Run(
        "SO-TWICE",
        "completed",
        [*CAPTURE, *CHECK, "reserve stock", "schedule production", *FULFIL[1:], *CONFIRM],
    ),
    Run("SO-CANCELLED", "cancelled", CAPTURE[:2]),
    Run("SO-WAITING", "waiting", [*CAPTURE, *CHECK, "approval"]),
    Run("SO-LATE", "completed", [*CAPTURE, *CHECK, "reserve stock", "approval", *FULFIL[1:]]),
    Run("SO-AUDITED", "failed", [*CAPTURE, "check credit", "audit", "score the risk"]),
]
DEVIATING = {
    "SO-LATE": (
        "'approval' ran after 'reserve stock' (stage fulfilment), which the design has before it"
    ),
    "SO-AUDITED": "'audit' is not in the design",
}
UNDESIGNED = {
    ("reserve stock", "approval"),
    ("check credit", "audit"),
    ("audit", "score the risk"),
}


def events_of(run: Run, start: datetime, scale: float, ptype: str) -> list[InsightEvent]:
    """The run's steps one after the other, each `scale` times its usual length."""
    events, at = [], start
    for seq, activity in enumerate(run.activities):
        last = seq == len(run.activities) - 1
        ended = (
            None
            if last and run.status not in FINISHED
            else at + timedelta(seconds=SECONDS.get(activity, 1.0) * scale)
        )
        events.append(
            InsightEvent(
                process_id=process_id_for(ptype, run.key),
                seq=seq,
                process_type=ptype,
                business_key=run.key,
                activity=activity,
                step=activity,
                stage="",
                actor_kind=KINDS.get(activity, "bot"),
                actor="test",
                department="sales",
                status="running" if ended is None else "completed",
                started_at=at,
                ended_at=ended,
            )
        )
        at = (ended or at) + WAIT
    return events


def make_case(
    run: Run, index: int, ptype: str = ORDER_FULFILLMENT.name, base: datetime = BASE
) -> tuple[InsightCase, list[InsightEvent]]:
    """A case that starts a second before its first step, an hour after the one before it."""
    started = base + timedelta(hours=index)
    events = events_of(run, started + timedelta(seconds=1), scale=1 + 0.5 * index, ptype=ptype)
    ended = max((e.ended_at for e in events if e.ended_at), default=started)
    case = InsightCase(
        process_id=process_id_for(ptype, run.key),
        process_type=ptype,
        business_key=run.key,
        status=run.status,
        started_at=started,
        ended_at=ended if run.status in FINISHED else None,
    )
    return case, events


def sample(base: datetime = BASE) -> tuple[list[InsightCase], list[InsightEvent]]:
    made = [make_case(run, index, base=base) for index, run in enumerate(RUNS)]
    return [case for case, _ in made], [event for _, events in made for event in events]


def expected_edges(
    cases: list[InsightCase], events: list[InsightEvent]
) -> dict[tuple[str, str], list[float | None]]:
    """By hand: each case's path start → steps → end, and the time between the ends (the
    test's steps run one after the other; the last one of a running case has no end)."""
    durations: dict[tuple[str, str], list[float | None]] = defaultdict(list)
    for case in cases:
        steps = [e for e in events if e.process_id == case.process_id]
        nodes = [START, *(e.activity for e in steps)]
        moments = [case.started_at, *(e.ended_at for e in steps)]
        if case.status in FINISHED:
            nodes.append(end_node(case.status))
            moments.append(case.ended_at)
        for i in range(len(nodes) - 1):
            since, until = moments[i], moments[i + 1]
            assert since is not None
            seconds = (until - since).total_seconds() if until else None
            durations[nodes[i], nodes[i + 1]].append(seconds)
    return durations


def median_of_known(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


@pytest.fixture
def pmap() -> ProcessMap:
    cases, events = sample()
    return build_map(events, cases, ORDER_FULFILLMENT)


def test_edges_count_and_time_what_directly_followed_what(pmap: ProcessMap) -> None:
    cases, events = sample()
    expected = expected_edges(cases, events)
    edges = {(e.source, e.target): e for e in pmap.edges}
    assert {key: edge.count for key, edge in edges.items()} == {
        key: len(seconds) for key, seconds in expected.items()
    }
    assert {key: edge.median_seconds for key, edge in edges.items()} == {
        key: median_of_known(seconds) for key, seconds in expected.items()
    }
    # The waiting case's approval has no end yet: it counts, but only the other one is timed.
    assert edges["score the risk", "approval"].count == 2
    assert (
        edges["score the risk", "approval"].median_seconds
        == expected["score the risk", "approval"][0]
    )
    loop = edges["schedule production", "schedule production"]
    assert (loop.count, loop.designed) == (1, True)


def test_each_final_status_has_its_end_node_and_running_cases_none(pmap: ProcessMap) -> None:
    ends: Counter[str] = Counter()
    for edge in pmap.edges:
        ends[edge.target] += edge.count if edge.target.startswith("■ ") else 0
    ends = +ends  # without the zeros
    finished = Counter(end_node(run.status) for run in RUNS if run.status in FINISHED)
    assert ends == finished
    assert set(finished) == {end_node(s) for s in FINISHED}
    assert not [e for e in pmap.edges if e.source == "approval" and e.target.startswith("■")]
    assert sum(e.count for e in pmap.edges if e.source == START) == len(RUNS)


def test_nodes_count_steps_and_their_median_time(pmap: ProcessMap) -> None:
    _, events = sample()
    by_activity: dict[str, list[InsightEvent]] = defaultdict(list)
    for event in events:
        by_activity[event.activity].append(event)
    nodes = {node.activity: node for node in pmap.nodes}
    assert {a: n.count for a, n in nodes.items()} == {a: len(s) for a, s in by_activity.items()}
    assert {a: n.median_seconds for a, n in nodes.items()} == {
        activity: statistics.median(
            (e.ended_at - e.started_at).total_seconds() for e in steps if e.ended_at
        )
        for activity, steps in by_activity.items()
    }
    assert nodes["approval"].actor_kind == "human"
    assert nodes["notify the customer"].designed_stage == "confirmation"  # its first stage
    assert nodes["release stock"].designed_stage == "compensating"
    assert nodes["audit"].designed_stage is None
    assert [n.activity for n in pmap.nodes][:2] == CAPTURE[:2]  # in the design's order
    assert pmap.nodes[-1].activity == "audit"  # what the design lacks comes last


def test_only_the_deviating_runs_are_listed_with_their_first_violation(pmap: ProcessMap) -> None:
    assert {d.business_key: d.reason for d in pmap.deviations} == DEVIATING
    assert pmap.cases == len(RUNS)
    assert pmap.conforming_cases == len(RUNS) - len(DEVIATING)
    assert [s.name for s in pmap.designed_stages] == [s.name for s in ORDER_FULFILLMENT.design]


def test_edges_the_design_does_not_have_are_marked(pmap: ProcessMap) -> None:
    assert {(e.source, e.target) for e in pmap.edges if not e.designed} == UNDESIGNED


@pytest.mark.parametrize(
    ("activities", "reason"),
    [
        # "notify the customer" is in two stages: the earliest one allowed is taken.
        ([*FULFIL, *CONFIRM], None),
        (["reserve stock", "release stock", "notify the customer"], None),
        (
            ["release stock", "notify the customer", "close the CRM interaction"],
            "'close the CRM interaction' ran after 'notify the customer' (stage compensating),"
            " which the design has before it",
        ),
        (
            ["check credit", "classify the message", "audit"],  # the first violation only
            "'classify the message' ran after 'check credit' (stage check), "
            "which the design has before it",
        ),
    ],
)
def test_the_conformance_rule(activities: list[str], reason: str | None) -> None:
    case, events = make_case(Run("SO-RULE", "completed", activities), 0)
    pmap = build_map(events, [case], ORDER_FULFILLMENT)
    assert [d.reason for d in pmap.deviations] == ([] if reason is None else [reason])
    assert pmap.conforming_cases == int(reason is None)


def test_other_process_types_and_parallel_steps() -> None:
    """Cases of another type are not on the map; a parallel step that ends before the one
    started before it gives a zero, not a negative, duration."""
    case, events = make_case(Run("SO-PAR", "completed", FULFIL[:2]), 0)
    first, second = events
    assert first.ended_at is not None
    second.started_at = first.started_at
    second.ended_at = first.ended_at - timedelta(seconds=0.5)
    other, other_events = make_case(
        Run("INV-1", "completed", ["audit"]), 1, INVOICE_PROCESSING.name
    )
    pmap = build_map([*events, *other_events], [case, other], ORDER_FULFILLMENT)
    assert pmap.cases == 1
    edges = {(e.source, e.target): e.median_seconds for e in pmap.edges}
    assert edges[first.activity, second.activity] == 0.0
    assert "audit" not in {n.activity for n in pmap.nodes}


def test_the_svg_draws_every_activity_and_marks_undesigned_edges(pmap: ProcessMap) -> None:
    root = ET.fromstring(render_svg(pmap))
    assert root.tag == f"{SVG}svg"
    for size in ("width", "height", "viewBox"):
        assert root.get(size)
    text = " ".join(root.itertext())
    for node in pmap.nodes:
        assert node.activity in text
    for stage in ORDER_FULFILLMENT.design:
        assert stage.name in text
    dashed_red = [
        path
        for path in root.iter(f"{SVG}path")
        if path.get("stroke") == UNDESIGNED_COLOUR and path.get("stroke-dasharray")
    ]
    assert len(dashed_red) == len(UNDESIGNED)
    markers = {m.get("id") for m in root.iter(f"{SVG}marker")}
    arrows = [p.get("marker-end", "") for p in root.iter(f"{SVG}path") if p.get("marker-end")]
    assert len(arrows) == len(pmap.edges)  # every edge has its arrowhead
    assert {arrow.removeprefix("url(#").removesuffix(")") for arrow in arrows} <= markers


def test_the_svg_escapes_names() -> None:
    name = 'check "<&>" credit'
    case, events = make_case(
        Run("SO-ODD", "completed", ["record the interaction in the CRM", name]), 0
    )
    svg = render_svg(build_map(events, [case], ORDER_FULFILLMENT))
    assert "<&>" not in svg
    assert "&lt;&amp;&gt;" in svg
    assert name in " ".join(ET.fromstring(svg).itertext())


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(4.2, "4.2 s"), (186, "3.1 min"), (7_200, "2.0 h"), (129_600, "1.5 d"), (None, "—")],
)
def test_durations_read_at_a_glance(seconds: float | None, shown: str) -> None:
    assert human_duration(seconds) == shown


def test_map_for_reads_the_window_from_the_database(tmp_path: Path) -> None:
    """The database keeps the moments with their zone (SQLModel's UTCDateTime): the map is
    the same as the one of the naive UTC moments built in memory."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    create_tables(engine)
    aware = BASE.replace(tzinfo=UTC)
    cases, events = sample(aware)
    invoice, invoice_events = make_case(
        Run("INV-1", "completed", ["audit"]), 0, INVOICE_PROCESSING.name, aware
    )
    with Session(engine) as session:
        session.add_all([*cases, *events, invoice, *invoice_events])
        session.commit()
    with Session(engine) as session:
        pmap = map_for(session, Window(process_type=ORDER_FULFILLMENT.name))
        with pytest.raises(ValueError, match="process_type is required"):
            map_for(session, Window())
    fresh_cases, fresh_events = sample()
    assert pmap == build_map(fresh_events, fresh_cases, ORDER_FULFILLMENT)
    assert pmap.cases == len(RUNS)
