"""Insight at scale: the KPI report over N finished processes, on SQLite and PostgreSQL.

Fills a fresh SQLite file and a fresh PostgreSQL database (made for the run, dropped after)
with the event log of N finished processes shaped like Baton's (orders with bot, AI and human
steps, some approved, escalated, corrected or rejected; invoices with reviews and approvals),
written through the same mapping the runs use (`rows_of`). Then times the KPI report (the API's
GET /v1/insight/kpis, without HTTP): over every process, over one process type, and over the
last week; prints p50/p95 per case and backend (target: p95 <= 1 s at 10,000 processes).

    .venv/bin/python bench/insight_kpis.py [--processes 10000] [--requests 20]
        [--backends sqlite,postgresql]
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

# Run as a file (python bench/insight_kpis.py), the repository root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import fresh_database, percentile
from core.db import create_tables, make_engine
from core.insight.kpis import kpis
from core.insight.log import Window, rows_of
from core.settings import UnitCosts
from workflows.contracts.processes import ProcessState, ProcessStatus, Step, StepStatus
from workflows.contracts.tasks import ActorKind

NOW = datetime.now(UTC)
CHUNK = 2_000
# An order's bot steps after its approval (if any), as Baton's order runs them.
FULFIL = (
    "reserve stock",
    "book the revenue forecast",
    "notify the customer",
    "close the CRM interaction",
)


def _step(
    rng: random.Random, at: datetime, activity: str, kind: ActorKind, seconds: float, **more: object
) -> Step:
    return Step(
        name=activity,
        activity=activity,
        actor=kind,
        status=StepStatus.COMPLETED,
        started_at=at,
        ended_at=at + timedelta(seconds=seconds),
        department=rng.choice(("sales", "inventory", "finance", "production")),
        **more,  # type: ignore[arg-type]
    )


def order(rng: random.Random, number: int) -> ProcessState:
    at = NOW - timedelta(days=rng.uniform(0, 30))
    began, steps = at, []
    for activity in ("record the interaction in the CRM", "read the catalogue"):
        steps.append(_step(rng, at, activity, ActorKind.BOT, rng.uniform(0.05, 0.5), by="crm"))
        at = steps[-1].ended_at or at
    if rng.random() < 0.4:  # free text: the AI reads it, a rep checks the weak ones
        confidence = rng.uniform(0.4, 1.0)
        steps.append(
            _step(
                rng,
                at,
                "extract the order lines",
                ActorKind.AI,
                0.2,
                by="local-orders",
                confidence=confidence,
                overridden=(rng.random() < 0.3) if confidence < 0.75 else None,
            )
        )
        if confidence < 0.75:
            steps.append(
                _step(
                    rng,
                    at,
                    "review lines",
                    ActorKind.HUMAN,
                    rng.uniform(60, 7200),
                    role="sales_rep",
                    outcome="confirm",
                    human_minutes=5.0,
                )
            )
    steps.append(_step(rng, at, "check credit", ActorKind.BOT, rng.uniform(0.05, 0.5), by="fin"))
    steps.append(
        _step(rng, at, "score the risk", ActorKind.AI, 0.05, by="local-risk", confidence=0.9)
    )
    amount = rng.lognormvariate(8.5, 1.0)
    if amount > 10_000:
        wait = rng.lognormvariate(8, 1)
        steps.append(
            _step(
                rng,
                at,
                "approval",
                ActorKind.HUMAN,
                wait,
                role="sales_manager",
                outcome=rng.choice(("approve",) * 9 + ("reject",)),
                human_minutes=5.0,
                escalations=int(wait > 14_400),
                due_at=at + timedelta(hours=4),
            )
        )
    for activity in FULFIL:
        steps.append(_step(rng, at, activity, ActorKind.BOT, rng.uniform(0.05, 0.5), by=activity))
    ended = max(step.ended_at or at for step in steps)
    return ProcessState(
        process_id=f"order-fulfillment:SO-{number:08d}",
        process_type="order-fulfillment",
        business_key=f"SO-{number:08d}",
        status=rng.choice((ProcessStatus.COMPLETED,) * 9 + (ProcessStatus.REJECTED,)),
        started_at=began,
        steps=[s.model_copy(update={"ended_at": min(s.ended_at or ended, ended)}) for s in steps],
        facts={"amount": amount, "risk": "low", "credit_available": 50_000.0},
    )


def invoice(rng: random.Random, number: int) -> ProcessState:
    at = NOW - timedelta(days=rng.uniform(0, 30))
    steps = [
        _step(rng, at, "read the vendors", ActorKind.BOT, 0.1, by="erp.get_vendors"),
        _step(
            rng,
            at,
            "extract the invoice",
            ActorKind.AI,
            0.3,
            by="local-invoices",
            confidence=rng.uniform(0.5, 1.0),
        ),
    ]
    if rng.random() < 0.3:
        steps.append(
            _step(
                rng,
                at,
                "review invoice",
                ActorKind.HUMAN,
                rng.uniform(60, 3600),
                role="ap_clerk",
                outcome="confirm",
                human_minutes=5.0,
            )
        )
    steps.append(_step(rng, at, "register the invoice", ActorKind.BOT, 0.1, by="finance.register"))
    return ProcessState(
        process_id=f"invoice-processing:INV-{number:08d}",
        process_type="invoice-processing",
        business_key=f"INV-{number:08d}",
        status=ProcessStatus.COMPLETED,
        started_at=at,
        steps=steps,
        facts={"amount": rng.uniform(100, 60_000), "extraction_confidence": 0.9},
    )


def runs(n: int) -> Iterator[ProcessState]:
    rng = random.Random(7)
    for number in range(n):
        yield order(rng, number) if rng.random() < 2 / 3 else invoice(rng, number)


def fill(url: str, n: int) -> tuple[float, int]:
    engine = make_engine(url)
    create_tables(engine)
    began, events, batch = time.perf_counter(), 0, []
    for state in runs(n):
        rows = rows_of(state)
        batch += [rows.case, *rows.events]
        events += len(rows.events)
        if len(batch) >= CHUNK:
            _write(engine, batch)
            batch = []
    _write(engine, batch)
    if engine.dialect.name == "postgresql":  # what autovacuum does soon after a bulk load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return time.perf_counter() - began, events


def _write(engine: object, rows: list[object]) -> None:
    with Session(engine) as session:  # type: ignore[arg-type]
        session.add_all(rows)
        session.commit()


def timed(url: str, window: Window, requests: int) -> list[float]:
    engine = make_engine(url)
    seconds = []
    try:
        for _ in range(requests):
            began = time.perf_counter()
            with Session(engine) as session:
                report = kpis(session, window, UnitCosts())
            seconds.append(time.perf_counter() - began)
        assert report.overall.volume.started > 0
    finally:
        engine.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=20, help="reports timed per case")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    cases = {
        "every process": Window(),
        "orders only": Window(process_type="order-fulfillment"),
        "the last 7 days": Window(since=NOW - timedelta(days=7)),
    }
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            with fresh_database(backend, Path(tmp)) as url:
                took, events = fill(url, args.processes)
                print(f"{backend}: {args.processes:,} processes, {events:,} steps in {took:.0f} s")
                for name, window in cases.items():
                    ms = [s * 1000 for s in timed(url, window, args.requests)]
                    lines.append(
                        f"{backend:<10} {name:<16} p50 {statistics.median(ms):>6.0f} ms  "
                        f"p95 {percentile(ms, 0.95):>6.0f} ms  ({len(ms)} reports)"
                    )
                    print(lines[-1], flush=True)
    print(f"\nKPI report over {args.processes:,} finished processes (target: p95 <= 1000 ms)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
