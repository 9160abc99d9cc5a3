"""Learning from corrections: a sales rep's correction of a phrasing the order extractor
missed, in the ledger, makes `baton ai retrain` read that phrasing right; a correction that
would make the models worse on the held-out sets is not kept."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from activities.ai.evaluation import Tally, at_least_as_good
from activities.ai.local.examples import catalogue
from activities.ai.local.provider import LocalModels
from baton.cli import app
from core import ledger
from core.db import create_tables, make_engine
from core.settings import get_settings
from workflows.contracts.ai import ORDER_CORRECTION, ExtractOrderRequest, OrderCorrection
from workflows.contracts.bots import OrderLine
from workflows.contracts.tasks import ActorKind, LedgerEntry

EVAL_SET = Path(__file__).parent / "data" / "ai_eval"
TODAY = date(2026, 11, 20)


@pytest.fixture
def learned(cli_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's data directory; the models' learned corrections go under it."""
    monkeypatch.setenv("BATON_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    return tmp_path / "data" / "ai"


def correct(
    database_url: str, process: str, text: str, read: list[OrderLine], meant: list[OrderLine]
) -> None:
    """What the order process writes when a sales rep corrects the lines."""
    engine = make_engine(database_url)
    create_tables(engine)
    correction = OrderCorrection(text=text, today=TODAY, extracted=read, corrected=meant)
    ledger.append(
        engine,
        LedgerEntry(
            decision_id=f"order-fulfillment:{process}:{ORDER_CORRECTION}",
            process_id=f"order-fulfillment:{process}",
            step=ORDER_CORRECTION,
            actor_kind=ActorKind.HUMAN,
            actor="alice",
            outcome="corrected",
            data=correction.model_dump(mode="json"),
            decided_at=datetime.now(UTC),
        ),
    )
    engine.dispose()


def read(models: LocalModels, text: str) -> tuple[set[tuple[str, int]], float]:
    request = ExtractOrderRequest(text=text, catalogue=catalogue(), today=TODAY)
    answer = models.orders.get().extract(request)
    return {(line.sku, line.quantity) for line in answer.lines}, answer.confidence


def retrain() -> str:
    result = CliRunner().invoke(app, ["ai", "retrain", "--eval-set", str(EVAL_SET)])
    assert result.exit_code in (0, 1), result.output
    return f"exit {result.exit_code}: {result.output}"


def test_a_corrected_phrasing_is_read_right_after_retraining(
    learned: Path, cli_database: str
) -> None:
    probe = "3 HMI please, for line 4"
    before = LocalModels(learned_dir=learned)
    lines, confidence = read(before, probe)
    assert lines == set()  # missed: a person would have to read it
    assert confidence < 0.75

    controller, panel = OrderLine(sku="CTL-710", quantity=7), OrderLine(sku="CTL-720", quantity=7)
    text = "For the new packing line: 7 PLC controllers + 7 HMI, please."
    correct(cli_database, "SO-T1", text, [controller], [controller, panel])
    output = retrain()
    assert output.startswith("exit 0"), output
    assert "learned 1 new corrections" in output
    assert "hand-written set: before" in output

    after = LocalModels(learned_dir=learned)
    assert after.version != before.version
    lines, confidence = read(after, probe)
    assert lines == {("CTL-720", 3)}
    assert confidence >= 0.75
    assert retrain().startswith("exit 0: nothing new to learn")


@pytest.mark.parametrize(
    ("after", "kept"),
    [
        (Tally(right=40, routed=55, wrong=1), True),  # more right, no more wrong
        (Tally(right=39, routed=56, wrong=1), True),  # as good
        (Tally(right=45, routed=49, wrong=2), False),  # more right, but one more silently wrong
        (Tally(right=38, routed=58, wrong=0), False),  # safer, but fewer right: more work
    ],
)
def test_a_retrained_model_replaces_the_current_only_if_as_good(after: Tally, kept: bool) -> None:
    assert at_least_as_good(Tally(right=39, routed=56, wrong=1), after) is kept
