"""Dependencies point one way: workflows load no I/O code, the API never loads activities."""

import subprocess
import sys

import pytest


def _modules_after_import(module: str) -> set[str]:
    # A fresh interpreter, so modules other tests imported do not count.
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", ["workflows", "workflows.contracts.queues"])
def test_workflow_code_loads_no_io_library(module: str) -> None:
    loaded = _modules_after_import(module)
    assert not {"httpx", "sqlmodel", "sqlalchemy", "activities"} & loaded


def test_the_api_never_imports_activities() -> None:
    loaded = _modules_after_import("api.app")
    assert "api.app" in loaded
    assert not any(name == "activities" or name.startswith("activities.") for name in loaded)
