"""`baton dev` as a user runs it: a real subprocess that starts, serves, stops and restarts."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from tests.helpers import temporal_address
from tests.ports import free_ports

START_TIMEOUT_S = 90


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    """Every port the stack binds is named, and outside the kernel's ephemeral range (see
    tests/ports.py): nothing else can take one between this choice and the child's bind."""
    temporal, ui, http, metrics, systems, api = free_ports(6)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update(
        BATON_DATA_DIR=str(tmp_path / "data"),
        BATON_TEMPORAL_ADDRESS=f"127.0.0.1:{temporal}",
        BATON_TEMPORAL_UI_URL=f"http://127.0.0.1:{ui}",
        BATON_TEMPORAL_HTTP_PORT=str(http),
        BATON_TEMPORAL_METRICS_PORT=str(metrics),
        BATON_SYSTEMS_URL=f"http://127.0.0.1:{systems}",
        BATON_API_PORT=str(api),
    )
    return env


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
        client = await Client.connect(stack_env["BATON_TEMPORAL_ADDRESS"])
        # No worker serves this queue, so the run stays open across the restart.
        await client.start_workflow("Waiting", id="kept-across-restarts", task_queue="nobody")
        assert len(stack_pids(data_dir)) == 6  # launcher, Temporal, sandbox, 2 workers, API
        output = stop(process, signal.SIGINT)
    assert process.returncode == 0, output
    assert "temporal stopped" in output
    assert stack_pids(data_dir) == []
    assert (Path(data_dir) / "temporal.db").exists()

    with running_stack(stack_env, tmp_path) as process:
        client = await Client.connect(stack_env["BATON_TEMPORAL_ADDRESS"])
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
        assert len(pids) == 5  # launcher, sandbox, two workers, API: no Temporal of its own
        process.kill()  # no chance to clean up; the kernel tells the children
        process.wait()
        deadline = time.monotonic() + 20
        while stack_pids(data_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert stack_pids(data_dir) == []
    assert not (Path(data_dir) / "temporal.db").exists()
