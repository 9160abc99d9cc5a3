"""Order throughput: Baton's orders against the same orders hand-written on bare Temporal, and
against bare workflows of trivial activities; then the round trip of a person's decision.

Starts `baton dev` (Temporal dev server on a WAL SQLite file, sandbox, workers, API) on free
ports in a temporary directory (bench/stack.py), then, all on that one server:
1. N auto-approved structured orders through Baton's HTTP API, C in flight (start, then wait
   for the run's result); and N started with the Temporal client (core/processes.py), with
   insight's event log on and off (BATON_INSIGHT_LOG): what recording the log costs;
2. N of the same orders hand-written on bare `temporalio` (bench/handwritten.py: the same
   sandbox calls, bodies and idempotency keys, no Baton code), started with the client and run
   by a worker in this process, C in flight;
3. N bare workflows of as many trivial activities as one Baton order ran, C in flight;
   the three run in `--rounds` rounds, in turn, the order reversed every other round;
4. the events in one history of each, by type: where Baton's time goes;
5. twice `--decisions` orders that need a sales manager's approval, started in a batch; once
   each is in the manager's inbox, one decision at a time: the time until POST .../decision
   answers 200 with the verdict, and until GET /v1/processes/{id} shows the next stage; half of
   them each once the previous order has finished, half back to back (the previous order's
   fulfilment running beside the next decision).
Prints orders/s, p50/p99 latency, the ratios (targets: Baton >= 0.9 x hand-written; the log
costs at most 5%), the events per order, and the decision round trips' p50/p99.

    .venv/bin/python bench/order_throughput.py [--orders 100] [--concurrency 20]
        [--decisions 200] [--rounds 2] [--activity-slots 12]
"""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

# Run as a file (python bench/order_throughput.py), the repository root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import handwritten
from bench.stack import (
    ALICE,
    APPROVAL_STAGE,
    AUTO_APPROVED,
    BENCH_POLICIES,
    BOB,
    NEEDS_APPROVAL,
    DevStack,
    bench_env,
    cpu_by_part,
    pages,
    percentile,
    running_stack,
    user,
)
from core.processes import start_process
from core.settings import Environment, Settings
from core.temporal import connect
from workflows.contracts.orders import ORDER_FULFILLMENT, OrderInput
from workflows.contracts.processes import ProcessStatus

ORDERS = "/v1/processes/order-fulfillment"
APPROVAL_THRESHOLD = 5.0  # bench/stack.py's BENCH_POLICIES
POLL_S = 0.005  # how often the decision round trip looks for the next stage
OPEN_STATUSES = {ProcessStatus.RUNNING, ProcessStatus.WAITING}


@dataclass
class Runs:
    """One contender's runs: latency of each, and the wall time of its batches."""

    name: str
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    cpu: Counter[str] = field(default_factory=Counter)  # CPU seconds by part of the stack
    # Each run's workflow id -> wall-clock times: start requested, start answered, result seen.
    seen: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0


async def batch(
    runs: Runs, n: int, c: int, one: Callable[[int], Awaitable[None]], stack: DevStack
) -> Runs:
    """`n` runs of `one`, `c` in flight; adds their latencies, the batch's wall time and the
    CPU time each part of the stack used meanwhile to `runs`, and returns the batch's own."""
    gate = asyncio.Semaphore(c)

    async def timed(number: int) -> float:
        async with gate:
            began = time.perf_counter()
            await one(number)
            return time.perf_counter() - began

    cpu_before, began = cpu_by_part(stack), time.perf_counter()
    latencies = list(await asyncio.gather(*(timed(i) for i in range(n))))
    this = Runs(runs.name, latencies, time.perf_counter() - began)
    this.cpu.update({part: s - cpu_before[part] for part, s in cpu_by_part(stack).items()})
    runs.latencies += this.latencies
    runs.wall += this.wall
    runs.cpu.update(this.cpu)
    return this


# -- the contenders -----------------------------------------------------------------------------


def baton_order(
    api: httpx.AsyncClient, client: Client, seen: dict[str, tuple[float, float, float]]
) -> Callable[[int], Awaitable[None]]:
    """An order through Baton's API, waited for by its run's result."""

    async def one(_: int) -> None:
        sent = time.time()
        response = await api.post(ORDERS, json=AUTO_APPROVED, headers=user(ALICE))
        response.raise_for_status()
        answered, process_id = time.time(), response.json()["process_id"]
        await client.get_workflow_handle(process_id).result()
        seen[process_id] = (sent, answered, time.time())

    return one


def client_order(
    client: Client, settings: Settings, seen: dict[str, tuple[float, float, float]]
) -> Callable[[int], Awaitable[None]]:
    """An order started with the Temporal client as the API starts one, under `settings` (its
    insight_log on or off), waited for by its run's result."""

    async def one(_: int) -> None:
        sent = time.time()
        started = await start_process(
            client, settings, ORDER_FULFILLMENT, OrderInput(**AUTO_APPROVED), "alice"
        )
        answered = time.time()
        await client.get_workflow_handle(started.process_id).result()
        seen[started.process_id] = (sent, answered, time.time())

    return one


def handwritten_order(
    client: Client, queue: str, seen: dict[str, tuple[float, float, float]]
) -> Callable[[int], Awaitable[None]]:
    """The same order, hand-written; its ref (the business key) and workflow id are new for
    every order, so the sandbox takes any number of runs of the bench."""

    async def one(_: int) -> None:
        ref = f"HW-{uuid.uuid4().hex[:10].upper()}"
        order = handwritten.Order(
            order_ref=ref,
            customer_id=AUTO_APPROVED["customer_id"],
            lines=[handwritten.Line(**line) for line in AUTO_APPROVED["lines"]],
            approval_threshold=APPROVAL_THRESHOLD,
        )
        sent = time.time()
        handle = await client.start_workflow(
            handwritten.HandWrittenOrder.run, order, id=f"hand-{ref}", task_queue=queue
        )
        answered = time.time()
        await handle.result()
        seen[handle.id] = (sent, answered, time.time())

    return one


@activity.defn(name="bench.noop")
async def noop(step: int) -> int:
    return step


@workflow.defn(name="BenchBare", sandboxed=False)
class BareWorkflow:
    @workflow.run
    async def run(self, steps: int) -> int:
        for step in range(steps):
            await workflow.execute_activity(
                "bench.noop", step, start_to_close_timeout=timedelta(seconds=30)
            )
        return steps


def bare_workflow(client: Client, queue: str, steps: int) -> Callable[[int], Awaitable[None]]:
    async def one(_: int) -> None:
        await client.execute_workflow(
            BareWorkflow.run, steps, id=f"bare-{uuid.uuid4()}", task_queue=queue
        )

    return one


# -- the profile: what one order costs -------------------------------------------------------


@dataclass
class Profile:
    """Events by type and time by phase, summed over `histories` histories of one kind."""

    histories: int = 0
    events: Counter[str] = field(default_factory=Counter)
    ms: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def mean(self, counter: Mapping[str, float], key: str) -> float:
        return counter.get(key, 0.0) / self.histories if self.histories else 0.0


PHASES = {  # event -> (what the time since the event it names was, that event's id field)
    "workflow_task_started_event_attributes": ("workflow tasks wait for a worker", "scheduled"),
    "workflow_task_completed_event_attributes": ("workflow tasks run in the worker", "started"),
    "activity_task_started_event_attributes": ("activities wait for a worker", "scheduled"),
    "activity_task_completed_event_attributes": ("activities run", "started"),
}


BEFORE, AFTER = "start requested to started event", "last event to the result seen"
OUTSIDE = (BEFORE, "first event to last", AFTER)  # the client's latency, in three


async def profile_of(client: Client, runs: Runs, sample: int) -> Profile:
    """The last `sample` histories of `runs`, and the client's times around each."""
    found = Profile()
    for workflow_id, (sent, _, result) in list(runs.seen.items())[-sample:]:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        at = {event.event_id: event.event_time.ToDatetime() for event in history.events}
        found.histories += 1
        for event in history.events:
            found.events[EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")] += 1
            for attributes, (phase, since) in PHASES.items():
                if event.HasField(attributes):  # type: ignore[arg-type]
                    earlier = getattr(getattr(event, attributes), f"{since}_event_id")
                    gap = at[event.event_id] - at[earlier]
                    found.ms[phase] += gap.total_seconds() * 1000
        first, last = history.events[0].event_time, history.events[-1].event_time
        found.ms[BEFORE] += (first.ToMicroseconds() / 1e6 - sent) * 1000
        found.ms["first event to last"] += (last.ToMicroseconds() - first.ToMicroseconds()) / 1e3
        found.ms[AFTER] += (result - last.ToMicroseconds() / 1e6) * 1000
    return found


def activity_steps(profile: Profile) -> int:
    return round(profile.mean(profile.events, "ACTIVITY_TASK_SCHEDULED"))


def profile_table(baton: Profile, hand: Profile) -> list[str]:
    lines = [
        f"one order's history, mean of {baton.histories} / {hand.histories}"
        f"{'baton':>12} {'hand-written':>13}"
    ]
    kinds = sorted(set(baton.events) | set(hand.events), key=lambda k: (-baton.events[k], k))
    for kind in kinds:
        b, h = baton.mean(baton.events, kind), hand.mean(hand.events, kind)
        lines.append(f"  {kind.lower():<44} {b:>8.1f} {h:>13.1f}")
    b, h = baton.events.total() / baton.histories, hand.events.total() / hand.histories
    lines.append(f"  {'events':<44} {b:>8.1f} {h:>13.1f}")
    for phase in [*(p for p, _ in PHASES.values()), *OUTSIDE]:
        b, h = baton.mean(baton.ms, phase), hand.mean(hand.ms, phase)
        lines.append(f"  {'ms: ' + phase + (' (summed)' if 'activ' in phase else ''):<44}"
                     f" {b:>8.1f} {h:>13.1f}")  # fmt: skip
    return lines


def cpu_table(contenders: list[Runs]) -> list[str]:
    """CPU milliseconds per run, by part of the stack: where the two cores went."""
    lines = [f"{'CPU ms per run':<18}" + "".join(f"{r.name:>15}" for r in contenders)]
    parts = list(contenders[0].cpu)
    for part in [*parts, "total"]:
        cells = []
        for runs in contenders:
            used = runs.cpu.total() if part == "total" else runs.cpu[part]
            cells.append(f"{used * 1000 / max(len(runs.latencies), 1):>15.1f}")
        label = "bench process" if part == "bench" else part
        lines.append(f"  {label:<16}" + "".join(cells))
    return lines


# -- decisions ----------------------------------------------------------------------------------


@dataclass
class Decisions:
    answered: list[float] = field(default_factory=list)  # POST .../decision -> 200, verdict
    next_stage: list[float] = field(default_factory=list)  # -> GET shows the next stage
    problems: list[str] = field(default_factory=list)


@dataclass
class DecisionRounds:
    # Each decision once the previous order has finished, on a stack with nothing else to do;
    # and back to back, as soon as the previous one's next stage shows (its fulfilment then
    # runs beside the next decision).
    quiet: Decisions = field(default_factory=Decisions)
    back_to_back: Decisions = field(default_factory=Decisions)
    problems: list[str] = field(default_factory=list)
    start_seconds: float = 0.0
    inbox_seconds: float = 0.0


async def start_waiting(api: httpx.AsyncClient, n: int, c: int) -> list[str]:
    """`n` orders that wait for a sales manager, `c` starts in flight: their process ids."""
    gate = asyncio.Semaphore(c)

    async def one() -> str:
        async with gate:
            response = await api.post(ORDERS, json=NEEDS_APPROVAL, headers=user(ALICE))
            response.raise_for_status()
            return str(response.json()["process_id"])

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def inbox_tasks(
    api: httpx.AsyncClient, process_ids: list[str], seconds: float
) -> dict[str, str]:
    """Each process's task (process id -> task id) once all are in the manager's inbox, read a
    page of 200 at a time (polling, not timed)."""
    wanted, found = set(process_ids), dict[str, str]()
    deadline = time.monotonic() + seconds
    while wanted - found.keys() and time.monotonic() < deadline:
        tasks = await pages(api, "/v1/tasks", BOB, process_type="order-fulfillment")
        found |= {t["process_id"]: t["task_id"] for t in tasks if t["status"] == "open"}
        await asyncio.sleep(0.2)
    return {pid: found[pid] for pid in process_ids if pid in found}


async def decide_one(api: httpx.AsyncClient, process_id: str, task_id: str) -> tuple[float, float]:
    """Bob approves; the seconds until the verdict, and until the next stage shows."""
    body = {"outcome": "approve", "comment": "bench"}
    began = time.perf_counter()
    decided = await api.post(f"/v1/tasks/{task_id}/decision", json=body, headers=user(BOB))
    answered = time.perf_counter() - began
    verdict = decided.json() if decided.status_code == 200 else {}
    if verdict.get("outcome") != "approve":
        raise RuntimeError(f"decision on {task_id}: {decided.status_code} {decided.text[:300]}")
    while True:
        state = await api.get(f"/v1/processes/{process_id}", headers=user(ALICE))
        if state.status_code == 200 and state.json()["stage"] != APPROVAL_STAGE:
            return answered, time.perf_counter() - began
        await asyncio.sleep(POLL_S)


async def finished(api: httpx.AsyncClient, process_id: str) -> None:
    """Returns once the process has ended (not timed)."""
    while True:
        state = await api.get(f"/v1/processes/{process_id}", headers=user(ALICE))
        if state.status_code == 200 and state.json()["status"] not in OPEN_STATUSES:
            return
        await asyncio.sleep(0.05)


async def decide_in_turn(
    api: httpx.AsyncClient, tasks: dict[str, str], decisions: Decisions, quiet: bool
) -> None:
    for process_id, task_id in tasks.items():
        try:
            answered, next_stage = await decide_one(api, process_id, task_id)
            if quiet:
                await finished(api, process_id)
        except RuntimeError as exc:
            decisions.problems.append(str(exc))
            continue
        decisions.answered.append(answered)
        decisions.next_stage.append(next_stage)


async def decision_round_trips(api: httpx.AsyncClient, m: int, c: int) -> DecisionRounds:
    """`m` quiet decisions, then `m` back to back, on 2 x `m` orders started together."""
    rounds = DecisionRounds()
    began = time.perf_counter()
    process_ids = await start_waiting(api, 2 * m, c)
    rounds.start_seconds = time.perf_counter() - began
    tasks = await inbox_tasks(api, process_ids, seconds=300 + 2 * m)
    rounds.inbox_seconds = time.perf_counter() - began
    rounds.problems += [f"{pid}: no task in the inbox" for pid in process_ids if pid not in tasks]
    ordered = list(tasks.items())
    await decide_in_turn(api, dict(ordered[:m]), rounds.quiet, quiet=True)
    await decide_in_turn(api, dict(ordered[m:]), rounds.back_to_back, quiet=False)
    return rounds


# -- the run ------------------------------------------------------------------------------------


def report(runs: Runs, steps: int) -> str:
    ms = [s * 1000 for s in runs.latencies]
    return (
        f"{runs.name:<13} {len(ms):>5} runs {runs.wall:>7.1f}s {runs.per_second:>7.2f} runs/s "
        f"{runs.per_second * steps:>7.1f} steps/s  p50 {statistics.median(ms):>5.0f} ms  "
        f"p99 {percentile(ms, 0.99):>5.0f} ms"
    )


def baton_client_settings(stack: DevStack, insight_log: bool = True) -> Settings:
    """The stack's own converter (its dev codec key, made in its data directory) and policies."""
    return Settings(
        _env_file=None,
        env=Environment.DEV,
        data_dir=stack.data_dir,
        temporal_address=stack.env["BATON_TEMPORAL_ADDRESS"],
        codec_keys={},
        codec_key_id="",
        policies=json.loads(BENCH_POLICIES),
        insight_log=insight_log,
    )


async def measure(stack: DevStack, args: argparse.Namespace) -> list[str]:
    out: list[str] = []
    baton_client = await connect(baton_client_settings(stack))
    plain = await Client.connect(stack.env["BATON_TEMPORAL_ADDRESS"])  # a team's own client
    run = uuid.uuid4().hex[:8]
    hand_queue, bare_queue = f"hand-{run}", f"bare-{run}"
    n, c = args.orders, args.concurrency
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api,
        handwritten.systems_client(stack.systems_url, args.activity_slots) as systems,
        Worker(
            plain,
            task_queue=hand_queue,
            workflows=[handwritten.HandWrittenOrder],
            activities=[handwritten.SystemsActivities(systems).call, handwritten.score_risk],
            max_concurrent_activities=args.activity_slots,
        ),
        Worker(plain, task_queue=bare_queue, workflows=[BareWorkflow], activities=[noop]),
    ):
        baton, hand = Runs("baton"), Runs("hand-written")
        baton_one = baton_order(api, baton_client, baton.seen)
        hand_one = handwritten_order(plain, hand_queue, hand.seen)
        # Warm-up: the local models trained, connections open, sandbox modules imported.
        await batch(Runs("warm-up"), 4, 2, baton_one, stack)
        await batch(Runs("warm-up"), 4, 2, hand_one, stack)
        steps = activity_steps(await profile_of(baton_client, baton, 1))
        bare = Runs("bare trivial")
        logged, unlogged = Runs("client, log"), Runs("client, no log")
        with_log, without_log = (baton_client_settings(stack, on) for on in (True, False))
        contenders = [
            (baton, baton_one),
            (hand, hand_one),
            (bare, bare_workflow(plain, bare_queue, steps)),
            (logged, client_order(baton_client, with_log, logged.seen)),
            (unlogged, client_order(baton_client, without_log, unlogged.seen)),
        ]
        await batch(Runs("warm-up"), 4, 2, contenders[2][1], stack)
        per_round = [n // args.rounds + (i < n % args.rounds) for i in range(args.rounds)]
        for number, count in enumerate(per_round):
            ordered = contenders if number % 2 == 0 else contenders[::-1]
            for runs, one in ordered:
                this = await batch(runs, count, c, one, stack)
                print(f"round {number + 1}: {report(this, steps)}", flush=True)
        sample = args.profile
        baton_profile = await profile_of(baton_client, baton, sample)
        hand_profile = await profile_of(plain, hand, sample)

        out.append(
            f"{steps} activity steps per auto-approved Baton order, "
            f"{activity_steps(hand_profile)} per hand-written one; {c} in flight, "
            f"{args.rounds} rounds; hand-written worker: {args.activity_slots} activity slots"
        )
        out += [report(runs, steps) for runs, _ in contenders]
        out.append(
            f"ratio  Baton / hand-written orders/s = {baton.per_second / hand.per_second:.2f}"
            "  (target >= 0.90)"
        )
        out.append(
            f"ratio  Baton / bare trivial, steps/s = {baton.per_second / bare.per_second:.2f}"
        )
        out.append(
            f"ratio  with / without insight's log, orders/s = "
            f"{logged.per_second / unlogged.per_second:.2f}  (target >= 0.95)"
        )
        out += profile_table(baton_profile, hand_profile)
        out += cpu_table([runs for runs, _ in contenders])

        if args.decisions:
            print(f"decisions: starting {args.decisions} orders that need approval", flush=True)
            rounds = await decision_round_trips(api, args.decisions, c)
            out.append(
                f"{2 * args.decisions} orders needing approval started in "
                f"{rounds.start_seconds:.1f} s, all in the inbox after "
                f"{rounds.inbox_seconds:.1f} s; decided one at a time (targets: verdict p99 <= "
                "50 ms, next stage p99 <= 100 ms):"
            )
            for how, decisions in (
                ("each once the previous order has finished", rounds.quiet),
                ("back to back, beside the previous order's fulfilment", rounds.back_to_back),
            ):
                out.append(f"  {how}:")
                for name, values in (
                    ("POST decision -> 200 with the verdict", decisions.answered),
                    ("POST decision -> next stage in GET", decisions.next_stage),
                ):
                    if values:
                        ms = [v * 1000 for v in values]
                        out.append(
                            f"    {name:<40} p50 {statistics.median(ms):>6.1f} ms  "
                            f"p99 {percentile(ms, 0.99):>6.1f} ms  ({len(ms)} decisions)"
                        )
                rounds.problems += decisions.problems
            out += [f"  problem: {problem}" for problem in rounds.problems[:20]]
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100, help="orders of each contender")
    parser.add_argument("--concurrency", type=int, default=20, help="runs in flight")
    parser.add_argument("--decisions", type=int, default=200, help="decision round trips")
    parser.add_argument("--rounds", type=int, default=2, help="turns of the contenders")
    parser.add_argument("--profile", type=int, default=20, help="histories profiled of each")
    parser.add_argument(
        "--activity-slots",
        type=int,
        default=12,
        help="the hand-written worker's max_concurrent_activities (Baton: 8 bot + 4 AI slots)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="BATON_X=VALUE",
        help="a setting of the stack, e.g. BATON_BOTS_RATE_LIMIT_PER_SECOND=1000; repeatable",
    )
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.set)

    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(bench_env(Path(tmp) / "data", **settings), Path(tmp)) as stack,
    ):
        lines = await measure(stack, args)
    print("\n".join(lines))
    if settings:
        print(f"stack settings besides the bench's: {settings}")


if __name__ == "__main__":
    asyncio.run(main())
