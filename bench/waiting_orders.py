"""Many waiting processes: N orders wait on a sales manager at once; the workers' memory stays
bounded by the workflow cache, and every one of them can still be decided.

Starts `baton dev` on free ports in a temporary directory (bench/stack.py) with
BATON_WORKFLOW_CACHE_SIZE set to `--cache`, then:
1. starts N orders that need approval through the API, C in flight (each from its start until
   its task is in the sales manager's inbox), times how long until all N wait, then reads the
   whole inbox (pages of 200) to see all N tasks open at once;
2. samples the resident memory (VmRSS) of each worker process every `--sample` seconds
   throughout: idle, at its peak, once all N wait, and at the end;
3. approves every task through the API as the manager (bob), D decisions in flight, each with
   an Idempotency-Key so a retry (504 not applied yet, a dropped connection) is the same decision;
4. checks through the API that all N processes complete (GET /v1/processes?status=completed).
Prints the start rate, the time until all wait, RSS per worker, the decision rate and failures,
and the completions. The defaults suit a 2-core machine; 10,000 orders take a while there.

    .venv/bin/python bench/waiting_orders.py [--orders 10000] [--concurrency 20] [--cache 500]
        [--decide-concurrency 8] [--sample 2] [--deadline 7200]
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# Run as a file (python bench/waiting_orders.py), the repository root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack import (
    ALICE,
    BOB,
    ERIN,
    NEEDS_APPROVAL,
    WORKERS,
    DevStack,
    bench_env,
    get,
    pages,
    percentile,
    rss_mib,
    running_stack,
    user,
    worker_pids,
)

ORDERS = "/v1/processes/order-fulfillment"
PROGRESS_S = 30.0  # how often a long phase says how far it is
WAIT_POLL_S = 0.5  # how often a starting order looks for its task in the inbox
RETRIES = 5  # tries of one decision that is not answered (504, 503, a dropped connection)


@dataclass
class Memory:
    """Each worker's resident memory (MiB), sampled in the background."""

    stack: DevStack
    every: float
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    marks: dict[str, dict[str, float]] = field(default_factory=dict)  # moment -> worker -> MiB
    pids: dict[str, set[int]] = field(default_factory=dict)  # a restarted worker has two

    def sample(self) -> dict[str, float]:
        now, seen = time.monotonic(), {}
        for name, pid in worker_pids(self.stack).items():
            rss = rss_mib(pid)
            if rss is not None:
                self.samples.setdefault(name, []).append((now, rss))
                self.pids.setdefault(name, set()).add(pid)
                seen[name] = rss
        return seen

    def mark(self, moment: str) -> None:
        self.marks[moment] = self.sample()

    def peak(self, name: str, since: float = 0.0) -> float:
        return max((rss for at, rss in self.samples.get(name, []) if at >= since), default=0.0)

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.every)


@dataclass
class Figures:
    orders: int = 0
    started: list[str] = field(default_factory=list)
    refused: dict[int, int] = field(default_factory=dict)  # status code of a refused start
    to_wait: list[float] = field(default_factory=list)  # seconds from a start to its task
    waiting_seconds: float = 0.0  # until every order was waiting, its task in the inbox
    tasks: dict[str, str] = field(default_factory=dict)  # process id -> task id
    decided: int = 0
    decide_seconds: float = 0.0
    retries: Counter[str] = field(default_factory=Counter)  # why a decision was sent again
    failures: list[str] = field(default_factory=list)
    completed: set[str] = field(default_factory=set)
    complete_seconds: float = 0.0  # from the first decision until all completed


async def in_batches(n: int, c: int, one: Callable[[int], Awaitable[None]]) -> None:
    gate = asyncio.Semaphore(c)

    async def gated(number: int) -> None:
        async with gate:
            await one(number)

    await asyncio.gather(*(gated(number) for number in range(n)))


async def progress(what: Callable[[], str], began: float) -> None:
    while True:
        await asyncio.sleep(PROGRESS_S)
        print(f"  {time.monotonic() - began:7.0f} s  {what()}", flush=True)


async def start_and_wait(
    api: httpx.AsyncClient, figures: Figures, c: int, deadline: float, memory: Memory
) -> None:
    """Starts the orders, `c` in flight from the start until the order's task is in the
    manager's inbox; then reads the whole inbox to see every one there."""
    began = time.monotonic()
    quarters = {figures.orders * q // 4: f"{q}/4 waiting" for q in (1, 2, 3)}

    async def start(_: int) -> None:
        response = await api.post(ORDERS, json=NEEDS_APPROVAL, headers=user(ALICE))
        if response.status_code != 201:
            figures.refused[response.status_code] = figures.refused.get(response.status_code, 0)
            figures.refused[response.status_code] += 1
            return
        process_id, started = response.json()["process_id"], time.monotonic()
        figures.started.append(process_id)
        while time.monotonic() < deadline:
            tasks = await get(api, "/v1/tasks", BOB, process_id=process_id)
            items = tasks.json()["items"] if tasks.status_code == 200 else []
            if items:
                figures.to_wait.append(time.monotonic() - started)
                if len(figures.to_wait) in quarters:  # memory as the waiting pile up
                    memory.mark(quarters[len(figures.to_wait)])
                return
            await asyncio.sleep(WAIT_POLL_S)

    def waiting() -> str:
        rate = len(figures.to_wait) / (time.monotonic() - began)
        return f"{len(figures.to_wait)} of {figures.orders} waiting ({rate:.1f} orders/s)"

    reporter = asyncio.create_task(progress(waiting, began))
    try:
        await in_batches(figures.orders, c, start)
    finally:
        reporter.cancel()
    figures.waiting_seconds = time.monotonic() - began
    tasks = await pages(api, "/v1/tasks", BOB, process_type="order-fulfillment")
    figures.tasks = {t["process_id"]: t["task_id"] for t in tasks if t["status"] == "open"}


async def decide_all(api: httpx.AsyncClient, figures: Figures, d: int) -> None:
    """The manager approves every task, `d` at a time."""
    began = time.monotonic()
    started = set(figures.started)
    todo = [(pid, task) for pid, task in figures.tasks.items() if pid in started]

    async def decide(number: int) -> None:
        process_id, task_id = todo[number]
        headers = user(BOB, f"bench-{uuid.uuid4().hex}")
        body = {"outcome": "approve", "comment": "bench: approved"}
        answer = ""
        for attempt in range(RETRIES):
            if attempt:
                figures.retries[answer.split(" ")[0]] += 1
            try:
                response = await api.post(
                    f"/v1/tasks/{task_id}/decision", json=body, headers=headers
                )
            except httpx.TransportError as exc:
                answer = f"{type(exc).__name__}"
                continue
            if response.status_code == 200 and response.json().get("outcome") == "approve":
                figures.decided += 1
                return
            answer = f"{response.status_code} {response.text[:200]}"
            if response.status_code not in (503, 504):
                break
            await asyncio.sleep(1)
        figures.failures.append(f"{process_id}: {answer}")

    def decided() -> str:
        return f"{figures.decided} of {len(todo)} decided, {len(figures.failures)} failures"

    reporter = asyncio.create_task(progress(decided, began))
    try:
        await in_batches(len(todo), d, decide)
    finally:
        reporter.cancel()
    figures.decide_seconds = time.monotonic() - began


async def wait_completed(
    api: httpx.AsyncClient, figures: Figures, began: float, deadline: float
) -> None:
    """Lists the completed orders until every one started is among them, or the deadline."""
    wanted = set(figures.started)
    while True:
        done = await pages(api, "/v1/processes", ERIN, process_type="order-fulfillment",
                           status="completed")  # fmt: skip
        figures.completed = wanted & {p["process_id"] for p in done}
        if figures.completed == wanted or time.monotonic() > deadline:
            break
        print(
            f"  {time.monotonic() - began:7.0f} s  {len(figures.completed)} completed", flush=True
        )
        await asyncio.sleep(5)
    figures.complete_seconds = time.monotonic() - began


async def not_completed(api: httpx.AsyncClient, figures: Figures) -> list[str]:
    """Status and stage of (up to 20 of) the orders that did not complete."""
    lines = []
    for pid in sorted(set(figures.started) - figures.completed)[:20]:
        state = (await get(api, f"/v1/processes/{pid}", ERIN)).json()
        lines.append(f"  not completed: {pid} {state.get('status')} {state.get('stage')}")
    return lines


def memory_table(memory: Memory, decisions_began: float) -> list[str]:
    moments = list(memory.marks)  # idle, 1/4 .. 3/4 waiting, all waiting, final
    head = f"{'RSS (MiB)':<18}" + "".join(f"{m:>13}" for m in moments)
    head += f"{'peak starting':>15}{'peak deciding':>15}{'peak':>9}"
    lines = [head]
    for name in WORKERS:
        cells = [memory.marks.get(m, {}).get(name) for m in moments]
        row = f"{name:<18}" + "".join(f"{c:>13.0f}" if c else f"{'-':>13}" for c in cells)
        before = max(
            (rss for at, rss in memory.samples.get(name, []) if at < decisions_began),
            default=0.0,
        )
        row += f"{before:>15.0f}{memory.peak(name, decisions_began):>15.0f}"
        row += f"{memory.peak(name):>9.0f}"
        restarts = len(memory.pids.get(name, set())) - 1
        lines.append(row + (f"  ({restarts} restarts)" if restarts > 0 else ""))
    return lines


async def run(stack: DevStack, args: argparse.Namespace) -> tuple[list[str], bool]:
    figures, memory = Figures(orders=args.orders), Memory(stack, args.sample)
    memory.mark("idle")
    sampler = asyncio.create_task(memory.run())
    limits = httpx.Limits(max_connections=max(args.concurrency, args.decide_concurrency) + 10)
    try:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=120, limits=limits) as api:
            print(f"starting {args.orders} orders that need approval", flush=True)
            deadline = time.monotonic() + args.deadline
            await start_and_wait(api, figures, args.concurrency, deadline, memory)
            memory.mark("all waiting")
            print(f"deciding {len(figures.tasks)} tasks", flush=True)
            decisions_began = time.monotonic()
            await decide_all(api, figures, args.decide_concurrency)
            print("waiting for the orders to complete", flush=True)
            await wait_completed(api, figures, decisions_began, time.monotonic() + args.deadline)
            memory.mark("final")
            stragglers = await not_completed(api, figures)
    finally:
        sampler.cancel()

    n, waiting = args.orders, len(set(figures.started) & figures.tasks.keys())
    lines = [
        f"{n} orders needing approval, {args.concurrency} starts in flight, "
        f"BATON_WORKFLOW_CACHE_SIZE={args.cache} (per worker)",
        f"started: {len(figures.started)} of {n} ({figures.refused or 'none'} refused), all "
        f"waiting after {figures.waiting_seconds:.1f} s = "
        f"{len(figures.to_wait) / figures.waiting_seconds:.1f} orders/s; start -> task in the "
        f"inbox p50 {statistics.median(figures.to_wait or [0]):.1f} s "
        f"p99 {percentile(figures.to_wait or [0], 0.99):.1f} s",
        f"waiting at once: {waiting} of {n} tasks open in the manager's inbox",
        *memory_table(memory, decisions_began),
        f"decided: {figures.decided} approvals in {figures.decide_seconds:.1f} s = "
        f"{figures.decided / figures.decide_seconds:.1f} decisions/s, "
        f"{args.decide_concurrency} in flight; failures {len(figures.failures)}, "
        f"retries {dict(figures.retries) or 0} (the same Idempotency-Key: one decision)",
        *(f"  failure: {failure}" for failure in figures.failures[:20]),
        f"completed: {len(figures.completed)} of {len(figures.started)} started, all within "
        f"{figures.complete_seconds:.1f} s of the first decision",
        *stragglers,
    ]
    ok = (
        len(figures.started) == n
        and waiting == n
        and not figures.failures
        and len(figures.completed) == n
    )
    return lines, ok


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders waiting at once")
    parser.add_argument("--concurrency", type=int, default=20, help="starts in flight")
    parser.add_argument("--cache", type=int, default=500, help="BATON_WORKFLOW_CACHE_SIZE")
    parser.add_argument("--decide-concurrency", type=int, default=8, help="decisions in flight")
    parser.add_argument("--sample", type=float, default=2.0, help="seconds between RSS samples")
    parser.add_argument("--deadline", type=float, default=7200.0, help="seconds per phase")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = bench_env(Path(tmp) / "data", BATON_WORKFLOW_CACHE_SIZE=str(args.cache))
        with running_stack(env, Path(tmp)) as stack:
            lines, ok = await run(stack, args)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
