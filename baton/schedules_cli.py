"""`baton schedules`: recurring processes on Temporal Schedules, from a shell."""

import asyncio
import json
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from temporalio.client import ScheduleAlreadyRunningError
from temporalio.service import RPCError, RPCStatusCode

from baton.admins import require_admin
from core import schedules
from core.logging import command_settings
from core.schedules import ScheduleIn, ScheduleOut
from core.temporal import connect

app = typer.Typer(help="Recurring processes: list, create, trigger and delete schedules.")

AsUser = Annotated[
    str, typer.Option("--as", help="The admin who asks (a created schedule's requester).")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _when(schedule: ScheduleOut) -> str:
    if schedule.cron:
        return f"cron {schedule.cron} ({schedule.timezone})"
    return f"every {schedule.every}"


@app.command("list")
def list_schedules() -> None:
    """The schedules, with when each fires next."""
    settings = command_settings()

    async def main() -> list[ScheduleOut]:
        return await schedules.listed(await connect(settings), settings)

    for schedule in asyncio.run(main()):
        after = schedule.next_runs[0].isoformat() if schedule.next_runs else "never"
        paused = ", paused" if schedule.paused else ""
        typer.echo(
            f"{schedule.schedule_id}  {schedule.process_type}  {_when(schedule)}{paused}  "
            f"next {after}  ({len(schedule.recent_runs)} recent runs)"
        )


@app.command()
def create(
    schedule_id: str,
    process_type: str,
    user: AsUser,
    every: Annotated[str | None, typer.Option(help="e.g. P1D, PT15M, or seconds")] = None,
    cron: Annotated[str | None, typer.Option(help='e.g. "0 7 * * MON-FRI"')] = None,
    timezone: Annotated[str, typer.Option(help="the cron's time zone")] = "UTC",
    process_input: Annotated[str, typer.Option("--input", help="the input, as JSON")] = "{}",
    note: str = "",
    paused: bool = False,
) -> None:
    """Starts a PROCESS_TYPE process with --input at every --every, or at each --cron time."""
    settings = command_settings()
    require_admin(settings, user, "manage schedules")
    try:
        given: Any = json.loads(process_input)
        schedule = ScheduleIn.model_validate(
            {
                "schedule_id": schedule_id,
                "process_type": process_type,
                "input": given,
                "every": int(every) if every and every.isdigit() else every,
                "cron": cron,
                "timezone": timezone,
                "note": note,
                "paused": paused,
            }
        )
    except (json.JSONDecodeError, ValidationError) as exc:
        raise _fail(str(exc)) from None

    async def main() -> ScheduleOut:
        return await schedules.create(await connect(settings), settings, schedule, user)

    try:
        created = asyncio.run(main())
    except (schedules.UnknownProcessType, ValidationError) as exc:
        raise _fail(str(exc)) from None
    except ScheduleAlreadyRunningError:
        raise _fail(f"a schedule {schedule_id!r} exists") from None
    except RPCError as exc:
        if exc.status is not RPCStatusCode.INVALID_ARGUMENT:
            raise
        raise _fail(exc.message) from None
    after = created.next_runs[0].isoformat() if created.next_runs else "never"
    typer.echo(f"created {schedule_id}: {process_type} {_when(created)}, next {after}")


def _on_one(schedule_id: str, user: str, operation: str) -> None:
    settings = command_settings()
    require_admin(settings, user, "manage schedules")
    act = schedules.delete if operation == "deleted" else schedules.trigger

    async def main() -> bool:
        return await act(await connect(settings), settings, schedule_id)

    if not asyncio.run(main()):
        raise _fail(f"no schedule {schedule_id!r}")
    typer.echo(f"{operation} {schedule_id}")


@app.command()
def delete(schedule_id: str, user: AsUser) -> None:
    """Deletes the schedule; the processes it started run on."""
    _on_one(schedule_id, user, "deleted")


@app.command()
def trigger(schedule_id: str, user: AsUser) -> None:
    """Starts the schedule's process now, besides its times."""
    _on_one(schedule_id, user, "triggered")
