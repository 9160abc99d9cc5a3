"""`baton ai report`: where each AI step's confidence threshold should be, from data, and how
the models do on the hand-written evaluation set."""

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from activities.ai.evaluation import (
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
from activities.ai.local.examples import InvoiceExample, OrderExample, load
from activities.ai.local.learning import (
    INVOICES,
    ORDERS,
    Learned,
    load_learned,
    save_learned,
    teaches,
)
from activities.ai.local.provider import LocalModels, shared_models
from core import ledger
from core.db import make_engine, prepare_database, session_scope
from core.ledger import LedgerRow
from core.logging import command_settings
from core.settings import Settings
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
    policy's, and those of the set written blind (`holdout/`: by someone who never saw the
    rules or the other sets)."""
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
    blind = _hand_written_readings(models, eval_set / "holdout")
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
        for at in (threshold, policy[model]) if model in blind else ():
            typer.echo(f"  set written blind at {at:.2f}: {tally(blind[model], at)}")


def _hand_written_readings(models: LocalModels, directory: Path) -> dict[str, list[Reading]]:
    """Each extractor's readings of a hand-written set (none where there is no such set)."""
    if not (directory / "orders.jsonl").exists():
        return {}
    orders, invoices = hand_written(directory)
    readings = {
        "order-extractor": read_orders(models, orders),
        "invoice-extractor": read_invoices(models, invoices),
    }
    return {model: read for model, read in readings.items() if read}


@dataclass(frozen=True)
class _Extractor:
    """What retraining one extractor needs: its corrections, how it reads, where it is judged."""

    name: str
    kind: Learned[Any]
    read: Callable[[LocalModels, Sequence[Any]], list[Reading]]
    threshold: float
    held_out: dict[str, Sequence[Any]]


def _extractors(settings: Settings, eval_set: Path) -> list[_Extractor]:
    orders, invoices = hand_written(eval_set) if (eval_set / "orders.jsonl").exists() else ([], [])
    order_policy = OrderPolicy.model_validate(settings.policy_for(ORDER_FULFILLMENT))
    invoice_policy = InvoicePolicy.model_validate(settings.policy_for(INVOICE_PROCESSING))
    return [
        _Extractor(
            "order extractor",
            ORDERS,
            read_orders,
            order_policy.confidence_threshold,
            {"synthetic eval split": load(OrderExample, "orders", "eval")}
            | ({"hand-written set": orders} if orders else {}),
        ),
        _Extractor(
            "invoice extractor",
            INVOICES,
            read_invoices,
            invoice_policy.confidence_threshold,
            {"synthetic eval split": load(InvoiceExample, "invoices", "eval")}
            | ({"hand-written set": invoices} if invoices else {}),
        ),
    ]


@app.command()
def retrain(
    eval_set: Annotated[
        Path, typer.Option(help="the hand-written set (orders.jsonl, invoices.jsonl)")
    ] = EVAL_SET,
) -> None:
    """Retrains the order and invoice extractors with the shipped data plus every correction in
    the ledger, and keeps each only if it is at least as good as the current one on the
    held-out sets taken together (as many right, no more silently wrong); the AI workers use
    them from their next start. Exits 1 when a retrained extractor was worse and not kept."""
    settings = command_settings()
    engine = make_engine(settings.resolved_database_url)
    prepare_database(engine, settings)
    extractors = _extractors(settings, eval_set)
    with session_scope(engine) as session:
        rows = {e.name: ledger.of_step(session, e.kind.step) for e in extractors}
    engine.dispose()
    directory = learned_dir(settings)
    kept_all = True
    for extractor in extractors:
        kept_all = _retrain(extractor, rows[extractor.name], directory) and kept_all
    if not kept_all:
        raise typer.Exit(1)


def _retrain(extractor: _Extractor, rows: Sequence[LedgerRow], directory: Path) -> bool:
    """Retrains one extractor; False when the retrained one was worse and not kept."""
    kind, name = extractor.kind, extractor.name
    current = load_learned(directory, kind)
    known = {c.model_dump_json() for c in current}
    new = {
        c.model_dump_json(): c
        for row in rows
        if (c := kind.record.model_validate(row.data)).model_dump_json() not in known
    }
    if not new:
        typer.echo(
            f"{name}: nothing new to learn: {len(current)} corrections learned, "
            f"{len(rows)} in the ledger"
        )
        return True
    candidate = [*current, *new.values()]
    with tempfile.TemporaryDirectory() as draft:
        save_learned(Path(draft), kind, candidate)
        before, after = LocalModels(learned_dir=directory), LocalModels(learned_dir=Path(draft))
        readings: dict[str, tuple[list[Reading], list[Reading]]] = {
            set_name: (extractor.read(before, examples), extractor.read(after, examples))
            for set_name, examples in extractor.held_out.items()
        }
    readings["all held-out sets"] = (
        [r for was, _ in readings.values() for r in was],
        [r for _, now in readings.values() for r in now],
    )
    for set_name, (was, now) in readings.items():
        typer.echo(f"{name}, {set_name}: before {tally(was, extractor.threshold)}")
        typer.echo(f"{' ' * len(f'{name}, {set_name}')}  after  {tally(now, extractor.threshold)}")
    pooled = readings["all held-out sets"]
    if not at_least_as_good(*(tally(part, extractor.threshold) for part in pooled)):
        typer.echo(
            f"{name}: kept {before.version}: the retrained one is worse on the held-out sets "
            "taken together"
        )
        return False
    save_learned(directory, kind, candidate)
    idle = sum(not teaches(c) for c in new.values())
    typer.echo(
        f"{name}: learned {len(new)} new corrections ({len(candidate)} in all"
        + (f"; {idle} lack a header field and teach nothing" if idle else "")
        + "); the AI workers use it from their next start"
    )
    return True
