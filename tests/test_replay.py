"""Every saved history replays against today's code: a non-deterministic change fails CI."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from baton.cli import app
from core.replay import load_history, replay
from tests import helpers
from tests.flows import ReorderedOrderFulfillment
from workers.registry import PROCESS_WORKFLOWS

# Where keep_history saves today's runs (with BATON_SAVE_HISTORIES=1); runs saved by earlier
# releases stay in subfolders (before-local-inbox/, before-insight-log/,
# before-patches-from-the-start/), since those runs may still be open.
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
    "invoice-paid",
    "invoice-low-confidence-corrected",
    "invoice-duplicate",
    "invoice-variance-accepted",
    "invoice-two-approvers",
    "invoice-cancelled-before-payment",
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
