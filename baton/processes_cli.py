"""`baton processes cancel|terminate`: stop many processes at once, after a dry run."""

import asyncio
from typing import Annotated

import typer

from baton.admins import require_admin
from core.bulk import BulkOperation, Done, Target, apply, targets
from core.db import make_engine
from core.logging import command_settings
from core.temporal import connect

app = typer.Typer(help="Operate on many processes at once (admins only), after a dry run.")

Query = Annotated[
    str,
    typer.Option(help="Visibility query, e.g. \"BatonProcessType = 'order-fulfillment'\"."),
]
AsUser = Annotated[str, typer.Option("--as", help="The admin who asks (recorded in the ledger).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="List what it would touch; touch nothing.")]
Reason = Annotated[str, typer.Option(help="Why (recorded in each process's ledger).")]
Limit = Annotated[int, typer.Option(min=1, help="At most this many processes.")]


def _run(
    operation: BulkOperation, query: str, user: str, dry_run: bool, reason: str, limit: int
) -> None:
    settings = command_settings()
    require_admin(settings, user, "operate on many processes")
    engine = make_engine(settings.resolved_database_url)

    def show(target: Target, verb: str) -> None:
        typer.echo(f"{verb} {target.process_id}  ({target.process_type}, stage {target.stage})")

    async def main() -> bool:
        client = await connect(settings)
        chosen = await targets(client, query, limit)
        if dry_run:
            for target in chosen:
                show(target, f"would {operation.value}")
            typer.echo(f"{len(chosen)} running processes; dry run: nothing was touched")
            return True

        def done(result: Done) -> None:
            if result.error:
                typer.echo(f"failed {result.target.process_id}: {result.error}", err=True)
            else:
                show(result.target, f"{operation.value}: ")

        results = await apply(client, engine, operation, chosen, user, reason, done)
        failed = sum(1 for result in results if result.error)
        typer.echo(f"{len(results) - failed} of {len(results)} processes: {operation.value} sent")
        return not failed

    raise typer.Exit(0 if asyncio.run(main()) else 1)


@app.command()
def cancel(
    query: Query, user: AsUser, dry_run: DryRun = False, reason: Reason = "", limit: Limit = 1000
) -> None:
    """Cancel the running processes QUERY finds: each undoes what it did, then ends cancelled."""
    _run(BulkOperation.CANCEL, query, user, dry_run, reason, limit)


@app.command()
def terminate(
    query: Query, user: AsUser, dry_run: DryRun = False, reason: Reason = "", limit: Limit = 1000
) -> None:
    """Terminate the running processes QUERY finds: they stop at once and undo nothing."""
    _run(BulkOperation.TERMINATE, query, user, dry_run, reason, limit)
