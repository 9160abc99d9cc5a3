"""Every saved history replays against today's code: a non-deterministic change fails CI."""

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from baton.cli import app
from core.replay import load_history, replay
from core.settings import get_settings
from tests import helpers
from tests.flows import ReorderedOrderFulfillment
from tests.helpers import ALICE, Stack, wait_for
from tests.workspace import large_order
from workers import registry
from workers.registry import PROCESS_WORKFLOWS
from workflows.steps.human_task import HumanTaskWorkflow

# Where keep_history saves today's runs (with BATON_SAVE_HISTORIES=1); runs saved by earlier
# releases stay in subfolders (before-local-inbox/, before-insight-log/,
# before-patches-from-the-start/, before-corrections-to-learn/, before-one-write/), since those
# runs may still be open.
HISTORIES = sorted(helpers.HISTORIES.rglob("*.json"))
TODAYS = [path for path in HISTORIES if path.parent == helpers.HISTORIES]
SCENARIOS = {
    "order-approved",
    "order-rejected",
    "order-escalated-then-approved",
    "order-expired",
    "order-low-confidence-corrected",
    "order-cancelled-compensated",
    "order-credit-refused",
    "order-question-routed",
    "invoice-paid",
    "invoice-low-confidence-corrected",
    "invoice-duplicate",
    "invoice-variance-accepted",
    "invoice-two-approvers",
    "invoice-cancelled-before-payment",
    "payables-nothing-overdue",
    "payables-expedited",
    "payables-scheduled",
}


def test_every_scenario_has_a_saved_history() -> None:
    assert {path.stem for path in TODAYS} >= SCENARIOS


@pytest.mark.parametrize(
    "path", HISTORIES, ids=[str(path.relative_to(helpers.HISTORIES)) for path in HISTORIES]
)
async def test_saved_history_replays(path: Path) -> None:
    outcome = await replay(load_history(path), PROCESS_WORKFLOWS)
    assert outcome.deterministic, outcome.error


async def test_a_changed_workflow_is_caught() -> None:
    path = next(path for path in TODAYS if path.stem == "order-approved")
    outcome = await replay(load_history(path), (ReorderedOrderFulfillment,))
    assert not outcome.deterministic
    assert outcome.workflow_type == "OrderFulfillment"


def test_the_replay_command() -> None:
    path = next(path for path in TODAYS if path.stem == "order-rejected")
    result = CliRunner().invoke(app, ["replay", "--history", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("deterministic: OrderFulfillment")
    neither = CliRunner().invoke(app, ["replay"])
    assert neither.exit_code == 2


async def test_replaying_running_processes_catches_a_changed_workflow(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before a deploy: the running processes and tasks replay against the code about to run."""
    for name, value in {
        "BATON_TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "BATON_DATA_DIR": str(stack.settings.data_dir),
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    process_id, task_id = await large_order(stack, ALICE)
    query = f"WorkflowId IN ('{process_id}', '{task_id}')"

    async def both_listed() -> bool:
        return (await stack.client.count_workflows(query)).count == 2

    await wait_for(both_listed, "the two runs in Temporal's visibility")

    def replay_them() -> Result:
        return CliRunner().invoke(app, ["replay", "--query", query])

    today = await asyncio.to_thread(replay_them)
    assert today.exit_code == 0, today.output
    assert "2 runs replayed: 2 deterministic, 0 would break" in today.output
    changed = (ReorderedOrderFulfillment, HumanTaskWorkflow)
    monkeypatch.setattr(registry, "PROCESS_WORKFLOWS", changed)
    careless = await asyncio.to_thread(replay_them)
    assert careless.exit_code == 1
    assert f"NOT deterministic: OrderFulfillment {process_id}" in careless.output
    assert "2 runs replayed: 1 deterministic, 1 would break" in careless.output
    both = CliRunner().invoke(app, ["replay", "--running", "--query", query])
    assert both.exit_code == 2
    get_settings.cache_clear()
