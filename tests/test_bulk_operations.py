"""`baton processes cancel|terminate`: a dry run lists without touching; then each process is
stopped and its ledger says who asked; only admins may."""

import asyncio

from sqlmodel import Session
from typer.testing import CliRunner, Result

from baton.cli import app
from core.db import make_engine
from core.ledger import for_process
from tests.helpers import ALICE, Stack, state, until, wait_for
from tests.workspace import large_order

runner = CliRunner()


async def baton(*args: str) -> Result:
    # In a thread: the command runs its own event loop while this test's loop serves the API.
    return await asyncio.to_thread(runner.invoke, app, ["processes", *args])


async def test_a_bulk_cancel_lists_first_then_cancels_each_with_a_record(
    operator: Stack,
) -> None:
    orders = [(await large_order(operator, ALICE))[0] for _ in range(2)]
    query = "WorkflowId IN (" + ", ".join(f"'{order}'" for order in orders) + ")"

    async def both_listed() -> bool:
        return (await operator.client.count_workflows(query)).count == 2

    await wait_for(both_listed, "the orders in Temporal's visibility")
    dry = await baton("cancel", "--query", query, "--as", "erin", "--dry-run")
    assert dry.exit_code == 0, dry.output
    for order in orders:
        assert f"would cancel {order}  (order-fulfillment, stage approval)" in dry.output
    assert "2 running processes; dry run: nothing was touched" in dry.output
    for order in orders:
        assert (await state(operator, order))["status"] == "waiting"

    refused = await baton("cancel", "--query", query, "--as", "bob")
    assert refused.exit_code == 1
    assert "bob is not an admin" in refused.output

    done = await baton("cancel", "--query", query, "--as", "erin", "--reason", "duplicates")
    assert done.exit_code == 0, done.output
    assert "2 of 2 processes: cancel sent" in done.output
    engine = make_engine(operator.settings.database_url)
    for order in orders:
        await until(operator, order, "cancelled")
        with Session(engine) as session:
            rows = [row for row in for_process(session, order) if row.step == "bulk cancel"]
        assert [(r.actor_kind, r.outcome, r.comment, r.data["asked_by"]) for r in rows] == [
            ("system", "cancel", "duplicates", "erin")
        ]
    engine.dispose()
    # Nothing runs any more: a second run finds nothing to touch.
    again = await baton("terminate", "--query", query, "--as", "erin", "--dry-run")
    assert "0 running processes" in again.output
