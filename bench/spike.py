"""Spike isolation: small orders while a thousand invoices arrive at once.

Starts `baton dev` on free ports in a temporary directory (bench/stack.py) and measures, each
figure from a process's start to its completion:
(a) orders alone: N small auto-approved orders through the API, C in flight;
(b) the same N orders started while I invoices are started at once (straight through Temporal
    with core.processes.start_process, as a batch import would; they take the automatic path:
    matched against PO-50001, within the first limit, paid a second later), and the ratio of
    the p95s, (b) / (a);
(c) in a second spike of I invoices, P urgent and P normal orders started together: the median
    completion of each, and the share of urgent orders done before the median normal one.
Then, from the orders' histories, where their time went: waiting in each task queue (the
workflow tasks in `processes` and in a worker's sticky queue, the steps in `bots`, `ai`,
`inbox`) and running on a worker; the CPU each part of the stack used during (b); the machine's
load average (other work on the machine shows there).

`--server bare` starts the dev server without Baton's dynamic config (what `baton dev` ran
before: no fairness, four partitions per queue), so the figures show what
`baton.devstack.TEMPORAL_DYNAMIC_CONFIG` buys. `--setting BATON_X=V` sets one of the stack's
settings; `--add-worker QUEUE` runs one more worker of that pool. `--probe` only checks, on a
dev server with and one without that config, in which order 75 backlogged activities are
handed out: 60 normal of fairness key A, then 10 normal of key B, then 5 urgent of key A.
No figure is a pass or a fail.

    .venv/bin/python bench/spike.py [--orders 40] [--in-flight 4] [--invoices 1000] [--pairs 10]
                                    [--server baton|bare] [--setting BATON_X=VALUE]...
                                    [--add-worker QUEUE]... [--probe]
"""

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio import activity, workflow
from temporalio.api.enums.v1 import TaskQueueKind
from temporalio.client import Client
from temporalio.common import Priority
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

# Run as a file (python bench/spike.py), the repository root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baton.devstack import DevStack as Launcher
from baton.devstack import dynamic_config_args, temporal_binary
from bench.stack import (
    ALICE,
    AUTO_APPROVED,
    BENCH_POLICIES,
    DevStack,
    bench_env,
    cpu_by_part,
    cpu_seconds,
    percentile,
    running_stack,
    user,
)
from core.processes import start_process
from core.settings import Environment, Settings
from core.temporal import connect
from workflows.contracts.invoices import INVOICE_PROCESSING

ORDERS = "/v1/processes/order-fulfillment"
URGENT = {**AUTO_APPROVED, "priority": "urgent"}
# Matches PO-50001 (prices, quantities received) and is within the first limit: no person.
INVOICE = (
    "INVOICE\nNorthwind Components\nInvoice number: {number}\nInvoice date: 2026-11-20\n"
    "Due date: 2026-12-20\nPurchase order: PO-50001\nCurrency: EUR\n"
    "WID-100 Widget 400 x 7.10 = 2840.00\nGAD-120 Gadget 200 x 11.00 = 2200.00\n"
    "Subtotal: 5040.00\nTax: 0.00\nTotal: 5040.00"
)
POLICIES = json.loads(BENCH_POLICIES) | {"invoice-processing": {"pay_delay": "PT1S"}}
SPIKE_DEADLINE_S = 1800.0
INVOICES = "BatonProcessType = 'invoice-processing'"
RUNNING = "ExecutionStatus = 'Running'"
STATUSES = ("running", "waiting", "completed", "rejected", "failed", "cancelled")
STICKY = TaskQueueKind.TASK_QUEUE_KIND_STICKY


@dataclass
class Orders:
    """Completion times (seconds) of orders, and those that did not complete."""

    seconds: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    process_ids: list[str] = field(default_factory=list)
    refused: int = 0  # 503 answers to the starts, asked again

    def add(self, other: "Orders") -> None:
        self.seconds += other.seconds
        self.failed += other.failed
        self.process_ids += other.process_ids
        self.refused += other.refused

    def figures(self) -> str:
        s = self.seconds
        if not s:
            return f"no order completed ({len(self.failed)} did not)"
        failed = f", {len(self.failed)} did not complete" if self.failed else ""
        failed += f", {self.refused} starts answered 503 first" if self.refused else ""
        return (
            f"{len(s):3} orders  p50 {statistics.median(s):6.2f} s  "
            f"p95 {percentile(s, 0.95):6.2f} s  max {max(s):6.2f} s{failed}"
        )


@dataclass
class Spike:
    """What became of a burst of invoices."""

    count: int
    started_in: float = 0.0  # seconds to start them all
    drained_in: float = 0.0  # seconds from the first start until none runs
    by_status: dict[str, int] = field(default_factory=dict)

    def figures(self) -> str:
        statuses = ", ".join(f"{n} {status}" for status, n in sorted(self.by_status.items()))
        rate = self.count / self.drained_in if self.drained_in else 0.0
        return (
            f"{self.count} invoices started in {self.started_in:.1f} s, all done after "
            f"{self.drained_in:.1f} s ({statuses}; {rate:.1f} invoices/s)"
        )


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) {five:.1f} (5 min) on {os.cpu_count()} CPUs"


# -- the stack ----------------------------------------------------------------------------------


def stack_settings(env: dict[str, str]) -> Settings:
    """The stack's settings as its parts read them (its dev keys are in its data dir)."""
    return Settings(
        _env_file=None,
        env=Environment.DEV,
        data_dir=Path(env["BATON_DATA_DIR"]),
        temporal_address=env["BATON_TEMPORAL_ADDRESS"],
        temporal_ui_url=env["BATON_TEMPORAL_UI_URL"],
        temporal_http_port=int(env["BATON_TEMPORAL_HTTP_PORT"]),
        temporal_metrics_port=int(env["BATON_TEMPORAL_METRICS_PORT"]),
        codec_port=int(env["BATON_CODEC_PORT"]),
        policies=POLICIES,
        codec_keys={},
        codec_key_id="",
    )


@contextlib.contextmanager
def bare_temporal(settings: Settings) -> Iterator[int]:
    """The dev server `baton dev` would start, without Baton's dynamic config; `baton dev`
    finds it answering and uses it."""
    argv = Launcher(settings)._temporal_argv()
    ours = dynamic_config_args()
    start = next(i for i in range(len(argv)) if argv[i : i + len(ours)] == ours)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    bare = argv[:start] + argv[start + len(ours) :]
    server = subprocess.Popen(bare, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextlib.contextmanager
def more_workers(env: dict[str, str], queues: Sequence[str]) -> Iterator[None]:
    """A `baton worker --queue Q` process for each of `queues` beside the stack's own: capacity
    moved to a pool while Baton runs, as README shows."""
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "baton", "worker", "--queue", queue],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for queue in queues
    ]
    try:
        yield
    finally:
        for worker in started:
            worker.terminate()
        for worker in started:
            worker.wait(timeout=60)


# -- orders and invoices ------------------------------------------------------------------------


async def one_order(api: httpx.AsyncClient, client: Client, body: dict[str, Any]) -> Orders:
    """One order, timed from its first request: a 503 (Temporal slower than the API's bound,
    BATON_API_TEMPORAL_TIMEOUT_SECONDS) is asked again, as a client would, and counted."""
    began, refused = time.monotonic(), 0
    while (response := await api.post(ORDERS, json=body, headers=user(ALICE))).status_code == 503:
        refused += 1
        await asyncio.sleep(0.5)
    response.raise_for_status()
    process_id = response.json()["process_id"]
    state = await client.get_workflow_handle(process_id).result()
    if state["status"] != "completed":
        return Orders(failed=[f"{process_id}: {state['status']}"], refused=refused)
    return Orders(seconds=[time.monotonic() - began], process_ids=[process_id], refused=refused)


async def run_orders(
    api: httpx.AsyncClient, client: Client, body: dict[str, Any], count: int, in_flight: int
) -> Orders:
    """`count` orders, `in_flight` at a time: each starts as soon as another finishes."""
    gate = asyncio.Semaphore(in_flight)
    done = Orders()

    async def one() -> None:
        async with gate:
            done.add(await one_order(api, client, body))

    await asyncio.gather(*(one() for _ in range(count)))
    return done


class Invoices:
    """Bursts of invoices, and what became of them (counted in Temporal's visibility store, so
    watching them adds next to no load)."""

    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.numbered = 0

    async def burst(self, count: int) -> tuple[Spike, asyncio.Task[None]]:
        """Starts `count` invoices at once; returns once all are started, with a task that
        ends once none of them runs any more (or all that run wait on a person)."""
        spike, began = Spike(count), time.monotonic()
        before = await self.statuses()
        first, self.numbered = self.numbered, self.numbered + count
        numbers = [f"NW-SPIKE-{n:05d}" for n in range(first, first + count)]
        await asyncio.gather(*(self._start(number) for number in numbers))
        spike.started_in = time.monotonic() - began
        return spike, asyncio.create_task(self._drain(spike, began, before))

    async def _start(self, number: str) -> None:
        given = {"text": INVOICE.format(number=number), "vendor_id": "V-201"}
        invoice = INVOICE_PROCESSING.input_model.model_validate(given)
        await start_process(
            self.client, self.settings, INVOICE_PROCESSING, invoice, "dave", f"spike-{number}"
        )

    async def _drain(self, spike: Spike, began: float, before: dict[str, int]) -> None:
        while time.monotonic() < began + SPIKE_DEADLINE_S:
            busy = await self._count(f"{INVOICES} AND {RUNNING}")
            waiting = await self._count(f"{INVOICES} AND {RUNNING} AND BatonStatus = 'waiting'")
            if busy == waiting:
                break
            await asyncio.sleep(0.5)
        spike.drained_in = time.monotonic() - began
        after = await self.statuses()
        spike.by_status = {k: n - before[k] for k, n in after.items() if n != before[k]}

    async def statuses(self) -> dict[str, int]:
        """Invoices by BatonStatus (the final one once they are done)."""
        counts = [await self._count(f"{INVOICES} AND BatonStatus = '{s}'") for s in STATUSES]
        return dict(zip(STATUSES, counts, strict=True))

    async def _count(self, query: str) -> int:
        return (await self.client.count_workflows(query)).count


# -- where the time goes ------------------------------------------------------------------------

TASK_STARTED = ("workflow_task_started_event_attributes", "activity_task_started_event_attributes")
TASK_ENDED = (
    "workflow_task_completed_event_attributes",
    "workflow_task_failed_event_attributes",
    "workflow_task_timed_out_event_attributes",
    "activity_task_completed_event_attributes",
    "activity_task_failed_event_attributes",
    "activity_task_timed_out_event_attributes",
)


async def time_spent(client: Client, process_ids: Sequence[str]) -> dict[str, float]:
    """Per order, on average: seconds its tasks waited in each task queue until a worker took
    them, and seconds workers took over them (from the runs' histories)."""
    spent: dict[str, float] = {}

    def add(what: str, start: datetime, end: datetime) -> None:
        spent[what] = spent.get(what, 0.0) + (end - start).total_seconds()

    for process_id in process_ids:
        history = await client.get_workflow_handle(process_id).fetch_history()
        scheduled: dict[int, tuple[str, datetime]] = {}  # event id -> (queue, when)
        started: dict[int, datetime] = {}
        for event in history.events:
            at, kind = event.event_time.ToDatetime(), event.WhichOneof("attributes")
            if kind == "workflow_task_scheduled_event_attributes":
                sticky = event.workflow_task_scheduled_event_attributes.task_queue.kind == STICKY
                scheduled[event.event_id] = ("sticky" if sticky else "processes", at)
            elif kind == "activity_task_scheduled_event_attributes":
                queue = event.activity_task_scheduled_event_attributes.task_queue.name
                scheduled[event.event_id] = (queue, at)
            elif kind in TASK_STARTED:
                task = getattr(event, kind).scheduled_event_id
                queue, since = scheduled[task]
                add(f"waiting in {queue}", since, at)
                started[task] = at
            elif kind in TASK_ENDED:
                task = getattr(event, kind).scheduled_event_id
                if task in started:
                    add(f"on a {scheduled[task][0]} worker", started[task], at)
        first, last = history.events[0].event_time, history.events[-1].event_time
        add("in all", first.ToDatetime(), last.ToDatetime())
    return {what: total / len(process_ids) for what, total in sorted(spent.items())}


def breakdown(spent: dict[str, float]) -> str:
    waits = {k.removeprefix("waiting in "): v for k, v in spent.items() if k.startswith("wait")}
    runs = {k[5:-7]: v for k, v in spent.items() if k.startswith("on a ")}  # "on a X worker"
    return (
        f"{spent.get('in all', 0.0):5.2f} s; waiting in "
        + ", ".join(f"{queue} {s:.2f}" for queue, s in waits.items())
        + "; on workers of "
        + ", ".join(f"{queue} {s:.2f}" for queue, s in runs.items())
    )


# -- the scenarios ------------------------------------------------------------------------------


@dataclass
class Report:
    alone: Orders = field(default_factory=Orders)
    during: Orders = field(default_factory=Orders)
    spike: Spike | None = None
    urgent: Orders = field(default_factory=Orders)
    normal: Orders = field(default_factory=Orders)
    pair_spike: Spike | None = None
    spent: dict[str, dict[str, float]] = field(default_factory=dict)  # per group of orders
    cpu: dict[str, float] = field(default_factory=dict)  # cores used by each part during (b)
    loads: list[str] = field(default_factory=list)


async def measure(
    args: argparse.Namespace, api: httpx.AsyncClient, stack: DevStack, temporal_pid: int | None
) -> Report:
    report = Report()

    def cpu() -> dict[str, float]:
        used = cpu_by_part(stack)
        if temporal_pid is not None:  # a server of our own, not the launcher's child
            used["temporal server"] = cpu_seconds(temporal_pid)
        return used

    settings = stack_settings(stack.env)
    client = await connect(settings)
    invoices = Invoices(client, settings)
    await run_orders(api, client, AUTO_APPROVED, 4, 2)  # warm-up: models, connections
    spike, drained = await invoices.burst(2)
    await drained
    if spike.by_status != {"completed": 2}:
        print(f"warning: the warm-up invoices ended {spike.by_status}", flush=True)

    print(f"(a) {args.orders} orders alone, {args.in_flight} in flight; {load()}", flush=True)
    report.alone = await run_orders(api, client, AUTO_APPROVED, args.orders, args.in_flight)

    print(f"(b) the same while {args.invoices} invoices arrive; {load()}", flush=True)
    cpu_before, began = cpu(), time.monotonic()
    orders = run_orders(api, client, AUTO_APPROVED, args.orders, args.in_flight)
    during = asyncio.create_task(orders)
    report.spike, drained = await invoices.burst(args.invoices)
    report.during = await during
    seconds, cpu_after = time.monotonic() - began, cpu()
    report.cpu = {part: (cpu_after[part] - cpu_before[part]) / seconds for part in cpu_after}
    report.loads.append(f"during (b): {load()}")
    await drained

    print(f"(c) {args.pairs} urgent and {args.pairs} normal orders in a second spike", flush=True)
    report.pair_spike, drained = await invoices.burst(args.invoices)
    bodies = [URGENT, AUTO_APPROVED] * args.pairs
    pairs = await asyncio.gather(*(one_order(api, client, body) for body in bodies))
    for number, done in enumerate(pairs):
        (report.urgent if number % 2 == 0 else report.normal).add(done)
    report.loads.append(f"during (c): {load()}")
    await drained

    groups = {"(a)": report.alone, "(b)": report.during}
    groups |= {"(c) urgent": report.urgent, "(c) normal": report.normal}
    for name, group in groups.items():
        if group.process_ids:
            report.spent[name] = await time_spent(client, group.process_ids)
    return report


def print_report(args: argparse.Namespace, report: Report) -> None:
    print()
    more = " ".join([*args.setting, *(f"+worker {queue}" for queue in args.add_worker)])
    print(f"server: {args.server} {more}".rstrip())
    print(f"(a) alone            {report.alone.figures()}")
    print(f"(b) during the spike {report.during.figures()}")
    if report.spike:
        print(f"    {report.spike.figures()}")
    if report.alone.seconds and report.during.seconds:
        p95 = percentile(report.during.seconds, 0.95) / percentile(report.alone.seconds, 0.95)
        p50 = statistics.median(report.during.seconds) / statistics.median(report.alone.seconds)
        print(f"    p95 (b)/(a) = {p95:.2f}   p50 (b)/(a) = {p50:.2f}")
    print(f"(c) urgent           {report.urgent.figures()}")
    print(f"    normal           {report.normal.figures()}")
    if report.pair_spike:
        print(f"    {report.pair_spike.figures()}")
    if report.urgent.seconds and report.normal.seconds:
        median_normal = statistics.median(report.normal.seconds)
        first = sum(s < median_normal for s in report.urgent.seconds) / len(report.urgent.seconds)
        print(
            f"    median urgent {statistics.median(report.urgent.seconds):.2f} s, normal "
            f"{median_normal:.2f} s; {first:.0%} of the urgent orders done before the median "
            "normal one"
        )
    print("where an order's time went, on average (seconds):")
    for name, spent in report.spent.items():
        print(f"  {name:10} {breakdown(spent)}")
    cores = ", ".join(f"{part} {used:.2f}" for part, used in report.cpu.items())
    print(f"CPU cores used during (b): {cores}")
    for line in report.loads:
        print(line)


# -- the probe: do priority and fairness take effect? -------------------------------------------

handed_out: list[str] = []


@activity.defn(name="spike.probe")
async def probe_step(label: str) -> None:
    handed_out.append(label)


@workflow.defn(name="SpikeProbe", sandboxed=False)
class ProbeWorkflow:
    @workflow.run
    async def run(self, queue: str, label: str) -> None:
        urgent, key = label == "U", "b" if label == "B" else "a"
        priority = Priority(priority_key=1 if urgent else 3, fairness_key=key)
        await workflow.execute_activity(
            "spike.probe",
            label,
            task_queue=queue,
            start_to_close_timeout=timedelta(seconds=30),
            priority=priority,
        )


async def probe(extra_args: list[str], weight_of_b: float | None = None) -> str:
    """The order in which one activity slot takes 60 normal tasks of key A, then 10 normal of
    key B, then 5 urgent of key A, all waiting before the worker starts. `weight_of_b` is set
    the way README shows, with the Temporal CLI."""
    handed_out.clear()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        dev_server_log_level="error",
        dev_server_extra_args=extra_args,
    )
    client, runs = env.client, f"probe-{uuid.uuid4().hex[:8]}"
    steps = f"{runs}-steps"
    if weight_of_b is not None:
        address = client.service_client.config.target_host
        config = ["task-queue", "config", "set", "--address", address, "--task-queue", steps]
        config += ["--task-queue-type", "activity", "--fairness-key-weight", f"b={weight_of_b}"]
        cli = await asyncio.create_subprocess_exec(temporal_binary(), *config)
        if await cli.wait():
            raise RuntimeError(f"temporal {' '.join(config)} failed")
    try:
        async with Worker(client, task_queue=runs, workflows=[ProbeWorkflow]):
            labels = ["A"] * 60 + ["B"] * 10 + ["U"] * 5
            handles = [
                await client.start_workflow(
                    ProbeWorkflow.run, args=[steps, label], id=f"{runs}-{n}", task_queue=runs
                )
                for n, label in enumerate(labels)
            ]
            await asyncio.sleep(3)  # every activity task scheduled, none taken yet
            async with Worker(
                client, task_queue=steps, activities=[probe_step], max_concurrent_activities=1
            ):
                await asyncio.gather(*(handle.result() for handle in handles))
    finally:
        await env.shutdown()
    order = "".join(handed_out)
    urgent = [i for i, x in enumerate(order) if x == "U"]
    small = [i for i, x in enumerate(order) if x == "B"]
    return f"{order}\n    urgent at {urgent}\n    key B at {small}"


async def run_probe() -> None:
    for name, extra in (("without", []), ("with", dynamic_config_args())):
        print(f"{name} Baton's dynamic config: {await probe(extra)}", flush=True)
    weighted = await probe(dynamic_config_args(), weight_of_b=4.0)
    print(f"with it and key B weighing 4: {weighted}", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=40)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--server", choices=["baton", "bare"], default="baton")
    parser.add_argument("--setting", action="append", default=[], help="BATON_X=VALUE")
    parser.add_argument("--add-worker", action="append", default=[], help="a task queue")
    parser.add_argument("--probe", action="store_true")
    args = parser.parse_args()
    if args.probe:
        await run_probe()
        return

    extra = dict(setting.split("=", 1) for setting in args.setting)
    with tempfile.TemporaryDirectory() as tmp:
        env = bench_env(Path(tmp) / "data", BATON_POLICIES=json.dumps(POLICIES), **extra)
        with contextlib.ExitStack() as resources:
            temporal_pid = None
            if args.server == "bare":
                temporal_pid = resources.enter_context(bare_temporal(stack_settings(env)))
            stack = resources.enter_context(running_stack(env, Path(tmp)))
            resources.enter_context(more_workers(env, args.add_worker))
            async with httpx.AsyncClient(base_url=stack.api_url, timeout=120) as api:
                report = await measure(args, api, stack, temporal_pid)
    print_report(args, report)


if __name__ == "__main__":
    asyncio.run(main())
