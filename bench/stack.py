"""The embedded stack for the benchmarks: `baton dev` on free ports in a directory of its own,
and the small calls every bench script makes against it (demo users' keys, polling, a GET that
waits out the rate limit, the resident memory of the stack's worker processes).

bench/chaos.py, bench/order_throughput.py and bench/waiting_orders.py use it; so do the tests
that run those scripts' scenarios.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ALICE, BOB, CAROL, DAVE, ERIN = "dev-alice", "dev-bob", "dev-carol", "dev-dave", "dev-erin"
STACK_START_S = 120.0
POLL_S = 0.25
PORTS = 7  # Temporal, its UI, HTTP API and metrics, the sandbox, the API, the codec server

# -- the stack ----------------------------------------------------------------------------------


def stack_env(data_dir: Path, ports: Sequence[int], **settings: str) -> dict[str, str]:
    """`baton dev`'s environment: every port it binds named (seven of them), its data in
    `data_dir`, plus `settings` (BATON_* variables). The tests' stacks use it too."""
    temporal, ui, http, metrics, systems, api, codec = ports
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update(
        BATON_DATA_DIR=str(data_dir),
        BATON_TEMPORAL_ADDRESS=f"127.0.0.1:{temporal}",
        BATON_TEMPORAL_UI_URL=f"http://127.0.0.1:{ui}",
        BATON_TEMPORAL_HTTP_PORT=str(http),
        BATON_TEMPORAL_METRICS_PORT=str(metrics),
        BATON_SYSTEMS_URL=f"http://127.0.0.1:{systems}",
        BATON_API_PORT=str(api),
        BATON_CODEC_PORT=str(codec),
        **settings,
    )
    return env


class DevStack:
    """`baton dev` in a child process; its output is read in a thread (the pipe never fills)."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.data_dir = Path(env["BATON_DATA_DIR"])
        self.lines: list[str] = []  # the launcher's own lines (its children's start with "[")
        self.tail: deque[str] = deque(maxlen=40)  # the last lines, its children's too
        self.up = False
        self.done = threading.Event()  # set once it is up, or has exited
        self.process = subprocess.Popen(
            [sys.executable, "-m", "baton", "dev"],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.done.wait(STACK_START_S)
        if not self.up:
            self.stop()
            raise RuntimeError("baton dev did not come up:\n" + "\n".join(self.tail))

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.rstrip("\n")
            self.tail.append(line)
            if not line.startswith("["):
                self.lines.append(line)
            if line.startswith("Baton is up"):
                self.up = True
                self.done.set()
        self.done.set()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.env['BATON_API_PORT']}"

    @property
    def systems_url(self) -> str:
        return self.env["BATON_SYSTEMS_URL"]

    def count(self, text: str) -> int:
        """How many of the launcher's lines so far contain `text`."""
        return sum(text in line for line in list(self.lines))

    def child_pid(self, *words: str) -> int | None:
        """The pid of the launcher's live child whose command line has all `words` (/proc)."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                argv = (entry / "cmdline").read_bytes().decode().split("\0")
            except OSError:
                continue  # exited meanwhile
            state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]  # after "pid (comm) "
            if int(ppid) == self.process.pid and state != "Z" and all(w in argv for w in words):
                return int(entry.name)
        return None

    async def kill(self, name: str, *words: str, seconds: float = 90) -> bool:
        """SIGKILLs the child `name` (found by `words` in its command line); True once the
        launcher says it is back."""
        back = f"{name} is back"
        before = self.count(back)
        pid = self.child_pid(*words)
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        return await wait_until(lambda: self.count(back) > before, seconds)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                return self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


@contextmanager
def running_stack(env: dict[str, str], cwd: Path) -> Iterator[DevStack]:
    stack = DevStack(env, cwd)
    try:
        yield stack
    finally:
        stack.stop()


def free_ports(count: int) -> list[int]:
    """Ports the kernel gives now (held together, so they differ). tests/ports.py picks safer
    ones for the test suite."""
    with ExitStack() as sockets:
        found = []
        for _ in range(count):
            sock = sockets.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            found.append(int(sock.getsockname()[1]))
        return found


# -- calls and waiting --------------------------------------------------------------------------


# Below the servers' keep-alive timeout (uvicorn's 5 s): the client drops an idle connection
# before the server may close it, so a request never goes out on a connection being closed
# ("Server disconnected without sending a response" after a pause, e.g. a worker restart).
KEEPALIVE_S = 2.0


def stack_client(base_url: str, timeout: float) -> httpx.AsyncClient:
    """An HTTP client for one of the stack's servers."""
    limits = httpx.Limits(keepalive_expiry=KEEPALIVE_S)
    return httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits)


def user(key: str, idempotency_key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return headers


async def wait_until(
    check: Callable[[], bool] | Callable[[], Awaitable[bool]], seconds: float
) -> bool:
    """Polls `check` (plain or async) until it holds (True) or `seconds` pass (False)."""
    deadline = time.monotonic() + seconds
    while True:
        held = check()
        if not isinstance(held, bool):
            held = await held
        if held:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_S / 2)


async def get(api: httpx.AsyncClient, path: str, key: str = ERIN, **params: Any) -> httpx.Response:
    """A GET that waits out the API's rate limit (429) and a stack part restarting (a transport
    error is answered as a 503 here)."""
    while True:
        try:
            response = await api.get(path, params=params or None, headers=user(key))
        except httpx.TransportError:
            return httpx.Response(503)
        if response.status_code != 429:
            return response
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))


async def api_healthy(api: httpx.AsyncClient) -> bool:
    return (await get(api, "/health")).status_code == 200


# -- what the throughput and waiting benches share ----------------------------------------------

# Orders of C-1010 (credit limit 300,000). With an approval threshold of 5.00 one bearing
# (4.20) passes on its own and two (8.40) wait for a sales manager: thousands of approved
# orders stay within the customer's credit, where large ones would be refused by the forecast
# (credit_limit_exceeded) and end rejected.
AUTO_APPROVED: dict[str, Any] = {
    "customer_id": "C-1010",
    "lines": [{"sku": "BRG-810", "quantity": 1}],
}
NEEDS_APPROVAL: dict[str, Any] = {
    "customer_id": "C-1010",
    "lines": [{"sku": "BRG-810", "quantity": 2}],
}
BENCH_POLICIES = '{"order-fulfillment": {"approval_threshold": 5}}'
APPROVAL_STAGE = "approval"
PAGE = 200  # the largest page the API serves
# The API's per-key rate limit protects a server from one client; a bench is that one client.
BENCH_SETTINGS = {
    "BATON_LOG_LEVEL": "WARNING",
    "BATON_POLICIES": BENCH_POLICIES,
    "BATON_API_RATE_PER_SECOND": "100000",
    "BATON_API_RATE_BURST": "100000",
}
# The worker processes `baton dev` starts, by the words of their command lines.
WORKERS = {
    "processes worker": ("worker", "--queue", "processes"),
    "steps worker": ("worker", "--queue=bots"),
}


def bench_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """A stack for a bench: its own ports and data, the bench settings, then `settings`."""
    return stack_env(data_dir, free_ports(PORTS), **(BENCH_SETTINGS | settings))


async def pages(api: httpx.AsyncClient, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paginated listing (the tasks' `cursor`, the processes' `next_page`)."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        if path == "/v1/tasks":
            query = params | {"limit": PAGE} | ({"cursor": token} if token else {})
        else:
            query = params | {"page_size": PAGE} | ({"next_page": token} if token else {})
        response = await get(api, path, key, **query)
        response.raise_for_status()
        page = response.json()
        items += page["items"]
        token = page.get("next_cursor") or page.get("next_page")
        if not token:
            return items


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def rss_mib(pid: int) -> float | None:
    """A process's resident memory (VmRSS in /proc), in MiB; None once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def worker_pids(stack: DevStack) -> dict[str, int]:
    """The pid of each worker process of the stack (name -> pid), those alive now."""
    found = {name: stack.child_pid(*words) for name, words in WORKERS.items()}
    return {name: pid for name, pid in found.items() if pid is not None}


# The parts of the stack by the words of their command lines, for CPU time per part.
PARTS = {
    "temporal server": ("server", "start-dev"),
    "sandbox": ("systems",),
    **WORKERS,
    "api": ("api",),
    "codec server": ("codec-server",),
}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, all its threads; 0 once gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_part(stack: DevStack) -> dict[str, float]:
    """CPU seconds used so far by each part of the stack, and by this process ("bench")."""
    used = {"bench": cpu_seconds(os.getpid())}
    for name, words in PARTS.items():
        pid = stack.child_pid(*words)
        used[name] = cpu_seconds(pid) if pid is not None else 0.0
    return used


POSTGRES_URL = os.environ.get(
    "BATON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """A new, empty database for the run; a PostgreSQL one is dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'bench.db'}"
        return
    name = f"baton_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
