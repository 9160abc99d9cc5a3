"""The exports, read back by pm4py: what a process-mining tool would see of the log."""

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pm4py
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from core.db import create_tables, make_engine
from core.insight.exports import ExportFormat, export
from core.insight.log import InsightCase, InsightEvent, Window

ORDER = "order-fulfillment"
INVOICE = "invoice-processing"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
PO = "purchase_order:PO-1"
TRICKY = 'approved, "rush" <&> ok'  # CSV's and XML's special characters, in one outcome

pytestmark = pytest.mark.filterwarnings("ignore:Install the optional requirement:UserWarning")


@dataclass
class Log:
    engine: Engine
    cases: list[InsightCase]
    events: list[InsightEvent]


def _order(key: str, products: list[str]) -> list[tuple[str, str, str, str, str, list[str], str]]:
    order, task = f"order:{key}", f"task:{ORDER}:{key}:task:approval"
    return [
        ("classify order", "ai", "gpt-small", "sales", "", [order], "standard"),
        ("check credit", "bot", "credit_check", "finance", "", [order, "customer:C-1001"], "ok"),
        ("reserve stock", "bot", "reserve_stock", "warehouse", "", [order, *products], "held"),
        ("approve order", "human", "ann", "sales", "sales_manager", [order, task], TRICKY),
        ("ship order", "bot", "ship", "logistics", "", [order], "shipped"),
    ]


def _invoice(key: str) -> list[tuple[str, str, str, str, str, list[str], str]]:
    invoice, task = f"invoice:{key}", f"task:{INVOICE}:{key}:task:approval"
    return [
        # A control character no XML can carry, as an AI might answer it.
        ("extract invoice", "ai", "gpt-small", "finance", "", [invoice, "vendor:V-1"], "read\x0b"),
        ("match purchase order", "bot", "match", "finance", "", [invoice, PO], "ok"),
        ("approve payment", "human", "bob", "finance", "controller", [invoice, task], "approved"),
        ("pay invoice", "bot", "pay", "finance", "", [invoice], "paid"),
    ]


def _rows(process_type: str, key: str, day: int, steps, *, running: bool = False):
    """A case and its events: a step every ten minutes; when running, its last step runs."""
    process_id = f"{process_type}:{key}"
    started = T0 + timedelta(days=day)
    events = []
    for seq, (activity, kind, actor, department, role, objects, outcome) in enumerate(steps):
        start = started + timedelta(minutes=10 * seq)
        last = seq == len(steps) - 1
        events.append(
            InsightEvent(
                process_id=process_id,
                seq=seq,
                process_type=process_type,
                business_key=key,
                activity=activity,
                step=f"{activity} for {key}",
                stage="main",
                actor_kind=kind,
                actor=actor,
                department=department,
                role=role,
                status="running" if running and last else "completed",
                outcome="" if running and last else outcome,
                started_at=start,
                ended_at=None if running and last else start + timedelta(minutes=5),
                objects=objects,
                bot_calls=int(kind == "bot"),
                ai_calls=int(kind == "ai"),
                tokens=120 if kind == "ai" else 0,
                human_minutes=3.5 if kind == "human" else 0.0,
            )
        )
    case = InsightCase(
        process_id=process_id,
        process_type=process_type,
        business_key=key,
        status="running" if running else "completed",
        started_at=started,
        ended_at=None if running else events[-1].ended_at,
    )
    return case, events


@pytest.fixture
def log(tmp_path: Path) -> Log:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    create_tables(engine)
    built = [
        _rows(ORDER, "SO-1A", 0, _order("SO-1A", ["product:GAD-120"])),
        _rows(INVOICE, "INV-1", 1, _invoice("INV-1")),
        _rows(ORDER, "SO-2B", 2, _order("SO-2B", ["product:GAD-120", "product:WID-7"])),
        _rows(INVOICE, "INV-2", 3, _invoice("INV-2")),
        _rows(ORDER, "SO-3C", 4, _order("SO-3C", ["product:WID-7"])[:4], running=True),
    ]
    cases = [case for case, _ in built]
    events = [event for _, steps in built for event in steps]
    with Session(engine, expire_on_commit=False) as session:
        session.add_all(cases)
        session.add_all(events)
        session.commit()
    return Log(engine, cases, events)


def _write(log: Log, tmp_path: Path, fmt: ExportFormat, window: Window | None = None) -> Path:
    with Session(log.engine) as session:
        result = export(session, window or Window(), fmt)
    path = tmp_path / result.filename
    path.write_text(result.body, encoding="utf-8")
    return path


def _read_csv(path: Path) -> pd.DataFrame:
    return pm4py.format_dataframe(
        pd.read_csv(path, keep_default_na=False),
        case_id="case_id",
        activity_key="activity",
        timestamp_key="timestamp",
    )


def test_ocel_has_every_event_and_object_and_their_relations(log: Log, tmp_path: Path) -> None:
    ocel = pm4py.read_ocel2_json(str(_write(log, tmp_path, ExportFormat.OCEL)))

    distinct = {oid for event in log.events for oid in event.objects}
    assert len(ocel.events) == len(log.events)
    assert len(ocel.objects) == len(distinct) + len(log.cases)
    types = {oid.split(":", 1)[0] for oid in distinct} | {"process"}
    assert set(ocel.objects["ocel:type"]) == types

    human = next(e for e in log.events if e.actor_kind == "human")
    related = ocel.relations[ocel.relations["ocel:eid"] == f"{human.process_id}#{human.seq}"]
    expected = {(oid, oid.split(":", 1)[0]) for oid in human.objects}
    expected.add((f"process:{human.process_id}", "case"))
    assert set(zip(related["ocel:oid"], related["ocel:qualifier"], strict=True)) == expected

    # A product two orders share is one object, related to events of both.
    product = ocel.relations[ocel.relations["ocel:oid"] == "product:GAD-120"]
    sharing = {e.process_id for e in log.events if "product:GAD-120" in e.objects}
    assert len(sharing) == 2
    assert {eid.split("#")[0] for eid in product["ocel:eid"]} == sharing

    row = ocel.events[ocel.events["ocel:eid"] == f"{human.process_id}#{human.seq}"].iloc[0]
    assert row["outcome"] == human.outcome == TRICKY
    assert row["actor_kind"] == "human"
    assert row["human_minutes"] == human.human_minutes
    cases = ocel.objects[ocel.objects["ocel:type"] == "process"]
    assert Counter(cases["status"]) == Counter(case.status for case in log.cases)


def test_ocel_places_a_running_step_at_its_start(log: Log, tmp_path: Path) -> None:
    ocel = pm4py.read_ocel2_json(str(_write(log, tmp_path, ExportFormat.OCEL)))

    running = next(e for e in log.events if e.ended_at is None)
    row = ocel.events[ocel.events["ocel:eid"] == f"{running.process_id}#{running.seq}"].iloc[0]
    assert row["ocel:timestamp"] == pd.Timestamp(running.started_at)
    assert row["status"] == "running"


def test_xes_has_a_trace_per_case_with_its_events_in_order(log: Log, tmp_path: Path) -> None:
    df = pm4py.read_xes(str(_write(log, tmp_path, ExportFormat.XES)))

    assert len(df) == len(log.events)
    assert df["case:concept:name"].nunique() == len(log.cases)
    assert Counter(df["concept:name"]) == Counter(e.activity for e in log.events)
    for case in log.cases:
        ran = [e.activity for e in log.events if e.process_id == case.process_id]
        assert list(df[df["case:concept:name"] == case.process_id]["concept:name"]) == ran
    traces = df.drop_duplicates("case:concept:name")
    assert Counter(traces["case:process_type"]) == Counter(c.process_type for c in log.cases)
    assert Counter(traces["case:status"]) == Counter(c.status for c in log.cases)

    human = next(e for e in log.events if e.outcome == TRICKY)
    row = df[(df["case:concept:name"] == human.process_id) & (df["concept:name"] == human.activity)]
    assert row.iloc[0]["outcome"] == TRICKY  # escaped, then read back as written
    assert (row.iloc[0]["org:resource"], row.iloc[0]["org:role"]) == (human.actor, human.role)
    assert set(df["lifecycle:transition"]) == {"complete"}
    extracted = df[df["concept:name"] == "extract invoice"]["outcome"]
    assert set(extracted) == {e.outcome[:-1] for e in log.events if e.outcome.endswith("\x0b")}
    assert df["tokens"].sum() == sum(e.tokens for e in log.events)


def test_csv_has_a_row_per_event(log: Log, tmp_path: Path) -> None:
    df = _read_csv(_write(log, tmp_path, ExportFormat.CSV))

    assert len(df) == len(log.events)
    assert df["case:concept:name"].nunique() == len(log.cases)
    activities = pm4py.get_event_attribute_values(df, "concept:name")
    assert activities == dict(Counter(e.activity for e in log.events))
    tricky = [e.process_id for e in log.events if e.outcome == TRICKY]
    assert list(df[df["outcome"] == TRICKY]["case_id"]) == tricky  # quoted, read back as written
    reserved = next(e for e in log.events if len(e.objects) > 2)
    row = df[(df["case_id"] == reserved.process_id) & (df["activity"] == reserved.activity)]
    assert row.iloc[0]["objects"].split(";") == reserved.objects
    assert df["bot_calls"].sum() == sum(e.bot_calls for e in log.events)
    assert df["human_minutes"].sum() == sum(e.human_minutes for e in log.events)


def _case_ids(fmt: ExportFormat, path: Path) -> set[str]:
    if fmt is ExportFormat.OCEL:
        objects = pm4py.read_ocel2_json(str(path)).objects
        cases = objects[objects["ocel:type"] == "process"]["ocel:oid"]
        return {oid.removeprefix("process:") for oid in cases}
    if fmt is ExportFormat.XES:
        return set(pm4py.read_xes(str(path))["case:concept:name"])
    return set(_read_csv(path)["case:concept:name"])


@pytest.mark.parametrize("fmt", list(ExportFormat))
@pytest.mark.parametrize(
    "window",
    [
        Window(process_type=ORDER),
        Window(since=T0 + timedelta(days=1), until=T0 + timedelta(days=3)),
        Window(since=T0 + timedelta(days=2), process_type=INVOICE),
    ],
    ids=["orders", "since-until", "invoices-since"],
)
def test_a_window_exports_only_its_cases(
    log: Log, tmp_path: Path, fmt: ExportFormat, window: Window
) -> None:
    expected = {
        case.process_id
        for case in log.cases
        if (window.process_type is None or case.process_type == window.process_type)
        and (window.since is None or case.started_at >= window.since)
        and (window.until is None or case.started_at < window.until)
    }
    assert 0 < len(expected) < len(log.cases)
    assert _case_ids(fmt, _write(log, tmp_path, fmt, window)) == expected


def test_an_empty_window_gives_empty_well_formed_files(log: Log, tmp_path: Path) -> None:
    window = Window(since=T0 + timedelta(days=30))
    rows = _write(log, tmp_path, ExportFormat.CSV, window).read_text().splitlines()
    assert len(rows) == 1
    assert rows[0].startswith("case_id,activity,timestamp,start_timestamp,resource,role")
    ocel = json.loads(_write(log, tmp_path, ExportFormat.OCEL, window).read_text())
    assert (ocel["events"], ocel["objects"], ocel["eventTypes"]) == ([], [], [])
    xes = ET.parse(_write(log, tmp_path, ExportFormat.XES, window)).getroot()
    assert xes.findall("{http://www.xes-standard.org/}trace") == []
