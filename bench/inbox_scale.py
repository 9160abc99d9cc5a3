"""Inbox at scale: GET /v1/tasks, pages of 50, over N open tasks on SQLite and PostgreSQL.

Fills a fresh SQLite file and a fresh PostgreSQL database (made for the run, dropped after) with
N open tasks shaped like Baton's: order approvals for sales managers that escalate to the finance
controller, invoice reviews for AP clerks and invoice approvals for the finance controller; varied
due times (some overdue, some none), urgent and normal ones, some claimed. Then, through the real
FastAPI app in-process (httpx ASGITransport, real bearer keys), times pages of 50 for every filter
and sort order, following each page's cursor to the next, for a user with one role, a user with
two and an admin. Prints p50/p99 per case and backend, beside GET /v1/me's as a yardstick of
the machine's load at the time; with --plans, each case's query plan (EXPLAIN).

    .venv/bin/python bench/inbox_scale.py [--tasks 1000000] [--requests 100]
        [--backends sqlite,postgresql] [--plans]
"""

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, event, text

# Run as a file (python bench/inbox_scale.py), the repository root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import create_app
from bench.stack import fresh_database
from core.db import make_engine, prepare_database, session_scope
from core.inbox import NO_DUE_TIME, TaskCandidate, audience_of
from core.inbox import HumanTask as Task
from core.settings import Environment, Settings
from core.users import add_user
from workflows.contracts.priority import Priority
from workflows.contracts.roles import Role
from workflows.contracts.tasks import TaskForm

CHUNK = 20_000
PAGE = 50
NOW = datetime.now(UTC)
FORM = TaskForm().model_dump(mode="json")
PEOPLE = ["bob", "gina", "carol", "dave", "henry", "iris"]

# What Baton's processes ask for: (share, process type, candidate roles, escalation level,
# share overdue). An order approval moves to the finance controller when its due time passes,
# so a sales manager's are seldom overdue and the escalated ones mostly are.
SHAPES = [
    (0.50, "order-fulfillment", [Role.SALES_MANAGER], 0, 0.001),
    (0.08, "order-fulfillment", [Role.FINANCE_CONTROLLER], 1, 0.9),
    (0.27, "invoice-processing", [Role.AP_CLERK], 0, 0.3),
    (0.13, "invoice-processing", [Role.FINANCE_CONTROLLER], 0, 0.3),
    (0.02, "invoice-processing", [Role.FINANCE_CONTROLLER, Role.SALES_MANAGER], 0, 0.3),
]

# The callers' keys: a user with one role, one with two, and an admin.
CALLERS = {"bob (1 role)": "dev-bob", "gina (2 roles)": "bench-gina", "erin (admin)": "dev-erin"}
FILTERS: dict[str, dict[str, Any]] = {
    "-": {},
    "process_type": {"process_type": "invoice-processing"},
    "escalated": {"escalated": True},
    "overdue": {"overdue": True},
    "not overdue": {"overdue": False},
    "assigned_to_me": {"assigned_to_me": True},
}
SORTS = ("created", "due", "priority")


def task_rows(start: int, count: int, rng: random.Random) -> Iterator[tuple[dict[str, Any], ...]]:
    """Tasks start..start+count, as rows of human_tasks and of human_task_candidates."""
    shares = [shape[0] for shape in SHAPES]
    for i in range(start, start + count):
        _, ptype, roles, level, overdue = rng.choices(SHAPES, shares)[0]
        process_id = f"{ptype}:B-{i:08d}"
        due: datetime | None = NOW + timedelta(days=rng.uniform(0.01, 20))
        if rng.random() < overdue:
            due = NOW - timedelta(days=rng.uniform(0.01, 20))
        elif rng.random() < 0.15 and not level:
            due = None
        created = min(NOW, due or NOW) - timedelta(days=rng.uniform(0.01, 40))
        assignee = rng.choice(PEOPLE) if rng.random() < 0.03 else None
        priority = Priority.URGENT if rng.random() < 0.08 else Priority.NORMAL
        keys = {
            "status": "open",
            "process_type": ptype,
            "escalation_level": level,
            "escalated": level > 0,
            "created_at": created,
            "due_key": due or NO_DUE_TIME,
            "priority_key": priority.key,
        }
        task_id = f"{process_id}:task:approval"
        task = keys | {
            "task_id": task_id,
            "process_id": process_id,
            "name": "approval",
            "kind": "approval",
            "title": f"Approve {process_id}",
            "description": "",
            "form": FORM,
            "context": {"amount": rng.randint(100, 90_000), "customer_id": "C-1005"},
            "candidate_roles": [role.value for role in roles],
            "assignee": assignee,
            "requester": "alice",
            "priority": priority.value,
            "outcome": None,
            "approval_level": 0,
            "due_at": due,
            "closed_at": None,
            "updated_at": created,
            "seq": 1,
            "history": [{"at": created.isoformat(), "event": "created"}],
        }
        audience = audience_of(task["candidate_roles"], assignee)
        yield task, *({"task_id": task_id, "audience": a, **keys} for a in audience)


def fill(engine: Engine, n: int) -> float:
    """Inserts n open tasks in chunks, one transaction each, and builds the listing's indexes
    after them (faster than growing them row by row); returns the seconds it took."""
    began = time.perf_counter()
    rng = random.Random(4711)
    tasks, candidates = Task.__table__, TaskCandidate.__table__  # type: ignore[attr-defined]
    indexes = [*tasks.indexes, *candidates.indexes]
    for index in indexes:
        index.drop(engine)
    for start in range(0, n, CHUNK):
        rows = list(task_rows(start, min(CHUNK, n - start), rng))
        with engine.begin() as connection:
            connection.execute(tasks.insert(), [row[0] for row in rows])
            connection.execute(candidates.insert(), [c for row in rows for c in row[1:]])
        print(f"\r  {start + len(rows):,} tasks", end="", flush=True)
    print()
    for index in indexes:
        index.create(engine)
    return time.perf_counter() - began


def prepare(url: str, settings: Settings, n: int) -> None:
    engine = make_engine(url)
    prepare_database(engine, settings)
    with session_scope(engine) as session:
        add_user(session, "gina", [Role.SALES_MANAGER, Role.FINANCE_CONTROLLER], "bench-gina")
    print(f"  filled in {fill(engine, n):.0f} s")
    if engine.dialect.name == "postgresql":  # what autovacuum does soon after a bulk load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()


@asynccontextmanager
async def api(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, list[Any]]]:
    """The app in-process, a client for it, and the listing statements it runs (for EXPLAIN)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        statements: list[Any] = []

        def keep(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
            if "human_task" in sql and "ORDER BY" in sql:
                statements[:] = [(sql, params)]

        event.listen(app.state.engine, "before_cursor_execute", keep)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            yield http, statements


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def time_case(
    http: httpx.AsyncClient, key: str, params: dict[str, Any], requests: int, path: str
) -> tuple[list[float], int]:
    """Milliseconds per page, following the cursors (from the first page again at the end);
    and how many pages there were before the first end (or `requests`)."""
    headers = {"Authorization": f"Bearer {key}"}
    times: list[float] = []
    cursor: str | None = None
    pages = 0
    while len(times) < requests:
        query = params | {"limit": PAGE} | ({"cursor": cursor} if cursor else {})
        began = time.perf_counter()
        response = await http.get(path, params=query, headers=headers)
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.text
        cursor = response.json().get("next_cursor")
        if cursor is None and not pages:
            pages = len(times)
    return times, pages or requests


def explain(url: str, sql: str, params: Any) -> str:
    engine = create_engine(url)
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
    with engine.connect() as connection:
        cursor = connection.connection.cursor()
        cursor.execute(prefix + sql, params)
        lines = [" ".join(str(part) for part in row[-1:]) for row in cursor.fetchall()]
    engine.dispose()
    return "\n".join(f"      {line}" for line in lines)


async def bench(backend: str, url: str, n: int, requests: int, plans: bool) -> list[str]:
    settings = Settings(
        _env_file=None,
        env=Environment.DEV,
        database_url=url,
        api_rate_per_second=1e9,
        api_rate_burst=1_000_000_000,
    )
    print(f"{backend}: filling {n:,} open tasks")
    prepare(url, settings, n)
    lines = [f"{backend}: load average before timing {os.getloadavg()[0]:.1f}"]
    cases = [
        (f"{name}, {sort}", f | {"sort": sort}) for name, f in FILTERS.items() for sort in SORTS
    ]
    cases.append(("process_id", {"process_id": f"order-fulfillment:B-{n // 2:08d}"}))
    async with api(settings) as (http, statements):
        for caller, key in CALLERS.items():
            await time_case(http, key, {}, 20, "/v1/tasks")  # warm the pool and the caches
            # What any authenticated call costs here, at this machine's load: a yardstick.
            times, _ = await time_case(http, key, {}, requests, "/v1/me")
            lines.append(report(backend, caller, "(GET /v1/me)", times, 1))
            for case, params in cases:
                times, pages = await time_case(http, key, params, requests, "/v1/tasks")
                lines.append(report(backend, caller, case, times, pages))
                if plans and statements:
                    print(explain(url, *statements[0]))
    lines.append(f"{backend}: load average after timing {os.getloadavg()[0]:.1f}")
    return lines


def report(backend: str, caller: str, case: str, times: list[float], pages: int) -> str:
    line = (
        f"{backend:10} {caller:15} {case:28} p50 {statistics.median(times):6.1f} ms"
        f"  p99 {percentile(times, 0.99):6.1f} ms  ({pages} pages)"
    )
    print(line, flush=True)
    return line


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100, help="pages timed per case")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--plans", action="store_true", help="print each case's query plan")
    args = parser.parse_args()
    summary = []
    with tempfile.TemporaryDirectory() as directory:
        for backend in args.backends.split(","):
            with fresh_database(backend, Path(directory)) as url:
                summary += await bench(backend, url, args.tasks, args.requests, args.plans)
    print(f"\nGET /v1/tasks, pages of {PAGE}, {args.tasks:,} open tasks")
    print("\n".join(summary))


if __name__ == "__main__":
    asyncio.run(main())
