"""`baton ai report`: where each AI step's confidence threshold should be, from data, and how
the models do on the hand-written evaluation set."""

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from activities.ai.evaluation import (
    HandWrittenOrder,
    Outcome,
    Reading,
    at_least_as_good,
    calibrate,
    calibration_readings,
    hand_written,
    read_invoices,
    read_orders,
    tally,
)
from activities.ai.factory import learned_dir
from activities.ai.local.examples import OrderExample, load
from activities.ai.local.learning import load_learned, save_learned
from activities.ai.local.provider import LocalModels, shared_models
from core import ledger
from core.db import make_engine, prepare_database, session_scope
from core.logging import command_settings
from workflows.contracts.ai import ORDER_CORRECTION, OrderCorrection
from workflows.contracts.invoices import INVOICE_PROCESSING, InvoicePolicy
from workflows.contracts.orders import ORDER_FULFILLMENT, OrderPolicy

app = typer.Typer(help="The AI steps: calibration and evaluation of the local models.")

EVAL_SET = Path("tests/data/ai_eval")


@app.command()
def report(
    target: Annotated[
        float | None,
        typer.Option(help="silently-wrong share to calibrate to (BATON_AI_SILENT_ERROR_TARGET)"),
    ] = None,
    eval_set: Annotated[
        Path, typer.Option(help="the hand-written set (orders.jsonl, invoices.jsonl)")
    ] = EVAL_SET,
) -> None:
    """Per model: the threshold that keeps silently wrong answers within the target on the
    calibration split (the held-out synthetic examples and the hand-written calibration set,
    `calibration/` under the evaluation set), the share of work it sends to people, and the
    hand-written evaluation set's right / routed / silently wrong at that threshold and at the
    policy's."""
    settings = command_settings()
    goal = settings.ai_silent_error_target if target is None else target
    models = shared_models(learned_dir=learned_dir(settings))
    order_policy = OrderPolicy.model_validate(settings.policy_for(ORDER_FULFILLMENT))
    invoice_policy = InvoicePolicy.model_validate(settings.policy_for(INVOICE_PROCESSING))
    policy = {
        "order-extractor": order_policy.confidence_threshold,
        "invoice-extractor": invoice_policy.confidence_threshold,
    }
    synthetic = calibration_readings(models)
    real = _hand_written_readings(models, eval_set / "calibration")
    held_out = _hand_written_readings(models, eval_set)
    typer.echo(f"models {models.version}; silently-wrong target {goal:.1%}")
    for model, generated in synthetic.items():
        # The target must hold on real phrasing as well as on the generator's: the higher of
        # the two thresholds, whatever their sizes.
        parts = [generated] + ([real[model]] if model in real else [])
        threshold = max(calibrate(part, goal).threshold for part in parts)
        readings = [reading for part in parts for reading in part]
        chosen = tally(readings, threshold)
        typer.echo(f"\n{model}")
        typer.echo(
            f"  calibration split ({len(readings)}): threshold {threshold:.2f} keeps silently "
            f"wrong at {chosen.share(Outcome.WRONG):.1%} and sends "
            f"{chosen.share(Outcome.ROUTED):.0%} to people"
        )
        typer.echo(f"  at the policy's {policy[model]:.2f}: {tally(readings, policy[model])}")
        for at in (threshold, policy[model]) if model in held_out else ():
            typer.echo(f"  hand-written evaluation set at {at:.2f}: {tally(held_out[model], at)}")


def _hand_written_readings(models: LocalModels, directory: Path) -> dict[str, list[Reading]]:
    """Each extractor's readings of a hand-written set (none where there is no such set)."""
    if not (directory / "orders.jsonl").exists():
        return {}
    orders, invoices = hand_written(directory)
    return {
        "order-extractor": read_orders(models, orders),
        "invoice-extractor": read_invoices(models, invoices),
    }


@app.command()
def retrain(
    eval_set: Annotated[
        Path, typer.Option(help="the hand-written set (orders.jsonl, invoices.jsonl)")
    ] = EVAL_SET,
) -> None:
    """Retrains the order extractor with the shipped data plus every order correction in the
    ledger, and keeps it only if it is at least as good as the current one on the held-out
    sets (as many right, no more silently wrong); the AI workers use it from their next start."""
    settings = command_settings()
    engine = make_engine(settings.resolved_database_url)
    prepare_database(engine, settings)
    with session_scope(engine) as session:
        rows = ledger.of_step(session, ORDER_CORRECTION)
    engine.dispose()
    directory = learned_dir(settings)
    current = load_learned(directory)
    known = {c.model_dump_json() for c in current}
    new = [
        c
        for row in rows
        if (c := OrderCorrection.model_validate(row.data)).model_dump_json() not in known
    ]
    if not new:
        typer.echo(
            f"nothing new to learn: {len(current)} corrections learned, {len(rows)} in the ledger"
        )
        return
    candidate = current + list({c.model_dump_json(): c for c in new}.values())
    threshold = OrderPolicy.model_validate(
        settings.policy_for(ORDER_FULFILLMENT)
    ).confidence_threshold
    sets: dict[str, Sequence[OrderExample | HandWrittenOrder]] = {
        "synthetic eval split": load(OrderExample, "orders", "eval")
    }
    if (eval_set / "orders.jsonl").exists():
        sets["hand-written set"] = hand_written(eval_set)[0]
    with tempfile.TemporaryDirectory() as draft:
        save_learned(Path(draft), candidate)
        before, after = LocalModels(learned_dir=directory), LocalModels(learned_dir=Path(draft))
        better = True
        for name, examples in sets.items():
            was, now = (
                tally(read_orders(before, examples), threshold),
                tally(read_orders(after, examples), threshold),
            )
            typer.echo(f"{name}: before {was}")
            typer.echo(f"{' ' * len(name)}  after  {now}")
            better = better and at_least_as_good(was, now)
    if not better:
        typer.echo(f"kept {before.version}: the retrained model is worse on a held-out set")
        raise typer.Exit(1)
    save_learned(directory, candidate)
    typer.echo(
        f"learned {len(new)} new corrections ({len(candidate)} in all): {after.version}; "
        "the AI workers use it from their next start"
    )
