"""`baton ai report`: where each AI step's confidence threshold should be, from data, and how
the models do on the hand-written evaluation set."""

from pathlib import Path
from typing import Annotated

import typer

from activities.ai.evaluation import (
    Reading,
    calibrate,
    calibration_readings,
    hand_written,
    read_invoices,
    read_orders,
    tally,
)
from activities.ai.local.provider import shared_models
from core.logging import command_settings
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
    calibration split, the share of work it sends to people, and the hand-written set's
    right / routed / silently wrong at that threshold and at the policy's."""
    settings = command_settings()
    goal = settings.ai_silent_error_target if target is None else target
    models = shared_models()
    order_policy = OrderPolicy.model_validate(settings.policy_for(ORDER_FULFILLMENT))
    invoice_policy = InvoicePolicy.model_validate(settings.policy_for(INVOICE_PROCESSING))
    policy = {
        "order-extractor": order_policy.confidence_threshold,
        "invoice-extractor": invoice_policy.confidence_threshold,
    }
    held_out: dict[str, list[Reading]] = {}
    if (eval_set / "orders.jsonl").exists():
        orders, invoices = hand_written(eval_set)
        held_out = {
            "order-extractor": read_orders(models, orders),
            "invoice-extractor": read_invoices(models, invoices),
        }
    typer.echo(f"models {models.version}; silently-wrong target {goal:.1%}")
    for model, readings in calibration_readings(models).items():
        chosen = calibrate(readings, goal)
        typer.echo(f"\n{model}")
        typer.echo(
            f"  calibration split ({len(readings)}): threshold {chosen.threshold:.2f} keeps "
            f"silently wrong at {chosen.wrong:.1%} and sends {chosen.routed:.0%} to people"
        )
        typer.echo(f"  at the policy's {policy[model]:.2f}: {tally(readings, policy[model])}")
        if model in held_out:
            hand = held_out[model]
            typer.echo(
                f"  hand-written set at {chosen.threshold:.2f}: {tally(hand, chosen.threshold)}"
            )
            typer.echo(f"  hand-written set at {policy[model]:.2f}: {tally(hand, policy[model])}")
