"""Chaos: Baton's embedded stack under killed workers, a killed Temporal, racing requests and
failing systems. Bounded (fixed counts, a deadline per scenario) and repeatable (seeded faults).

Starts `baton dev` on free ports in a temporary directory and runs, one after the other and each
on a freshly reset sandbox:
1. worker kills: N small orders while every ERP write takes 1.5 s; the steps worker is SIGKILLed
   K times, each time while an ERP write is in flight, and restarted by the launcher in between;
2. temporal kill: M orders wait for a sales manager with their escalation timers pending; the
   Temporal dev server is SIGKILLed; once it is back every process and task must still be there,
   the timers must fire (the tasks escalate), and the finance controller approves them all;
3. idempotent starts: S concurrent starts with one Idempotency-Key make one process (1 x 201);
4. racing decisions: D identical decisions (one Idempotency-Key) on one task, and D different
   ones (users, outcomes, no key) on another: each task takes exactly one;
5. failing systems: 30% of the calls to every system fail with 503, writes after the change is
   made (the caller never hears of it); N orders.

Per scenario it prints processes started, completed, rejected or failed, lost (acknowledged, then
not found), stuck (not finished by the deadline, listed), duplicate writes (a change made twice
in the sandbox's data: two reservations for one order, ...), and ledger rows per decision. It
exits 1 if anything was lost, stuck or written twice, or answered otherwise than promised.

    .venv/bin/python bench/chaos.py [--orders 40] [--kills 7] [--waiting 8] [--starts 50]
                                    [--decisions 20] [--fault-orders 40] [--deadline 300]

tests/test_chaos.py runs the same scenarios with small counts.
"""

import argparse
import asyncio
import itertools
import json
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, col, select

# Run as a file (python bench/chaos.py), the repository root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# The stack's helpers; those the tests and bench/spike.py import from here are re-exported (as).
from bench.stack import ALICE as ALICE
from bench.stack import BOB, CAROL, DAVE, ERIN, POLL_S, api_healthy, get, stack_client, wait_until
from bench.stack import PORTS as PORTS
from bench.stack import DevStack as DevStack
from bench.stack import free_ports as free_ports
from bench.stack import running_stack as running_stack
from bench.stack import stack_env as stack_env
from bench.stack import user as user
from core.db import make_engine
from core.ledger import LedgerRow, verify
from core.settings import Settings

ORDERS = "/v1/processes/order-fulfillment"
# Auto-approved (62.50); and one that waits for a sales manager (17,800.00).
SMALL = {"customer_id": "C-1001", "lines": [{"sku": "WID-100", "quantity": 5}]}
LARGE = {"customer_id": "C-1005", "lines": [{"sku": "PMP-410", "quantity": 20}]}
FINAL = {"completed", "rejected", "failed", "cancelled"}
SYSTEM_PATHS = ["/erp/*", "/crm/*", "/finance/*", "/mes/*", "/notifications"]
# Codes of a refusal that came from the task's workflow (its verdict), so it has a ledger row;
# the API's own refusals (404 not yours, 409 already closed in the inbox, 422) never reach it.
VERDICT_CODES = {"forbidden", "conflict"}


@dataclass(frozen=True)
class Plan:
    """The counts, durations and seeds of one run: the same plan gives the same chaos."""

    orders: int = 40  # 1: orders through worker kills
    kills: int = 7  # 1: SIGKILLs of the steps worker
    latency_ms: int = 1500  # 1: every ERP write takes this long
    waiting: int = 8  # 2: orders waiting on people while Temporal is killed
    approval_due_s: int = 15  # 2: the escalation timer of every approval
    starts: int = 50  # 3: concurrent starts with one Idempotency-Key
    decisions: int = 20  # 4: concurrent decisions of each kind
    fault_orders: int = 40  # 5: orders while the systems fail
    error_rate: float = 0.3  # 5
    seed: int = 7  # 5: the first fault rule's seed; the next rules count on from it
    deadline_s: float = 300.0  # per scenario: what has not finished by then is stuck

    def policies(self) -> str:
        """BATON_POLICIES: approvals escalate within the run, expire well after it, no reminders."""
        order = {
            "approval_due": f"PT{self.approval_due_s}S",
            "approval_expires": "PT1H",
            "remind_every": None,
        }
        return json.dumps({"order-fulfillment": order})


@dataclass
class Result:
    scenario: str
    started: int = 0
    completed: int = 0
    rejected: int = 0
    failed: int = 0  # failed or cancelled
    lost: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    ledger: str = "-"
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # anything else not as promised
    notes: list[str] = field(default_factory=list)  # figures worth a line of their own

    @property
    def ok(self) -> bool:
        return not (self.lost or self.stuck or self.duplicates or self.problems)


@dataclass
class Started:
    process_ids: list[str] = field(default_factory=list)
    business_keys: dict[str, str] = field(default_factory=dict)  # process id -> key
    answers: Counter[int] = field(default_factory=Counter)  # status codes of the starts

    def add(self, other: "Started") -> None:
        self.process_ids += other.process_ids
        self.business_keys |= other.business_keys
        self.answers += other.answers


def waves(total: int, count: int) -> list[int]:
    """`total` split into `count` waves as even as can be, the larger first."""
    return [total // count + (i < total % count) for i in range(count)] if count else []


async def start_orders(
    api: httpx.AsyncClient, body: dict[str, Any], count: int, idempotency_key: str | None = None
) -> Started:
    """`count` concurrent starts; the processes acknowledged (200 or 201), once each."""
    started = Started()

    async def one() -> None:
        response = await api.post(ORDERS, json=body, headers=user(ALICE, idempotency_key))
        started.answers[response.status_code] += 1
        if response.status_code in (200, 201):
            answer = response.json()
            if answer["process_id"] not in started.business_keys:
                started.process_ids.append(answer["process_id"])
            started.business_keys[answer["process_id"]] = answer["business_key"]

    await asyncio.gather(*(one() for _ in range(count)))
    return started


async def settle(
    api: httpx.AsyncClient, process_ids: Sequence[str], deadline: float
) -> dict[str, dict[str, Any]]:
    """The last state seen of each process, polling until all are final or the deadline (a
    time.monotonic() value) passes. A process the API does not know has status "missing"."""
    states: dict[str, dict[str, Any]] = {pid: {"status": "unseen"} for pid in process_ids}
    while True:
        pending = [pid for pid in process_ids if states[pid]["status"] not in FINAL]
        for pid in pending:
            response = await get(api, f"/v1/processes/{pid}")
            if response.status_code == 200:
                states[pid] = response.json()
            elif response.status_code == 404:
                states[pid] = {"status": "missing"}
        if not pending or time.monotonic() >= deadline:
            return states
        await asyncio.sleep(POLL_S)


def tally(
    result: Result, states: dict[str, dict[str, Any]], expected: Sequence[str] = ("completed",)
) -> None:
    """Counts the final statuses into `result`; lost, stuck and unexpected ones are listed."""
    result.started += len(states)
    for pid, seen in states.items():
        status = seen["status"]
        result.completed += status == "completed"
        result.rejected += status == "rejected"
        result.failed += status in ("failed", "cancelled")
        if status in ("missing", "unseen"):
            result.lost.append(pid)
        elif status not in FINAL:
            result.stuck.append(f"{pid} ({status}, stage {seen.get('stage')})")
        elif status not in expected:
            reason = (seen.get("result") or {}).get("reason") or seen.get("reason") or ""
            result.problems.append(f"{pid} ended {status}, not {'/'.join(expected)}: {reason}")


async def open_task(api: httpx.AsyncClient, process_id: str, key: str, seconds: float) -> str:
    """The id of the process's open task in `key`'s inbox, once there is one ("" if none came)."""
    task_id = ""

    async def found() -> bool:
        nonlocal task_id
        response = await get(api, "/v1/tasks", key, process_id=process_id)
        items = response.json()["items"] if response.status_code == 200 else []
        task_id = items[0]["task_id"] if items else ""
        return bool(task_id)

    await wait_until(found, seconds)
    return task_id


# -- what the sandbox and the ledger hold -------------------------------------------------------

# Each: a business thing that must be written once -> the query that finds it written more often.
DUPLICATE_QUERIES = {
    "CRM interaction": "SELECT ref, COUNT(*) FROM interaction WHERE ref IS NOT NULL GROUP BY ref",
    "ERP reservation": "SELECT order_ref, COUNT(*) FROM reservation GROUP BY order_ref",
    "forecast entry": "SELECT order_ref, COUNT(*) FROM forecastentry GROUP BY order_ref",
    "production order": (
        "SELECT order_ref || ' ' || sku, COUNT(*) FROM productionorder GROUP BY order_ref, sku"
    ),
    "notification": (
        "SELECT ref || ' to ' || recipient || ': ' || subject, COUNT(*) FROM notification "
        "WHERE ref IS NOT NULL GROUP BY ref, recipient, subject"
    ),
}
# What a completed order has written exactly once, by business key.
ONCE_PER_ORDER = ("CRM interaction", "ERP reservation", "forecast entry")


class Sandbox:
    """The sandbox seen from outside: its admin API, and its SQLite file read-only."""

    def __init__(self, client: httpx.AsyncClient, data_dir: Path) -> None:
        self.client = client
        self.database = data_dir / "systems.db"

    async def reset(self) -> None:
        (await self.client.post("/admin/reset")).raise_for_status()

    async def fault(self, **rule: Any) -> None:
        (await self.client.post("/admin/faults", json=rule)).raise_for_status()

    async def clear_faults(self) -> None:
        (await self.client.delete("/admin/faults")).raise_for_status()

    async def stats(self) -> dict[str, dict[str, int]]:
        endpoints: dict[str, dict[str, int]] = (await self.client.get("/admin/stats")).json()[
            "endpoints"
        ]
        return endpoints

    def _rows(self, query: str) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)) as connection:
            return list(connection.execute(query))

    def written(self) -> dict[str, dict[str, int]]:
        """Per business thing, how often each was written."""
        return {what: dict(self._rows(query)) for what, query in DUPLICATE_QUERIES.items()}

    def keyed_writes(self) -> dict[str, int]:
        """Successful writes per endpoint that carried an Idempotency-Key."""
        query = "SELECT scope, COUNT(*) FROM idempotencyrecord WHERE status_code < 400 GROUP BY 1"
        return dict(self._rows(query))

    async def check(self, result: Result, completed_keys: Sequence[str]) -> int:
        """Duplicate writes, writes missing from completed orders, unkeyed writes, and how many
        repeated writes the sandbox refused (its `duplicates` counter: a retry answered from
        its first answer, nothing written again). Returns the number of faults injected."""
        written = self.written()
        for what, counts in written.items():
            result.duplicates += [f"{what} {ref} x{n}" for ref, n in counts.items() if n > 1]
        for what in ONCE_PER_ORDER:
            missing = [key for key in completed_keys if key not in written[what]]
            result.problems += [f"completed order {key} has no {what}" for key in missing]
        stats, keyed = await self.stats(), self.keyed_writes()
        for endpoint, counters in stats.items():
            unkeyed = counters["writes"] - keyed.get(endpoint, 0)
            if unkeyed > 0:
                result.problems.append(f"{unkeyed} writes without an Idempotency-Key: {endpoint}")
        replays = sum(counters["duplicates"] for counters in stats.values())
        faults = sum(counters["faults"] for counters in stats.values())
        result.notes.append(f"sandbox: {faults} faults injected, {replays} repeated writes refused")
        return faults


def ledger_rows(data_dir: Path, process_ids: Sequence[str]) -> list[LedgerRow]:
    """The people's decisions (applied or refused) in the ledger for these processes."""
    settings = Settings(_env_file=None, data_dir=data_dir, database_url="")
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            query = select(LedgerRow).where(
                col(LedgerRow.process_id).in_(process_ids), LedgerRow.actor_kind == "human"
            )
            return list(session.exec(query).all())
    finally:
        engine.dispose()


def ledger_intact(data_dir: Path) -> str:
    settings = Settings(_env_file=None, data_dir=data_dir, database_url="")
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            return verify(session).summary()
    finally:
        engine.dispose()


def per_decision(applied_rows: int, decisions: int) -> str:
    return f"{applied_rows / decisions:.2f} ({applied_rows}/{decisions})" if decisions else "-"


def completed_keys(started: Started, states: dict[str, dict[str, Any]]) -> list[str]:
    return [started.business_keys[pid] for pid, s in states.items() if s["status"] == "completed"]


# -- the scenarios ------------------------------------------------------------------------------


@dataclass
class Chaos:
    stack: DevStack
    api: httpx.AsyncClient
    sandbox: Sandbox
    plan: Plan

    def deadline(self) -> float:
        return time.monotonic() + self.plan.deadline_s

    async def _start(
        self, result: Result, body: dict[str, Any], count: int, idempotency_key: str | None = None
    ) -> Started:
        """`count` concurrent starts; any answer but 200 or 201 is a problem."""
        started = await start_orders(self.api, body, count, idempotency_key)
        refused = {code: n for code, n in started.answers.items() if code not in (200, 201)}
        if refused:
            result.problems.append(f"starts refused: {refused}")
        return started

    async def worker_kills(self) -> Result:
        """The orders start in waves, one before each kill, so that each kill finds a bot step
        in flight soon after the last restart (the steps a kill strands are retried only when
        their start-to-close timeout has passed)."""
        result, plan, deadline = Result("worker kills"), self.plan, self.deadline()
        await self.sandbox.fault(path="/erp/*", methods=["POST"], latency_ms=plan.latency_ms)
        started, kills = Started(), 0
        for wave in waves(plan.orders, plan.kills):
            started.add(await self._start(result, SMALL, wave))
            if not await self._erp_write_arrives(deadline):
                break
            if not await self.stack.kill("steps", "worker", "--queue=bots"):
                result.problems.append("the steps worker was not restarted")
                break
            kills += 1
        if kills < plan.kills:
            result.problems.append(f"{kills} of {plan.kills} kills made (no ERP write in flight)")
        result.notes.append(f"{kills} SIGKILLs of the steps worker, each during an ERP write")
        await self.sandbox.clear_faults()
        states = await settle(self.api, started.process_ids, deadline)
        tally(result, states)
        await self.sandbox.check(result, completed_keys(started, states))
        return result

    async def _erp_write_arrives(self, deadline: float) -> bool:
        """Waits until a new ERP write reaches the sandbox: with the latency, it is in flight
        for that long, so a kill now lands while the bot step runs."""

        async def erp_calls() -> int:
            stats = await self.sandbox.stats()
            return sum(c["calls"] for name, c in stats.items() if name.startswith("POST /erp/"))

        before = await erp_calls()

        async def arrived() -> bool:
            return await erp_calls() > before

        return await wait_until(arrived, deadline - time.monotonic())

    async def temporal_kill(self) -> Result:
        result, plan, deadline = Result("temporal kill"), self.plan, self.deadline()
        started = await self._start(result, LARGE, plan.waiting)
        tasks = await self._approval_tasks(result, started.process_ids, deadline)
        await self._kill_temporal(result, deadline)
        for pid, task_id in tasks.items():
            result.problems += await self._still_waiting(pid, task_id)
        escalated = await asyncio.gather(*(self._escalated(t, deadline) for t in tasks.values()))
        result.problems += [
            f"task {task_id} did not escalate"
            for task_id, up in zip(tasks.values(), escalated, strict=True)
            if not up
        ]
        answers = await asyncio.gather(*(self._decide(t, CAROL, "approve") for t in tasks.values()))
        refused = [answer for answer in answers if answer.status_code != 200]
        result.problems += [f"carol's approval: {a.status_code} {a.text}" for a in refused]
        states = await settle(self.api, started.process_ids, deadline)
        tally(result, states)
        rows = ledger_rows(self.stack.data_dir, started.process_ids)
        applied = sum(row.applied for row in rows)
        result.ledger = per_decision(applied, len(answers) - len(refused))
        if len(rows) != applied:
            result.problems.append(f"{len(rows) - applied} refused decisions in the ledger")
        await self.sandbox.check(result, completed_keys(started, states))
        return result

    async def _approval_tasks(
        self, result: Result, process_ids: Sequence[str], deadline: float
    ) -> dict[str, str]:
        """Each process's approval task (process id -> task id), once all are open."""
        seconds = deadline - time.monotonic()
        found = await asyncio.gather(*(open_task(self.api, p, BOB, seconds) for p in process_ids))
        tasks = dict(zip(process_ids, found, strict=True))
        result.problems += [f"{pid}: no approval task" for pid, t in tasks.items() if not t]
        return {pid: task_id for pid, task_id in tasks.items() if task_id}

    async def _kill_temporal(self, result: Result, deadline: float) -> None:
        began = time.monotonic()
        if not await self.stack.kill("temporal", "server", "start-dev"):
            result.problems.append("Temporal was not restarted")
        elif not await wait_until(lambda: api_healthy(self.api), deadline - time.monotonic()):
            result.problems.append("the API did not become healthy again")
        seconds = time.monotonic() - began
        result.notes.append(f"Temporal SIGKILLed; back and the API healthy in {seconds:.1f} s")

    async def _still_waiting(self, process_id: str, task_id: str) -> list[str]:
        process = await get(self.api, f"/v1/processes/{process_id}")
        if process.status_code != 200:
            return [f"{process_id} after the restart: {process.status_code}"]
        state = process.json()
        if state["status"] != "waiting" or not state["open_tasks"]:
            return [f"{process_id} after the restart: {state['status']}, {state['open_tasks']}"]
        task = await get(self.api, f"/v1/tasks/{task_id}")
        if task.status_code != 200 or task.json()["status"] != "open":
            return [f"task {task_id} after the restart: {task.status_code} {task.text}"]
        return []

    async def _escalated(self, task_id: str, deadline: float) -> bool:
        async def up_a_level() -> bool:
            task = await get(self.api, f"/v1/tasks/{task_id}")
            return task.status_code == 200 and task.json()["escalation_level"] >= 1

        return await wait_until(up_a_level, deadline - time.monotonic())

    async def _decide(
        self, task_id: str, key: str, outcome: str, idempotency_key: str | None = None
    ) -> httpx.Response:
        body = {"outcome": outcome, "comment": f"chaos: {outcome}"}
        return await self.api.post(
            f"/v1/tasks/{task_id}/decision", json=body, headers=user(key, idempotency_key)
        )

    async def idempotent_starts(self) -> Result:
        result, deadline = Result("idempotent starts"), self.deadline()
        started = await self._start(result, SMALL, self.plan.starts, "chaos-one-start")
        answers = dict(sorted(started.answers.items()))
        result.notes.append(f"{self.plan.starts} starts with one key answered {answers}")
        if answers != {200: self.plan.starts - 1, 201: 1}:
            result.problems.append(f"answers {answers}, not one 201 and the rest 200")
        if len(started.process_ids) != 1:
            result.problems.append(f"{len(started.process_ids)} processes, not 1")
        states = await settle(self.api, started.process_ids, deadline)
        tally(result, states)
        await self.sandbox.check(result, completed_keys(started, states))
        reservations = self.sandbox.written()["ERP reservation"]
        if len(reservations) != 1:
            result.problems.append(f"stock reserved for {len(reservations)} orders, not 1")
        return result

    async def racing_decisions(self) -> Result:
        result, deadline = Result("racing decisions"), self.deadline()
        started = await self._start(result, LARGE, 2)
        same, different = started.process_ids
        seconds = deadline - time.monotonic()
        same_task, different_task = await asyncio.gather(
            open_task(self.api, same, BOB, seconds), open_task(self.api, different, BOB, seconds)
        )
        n = self.plan.decisions
        identical = await asyncio.gather(
            *(self._decide(same_task, BOB, "approve", "chaos-one-decision") for _ in range(n))
        )
        deciders = itertools.cycle(
            [(BOB, "approve"), (ERIN, "reject"), (BOB, "reject"), (CAROL, "approve"),
             (ALICE, "approve"), (ERIN, "approve"), (DAVE, "reject")]
        )  # fmt: skip
        varied = await asyncio.gather(
            *(self._decide(different_task, *who) for who in itertools.islice(deciders, n))
        )
        result.notes.append(f"{n} identical decisions answered {answer_counts(identical)}")
        result.notes.append(f"{n} different decisions answered {answer_counts(varied)}")
        if any(answer.status_code != 200 for answer in identical):
            result.problems.append(f"identical decisions: {answer_counts(identical)}, not all 200")
        if sum(answer.status_code == 200 for answer in varied) != 1:
            result.problems.append("different decisions: not exactly one applied")
        unexpected = [a for a in varied if a.status_code not in (200, 403, 404, 409)]
        result.problems += [f"a decision got {a.status_code}: {a.text}" for a in unexpected]
        states = await settle(self.api, started.process_ids, deadline)
        tally(result, states, expected=("completed", "rejected"))
        result.ledger = self._check_decision_ledger(result, same, different, varied)
        await self.sandbox.check(result, completed_keys(started, states))
        return result

    def _check_decision_ledger(
        self, result: Result, same: str, different: str, varied: Sequence[httpx.Response]
    ) -> str:
        """One applied row per task; a refused row for each refusal the workflow gave, and
        none for the identical repeats (one decision, whatever the number of requests)."""
        rows = ledger_rows(self.stack.data_dir, [same, different])
        for pid in (same, different):
            applied = [row for row in rows if row.process_id == pid and row.applied]
            if len(applied) != 1:
                result.problems.append(f"{pid}: {len(applied)} applied decisions in the ledger")
        refused_same = [r for r in rows if r.process_id == same and not r.applied]
        if refused_same:
            result.problems.append(f"{len(refused_same)} ledger rows for identical repeats")
        refused = sum(not row.applied for row in rows if row.process_id == different)
        reached = sum(error_code(answer) in VERDICT_CODES for answer in varied)
        if refused != reached:
            result.problems.append(f"{refused} refused ledger rows for {reached} refusals")
        applied_rows = sum(row.applied for row in rows)
        return f"{per_decision(applied_rows, 2)} +{refused} refused"

    async def failing_systems(self) -> Result:
        result, plan, deadline = Result("failing systems"), self.plan, self.deadline()
        for number, path in enumerate(SYSTEM_PATHS):
            await self.sandbox.fault(
                path=path,
                error_rate=plan.error_rate,
                status=503,
                when="after",
                seed=plan.seed + number,
            )
        started = await self._start(result, SMALL, plan.fault_orders)
        states = await settle(self.api, started.process_ids, deadline)
        await self.sandbox.clear_faults()
        tally(result, states)
        if not await self.sandbox.check(result, completed_keys(started, states)):
            result.problems.append("no fault was injected")
        return result


def answer_counts(answers: Sequence[httpx.Response]) -> dict[int, int]:
    return dict(sorted(Counter(answer.status_code for answer in answers).items()))


def error_code(answer: httpx.Response) -> str:
    if answer.status_code < 400:
        return ""
    try:
        return str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


SCENARIOS: list[Callable[[Chaos], Awaitable[Result]]] = [
    Chaos.worker_kills,
    Chaos.temporal_kill,
    Chaos.idempotent_starts,
    Chaos.racing_decisions,
    Chaos.failing_systems,
]


@asynccontextmanager
async def chaos_on(stack: DevStack, plan: Plan) -> AsyncIterator[Chaos]:
    """The scenarios' means on a running stack: its API and its sandbox."""
    async with (
        stack_client(stack.api_url, timeout=60) as api,
        stack_client(stack.systems_url, timeout=30) as systems,
    ):
        yield Chaos(stack, api, Sandbox(systems, stack.data_dir), plan)


async def run_scenario(chaos: Chaos, scenario: Callable[[Chaos], Awaitable[Result]]) -> Result:
    """One scenario on a freshly reset sandbox (seed data, no faults, counters at zero)."""
    await chaos.sandbox.reset()
    began = time.monotonic()
    result = await scenario(chaos)
    result.seconds = time.monotonic() - began
    return result


async def run(stack: DevStack, plan: Plan) -> list[Result]:
    async with chaos_on(stack, plan) as chaos:
        return [await run_scenario(chaos, scenario) for scenario in SCENARIOS]


# -- the report ---------------------------------------------------------------------------------

COLUMNS = (
    ("scenario", 18),
    ("started", 7),
    ("completed", 9),
    ("rejected/failed", 15),
    ("lost", 4),
    ("stuck", 5),
    ("duplicate writes", 16),
    ("ledger rows per decision", 28),
    ("seconds", 7),
)


def table(results: Sequence[Result]) -> str:
    def row(cells: Sequence[object]) -> str:
        return " | ".join(
            str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
            for i, (cell, (_, width)) in enumerate(zip(cells, COLUMNS, strict=True))
        )

    lines = [row([name for name, _ in COLUMNS]), "-+-".join("-" * width for _, width in COLUMNS)]
    for r in results:
        cells = [r.scenario, r.started, r.completed, f"{r.rejected}/{r.failed}", len(r.lost)]
        cells += [len(r.stuck), len(r.duplicates), r.ledger, f"{r.seconds:.1f}"]
        lines.append(row(cells))
    return "\n".join(lines)


def details(results: Sequence[Result]) -> str:
    lines = []
    for r in results:
        lines.append(f"{r.scenario}: {'ok' if r.ok else 'NOT OK'}")
        lines += [f"  {note}" for note in r.notes]
        lines += [f"  lost: {pid}" for pid in r.lost]
        lines += [f"  stuck: {what}" for what in r.stuck]
        lines += [f"  written twice: {what}" for what in r.duplicates]
        lines += [f"  problem: {what}" for what in r.problems]
    return "\n".join(lines)


async def main() -> int:
    defaults = Plan()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    for name, value in vars(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    plan = Plan(**vars(parser.parse_args()))

    with tempfile.TemporaryDirectory() as tmp:
        env = stack_env(Path(tmp) / "data", free_ports(PORTS), BATON_POLICIES=plan.policies())
        print(f"chaos: {plan}", flush=True)
        with running_stack(env, Path(tmp)) as stack:
            results = await run(stack, plan)
            intact = ledger_intact(stack.data_dir)
            restarts = [line for line in stack.lines if "restarting in" in line]
    print(table(results))
    print()
    print(details(results))
    print(f"{intact}; the launcher restarted a part {len(restarts)} times")
    return 0 if all(r.ok for r in results) and intact.startswith("ledger intact") else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
