"""Order throughput: Baton's orders through the API against bare Temporal workflows.

Starts `baton dev` (Temporal dev server on a WAL SQLite file, sandbox, workers, API) on free
ports in a temporary directory, then:
1. completes N auto-approved structured orders through the HTTP API, C in flight;
2. on the same server, runs N bare workflows of as many trivial activities as one order ran;
3. starts M orders that need approval and times POST .../decision -> the new state in GET.
Prints orders/s, activity steps/s, p50/p99 end-to-end latency and the Baton/bare ratio.

    .venv/bin/python bench/order_throughput.py [--orders 100] [--concurrency 20]
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from core.settings import Environment, Settings
from core.temporal import connect

ALICE, BOB = {"Authorization": "Bearer dev-alice"}, {"Authorization": "Bearer dev-bob"}
SMALL = {"customer_id": "C-1010", "lines": [{"sku": "BRG-810", "quantity": 1}]}
LARGE = {"customer_id": "C-1010", "lines": [{"sku": "PMP-410", "quantity": 12}]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def start_stack(data_dir: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env |= {
        "BATON_DATA_DIR": str(data_dir),
        "BATON_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "BATON_TEMPORAL_UI_URL": f"http://127.0.0.1:{free_port()}",
        "BATON_SYSTEMS_URL": f"http://127.0.0.1:{free_port()}",
        "BATON_API_PORT": str(free_port()),
        "BATON_LOG_LEVEL": "WARNING",
    }
    stack = subprocess.Popen(
        [sys.executable, "-m", "baton", "dev"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert stack.stdout is not None
    for line in stack.stdout:
        if line.startswith("Baton is up"):
            # Keep draining its output so the stack never blocks on a full pipe.
            asyncio.get_running_loop().run_in_executor(None, stack.stdout.read)
            return stack, env
    raise SystemExit("baton dev did not come up")


async def run_orders(api: httpx.AsyncClient, client: Client, n: int, c: int) -> list[float]:
    gate = asyncio.Semaphore(c)

    async def one() -> float:
        async with gate:
            began = time.perf_counter()
            response = await api.post("/v1/processes/order-fulfillment", json=SMALL, headers=ALICE)
            response.raise_for_status()
            await client.get_workflow_handle(response.json()["process_id"]).result()
            return time.perf_counter() - began

    return list(await asyncio.gather(*(one() for _ in range(n))))


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


async def run_bare(client: Client, n: int, c: int, steps: int) -> list[float]:
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    gate = asyncio.Semaphore(c)

    async def one() -> float:
        async with gate:
            began = time.perf_counter()
            await client.execute_workflow(
                BareWorkflow.run, steps, id=f"bare-{uuid.uuid4()}", task_queue=queue
            )
            return time.perf_counter() - began

    async with Worker(client, task_queue=queue, workflows=[BareWorkflow], activities=[noop]):
        return list(await asyncio.gather(*(one() for _ in range(n))))


async def activity_steps(client: Client, process_id: str) -> int:
    history = await client.get_workflow_handle(process_id).fetch_history()
    scheduled = "activity_task_scheduled_event_attributes"
    return sum(1 for event in history.events if event.HasField(scheduled))


async def decision_latencies(api: httpx.AsyncClient, m: int) -> list[float]:
    latencies = []
    for _ in range(m):
        started = await api.post("/v1/processes/order-fulfillment", json=LARGE, headers=ALICE)
        process_id = started.json()["process_id"]
        task_id = ""
        while not task_id:
            tasks = await api.get("/v1/tasks", params={"process_id": process_id}, headers=BOB)
            items = tasks.json()["items"]
            task_id = items[0]["task_id"] if items else ""
            await asyncio.sleep(0.02)
        began = time.perf_counter()
        decided = await api.post(
            f"/v1/tasks/{task_id}/decision", json={"outcome": "approve"}, headers=BOB
        )
        decided.raise_for_status()
        while (await api.get(f"/v1/processes/{process_id}", headers=ALICE)).json()["stage"] in (
            "approval",
        ):
            pass
        latencies.append(time.perf_counter() - began)
    return latencies


def report(name: str, latencies: list[float], wall: float, steps: int) -> float:
    per_second = len(latencies) / wall
    print(
        f"{name:<7} {len(latencies):>5} runs {wall:>7.1f}s  {per_second:>6.1f} runs/s  "
        f"{per_second * steps:>6.1f} steps/s  p50 {statistics.median(latencies) * 1000:>6.0f} ms"
        f"  p99 {percentile(latencies, 0.99) * 1000:>6.0f} ms"
    )
    return per_second * steps


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--decisions", type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        stack, env = start_stack(Path(data_dir))
        try:
            api_url = f"http://127.0.0.1:{env['BATON_API_PORT']}"
            # The stack's own converter: its dev codec key, made in its data directory.
            settings = Settings(
                _env_file=None,
                env=Environment.DEV,
                data_dir=Path(data_dir),
                temporal_address=env["BATON_TEMPORAL_ADDRESS"],
            )
            client = await connect(
                settings.model_copy(update={"codec_keys": {}, "codec_key_id": ""})
            )
            async with httpx.AsyncClient(base_url=api_url, timeout=60) as api:
                await run_orders(api, client, 2, 2)  # warm-up: models trained, connections open
                began = time.perf_counter()
                baton = await run_orders(api, client, args.orders, args.concurrency)
                baton_wall = time.perf_counter() - began
                listed = await api.get(
                    "/v1/processes", params={"status": "completed"}, headers=ALICE
                )
                steps = await activity_steps(client, listed.json()["items"][0]["process_id"])

                began = time.perf_counter()
                bare = await run_bare(client, args.orders, args.concurrency, steps)
                bare_wall = time.perf_counter() - began

                decisions = await decision_latencies(api, args.decisions)
        finally:
            stack.terminate()
            stack.wait(timeout=60)

    print(f"{steps} activity steps per auto-approved order; {args.concurrency} in flight")
    baton_steps = report("baton", baton, baton_wall, steps)
    bare_steps = report("bare", bare, bare_wall, steps)
    print(f"ratio   Baton steps/s / bare steps/s = {baton_steps / bare_steps:.2f}")
    print(
        f"decision -> new state visible: median {statistics.median(decisions) * 1000:.0f} ms "
        f"over {len(decisions)} approvals"
    )


if __name__ == "__main__":
    asyncio.run(main())
