"""`baton dev` as a user runs it: a real subprocess that starts, serves, stops and restarts."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue as TaskQueueRef
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionStatus

from bench import chaos
from core.settings import Environment, Settings
from core.temporal import connect
from tests.helpers import temporal_address
from tests.ports import free_ports

START_TIMEOUT_S = 90


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    """Every port the stack binds is named, and outside the kernel's ephemeral range (see
    tests/ports.py): nothing else can take one between this choice and the child's bind."""
    return chaos.stack_env(tmp_path / "data", free_ports(7))


async def connect_to(stack_env: dict[str, str]) -> Client:
    """A client with the stack's converter: its dev codec key, made in its data directory (not
    the session's test key, which `baton dev` does not get)."""
    settings = Settings(
        _env_file=None,
        env=Environment.DEV,
        data_dir=Path(stack_env["BATON_DATA_DIR"]),
        temporal_address=stack_env["BATON_TEMPORAL_ADDRESS"],
    )
    return await connect(settings.model_copy(update={"codec_keys": {}, "codec_key_id": ""}))


def stack_pids(data_dir: str) -> list[int]:
    """Every live process started for this stack: they all carry its BATON_DATA_DIR."""
    marker = f"BATON_DATA_DIR={data_dir}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:
                continue  # exited meanwhile, or not ours to read
    return pids


@contextmanager
def running_stack(env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    """Starts `baton dev` and returns once it prints that it is up (or fails the test)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "baton", "dev"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        output.append(line)
        if line.startswith("Baton is up"):
            break
    else:
        process.kill()
    assert output, "baton dev printed nothing"
    assert output[-1].startswith("Baton is up"), "".join(output)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def stop(process: subprocess.Popen[str], signum: signal.Signals) -> str:
    process.send_signal(signum)
    rest, _ = process.communicate(timeout=60)
    return rest


async def test_start_serve_stop_and_restart_with_data_kept(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    data_dir = stack_env["BATON_DATA_DIR"]
    api = f"http://127.0.0.1:{stack_env['BATON_API_PORT']}"
    with running_stack(stack_env, tmp_path) as process:
        async with httpx.AsyncClient(timeout=10) as http:
            health = (await http.get(f"{api}/health")).json()
            assert health["temporal"]["status"] == "ok"
            assert health["database"]["status"] == "ok"
            assert (await http.get(stack_env["BATON_TEMPORAL_UI_URL"])).status_code == 200
            temporal_http = f"http://127.0.0.1:{stack_env['BATON_TEMPORAL_HTTP_PORT']}"
            assert (await http.get(f"{temporal_http}/api/v1/namespaces")).status_code == 200
            metrics = f"http://127.0.0.1:{stack_env['BATON_TEMPORAL_METRICS_PORT']}/metrics"
            assert (await http.get(metrics)).status_code == 200
            me = await http.get(f"{api}/v1/me", headers={"Authorization": "Bearer dev-alice"})
            assert me.json()["name"] == "alice"
            sandbox = await http.get(f"{stack_env['BATON_SYSTEMS_URL']}/health")
            assert sandbox.status_code == 200
            codec = f"http://127.0.0.1:{stack_env['BATON_CODEC_PORT']}"
            assert (await http.get(f"{codec}/health")).status_code == 200
            ui_settings = await http.get(f"{stack_env['BATON_TEMPORAL_UI_URL']}/api/v1/settings")
            assert ui_settings.json()["Codec"]["Endpoint"] == codec  # the UI asks it to decode
        client = await connect_to(stack_env)
        # No worker serves this queue, so the run stays open across the restart.
        await client.start_workflow("Waiting", id="kept-across-restarts", task_queue="nobody")
        assert len(stack_pids(data_dir)) == 7  # launcher, Temporal, sandbox, 2 workers, API, codec
        output = stop(process, signal.SIGINT)
    assert process.returncode == 0, output
    assert "temporal stopped" in output
    assert stack_pids(data_dir) == []
    assert (Path(data_dir) / "temporal.db").exists()

    with running_stack(stack_env, tmp_path) as process:
        client = await connect_to(stack_env)
        described = await client.get_workflow_handle("kept-across-restarts").describe()
        assert described.status is WorkflowExecutionStatus.RUNNING
        stop(process, signal.SIGTERM)
    assert process.returncode == 0
    assert stack_pids(data_dir) == []


@pytest.mark.parametrize(
    ("setting", "what"),
    [("BATON_API_PORT", "Baton API"), ("BATON_TEMPORAL_METRICS_PORT", "Temporal metrics")],
)
def test_a_port_in_use_is_named_with_its_setting(
    stack_env: dict[str, str], tmp_path: Path, setting: str, what: str
) -> None:
    port = int(stack_env[setting])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = subprocess.run(
            [sys.executable, "-m", "baton", "dev"],
            env=stack_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port} ({what}) is already in use" in result.stderr
    assert setting in result.stderr
    assert "starting temporal" not in result.stderr  # it checks every port before starting
    assert stack_pids(stack_env["BATON_DATA_DIR"]) == []


def test_uses_a_running_temporal_and_children_die_with_the_launcher(
    stack_env: dict[str, str], tmp_path: Path, client: Client
) -> None:
    stack_env["BATON_TEMPORAL_ADDRESS"] = temporal_address(client)
    data_dir = stack_env["BATON_DATA_DIR"]
    with running_stack(stack_env, tmp_path) as process:
        pids = stack_pids(data_dir)
        assert len(pids) == 6  # launcher, sandbox, two workers, API, codec: no own Temporal
        process.kill()  # no chance to clean up; the kernel tells the children
        process.wait()
        deadline = time.monotonic() + 20
        while stack_pids(data_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert stack_pids(data_dir) == []
    assert not (Path(data_dir) / "temporal.db").exists()


# -- supervision: a part that dies is started again ---------------------------------------------


def children_of(pid: int) -> dict[int, str]:
    """The launcher's live children (from /proc): pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue  # exited meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[1]) == pid and fields[0] != "Z":  # fields: state, ppid, ...
            found[int(entry.name)] = cmdline
    return found


def child_pid(launcher: int, *words: str) -> int | None:
    """The pid of the launcher's child whose command line has all `words`."""
    for pid, cmdline in children_of(launcher).items():
        if all(word in cmdline.split() for word in words):
            return pid
    return None


class Output:
    """Reads the launcher's output in a thread (so its pipe never fills) and keeps the lines."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.process = process
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def stop(self, signum: signal.Signals) -> str:
        self.process.send_signal(signum)
        self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        return "\n".join(self.lines)


async def until_true(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"still waiting after {seconds:.0f} s for {what}"
        await asyncio.sleep(0.1)


async def test_a_killed_part_is_restarted_with_backoff_and_the_stack_still_works(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    api = f"http://127.0.0.1:{stack_env['BATON_API_PORT']}"
    data_dir = stack_env["BATON_DATA_DIR"]
    with running_stack(stack_env, tmp_path) as process:
        output = Output(process)
        client = await connect_to(stack_env)

        async def polled_by(pid: int, queue: str, kind: TaskQueueType.ValueType) -> bool:
            described = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueueRef(name=queue),
                    task_queue_type=kind,
                )
            )
            return any(poller.identity.startswith(f"{pid}@") for poller in described.pollers)

        async def kill_and_wait_for_a_new_one(
            words: tuple[str, ...], queue: str, kind: TaskQueueType.ValueType, message: str
        ) -> int:
            old = child_pid(process.pid, *words)
            assert old is not None, children_of(process.pid)
            os.kill(old, signal.SIGKILL)
            await until_true(lambda: asyncio.to_thread(output.has, message), repr(message))
            new: int | None = None

            async def serving() -> bool:
                nonlocal new
                new = child_pid(process.pid, *words)
                return new not in (None, old) and await polled_by(new, queue, kind)

            await until_true(serving, f"a new {' '.join(words)} polling {queue}")
            assert new is not None
            return new

        workflows = ("worker", "--queue", "processes")
        kind = TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
        await kill_and_wait_for_a_new_one(
            workflows,
            "processes",
            kind,
            "workflows exited with -9; restarting in 0.5 s (restart 1)",
        )
        # Killed again at once: the delay doubles.
        await kill_and_wait_for_a_new_one(
            workflows,
            "processes",
            kind,
            "workflows exited with -9; restarting in 1.0 s (restart 2)",
        )
        await kill_and_wait_for_a_new_one(
            ("worker", "--queue=bots"),
            "bots",
            TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
            "steps exited with -9; restarting in 0.5 s (restart 1)",
        )

        async with httpx.AsyncClient(base_url=api, timeout=10) as http:
            api_pid = child_pid(process.pid, "api")
            assert api_pid is not None
            os.kill(api_pid, signal.SIGKILL)
            await until_true(
                lambda: asyncio.to_thread(output.has, "api exited with -9; restarting in 0.5 s"),
                "the API's restart",
            )

            async def api_up() -> bool:
                try:
                    return (await http.get(f"{api}/health")).status_code == 200
                except httpx.HTTPError:
                    return False

            await until_true(api_up, "the API to answer again")

            # An order that needs a person still completes through the API, with its decision
            # in the ledger.
            alice, bob = {"Authorization": "Bearer dev-alice"}, {"Authorization": "Bearer dev-bob"}
            order = {"customer_id": "C-1005", "lines": [{"sku": "PMP-410", "quantity": 20}]}
            started = await http.post(
                f"{api}/v1/processes/order-fulfillment", json=order, headers=alice
            )
            assert started.status_code == 201, started.text
            process_id = started.json()["process_id"]
            task_id = ""

            async def task_open() -> bool:
                nonlocal task_id
                tasks = await http.get(
                    f"{api}/v1/tasks", params={"process_id": process_id}, headers=bob
                )
                items = tasks.json()["items"]
                task_id = items[0]["task_id"] if items else ""
                return bool(task_id)

            await until_true(task_open, "the approval task")
            decided = await http.post(
                f"{api}/v1/tasks/{task_id}/decision", json={"outcome": "approve"}, headers=bob
            )
            assert decided.status_code == 200, decided.text

            async def completed() -> bool:
                state = await http.get(f"{api}/v1/processes/{process_id}", headers=alice)
                return bool(state.json()["status"] == "completed")

            await until_true(completed, f"{process_id} to complete")

        text = output.stop(signal.SIGINT)
    assert process.returncode == 0, text
    assert "temporal stopped" in text
    assert "restarting" not in text[text.index("stopping the stack") :]  # a stop is a stop
    assert stack_pids(data_dir) == []

    verify = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "baton", "ledger", "verify"),
        env=stack_env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    verified = (await asyncio.wait_for(verify.communicate(), 60))[0].decode()
    assert verify.returncode == 0, verified
    assert verified.startswith("ledger intact: "), verified
    assert not verified.startswith("ledger intact: 0 rows"), verified  # bob's approval at least
