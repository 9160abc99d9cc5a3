"""Recurring processes on Temporal Schedules, for the API and the CLI alike.

A schedule starts a process of one type with one input at every interval or cron time; each run
is an ordinary process (queues, search attributes and policy as the API would have started it
when the schedule was made: a new policy needs a new schedule), whose
id is the schedule's process id with the time it fired (`payables-review:PAY-daily-...`). What
Baton needs to show a schedule again (its type, input and recurrence as written, who set it up)
rides in the schedule's memo, since Temporal keeps a cron expression only as its calendars.
"""

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, model_validator
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleListDescription,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.client import (
    ScheduleIntervalSpec as Interval,
)
from temporalio.service import RPCError, RPCStatusCode

from core.processes import launch
from core.settings import Settings
from workflows.contracts.catalogue import PROCESS_TYPES
from workflows.contracts.processes import ProcessType

MEMO = "baton_schedule"
# The times a schedule missed (Temporal down) within this window still start their runs when
# it is back; older ones are skipped.
CATCHUP = timedelta(hours=1)


class ScheduleIn(BaseModel):
    """A new schedule: which process, with which input, how often."""

    schedule_id: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        examples=["daily-payables-review"],
    )
    process_type: str = Field(examples=["payables-review"])
    input: dict[str, Any] = Field(default_factory=dict, description="the process input")
    every: timedelta | None = Field(
        None,
        lt=timedelta(days=365),  # a yearly process is a cron; and ISO 8601 as RFC 3339 reads it
        description="an interval under a year (ISO 8601, e.g. P1D or PT15M, or seconds)",
    )
    cron: str | None = Field(
        None, max_length=200, description="or a cron expression", examples=["0 7 * * MON-FRI"]
    )
    timezone: str = Field("UTC", max_length=100, description="the cron's time zone")
    note: str = Field("", max_length=1000)
    paused: bool = False

    @model_validator(mode="after")
    def _one_recurrence(self) -> "ScheduleIn":
        if (self.every is None) == (self.cron is None):
            raise ValueError("give either every or cron")
        if self.every is not None and self.every < timedelta(seconds=1):
            raise ValueError("every must be at least one second")
        return self


class ScheduledRun(BaseModel):
    process_id: str
    scheduled_at: datetime
    started_at: datetime


class ScheduleOut(ScheduleIn):
    created_by: str
    next_runs: list[datetime] = Field(description="the next times it fires")
    recent_runs: list[ScheduledRun] = Field(description="the processes it started lately")


class UnknownProcessType(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no process type {name!r}; one of {sorted(PROCESS_TYPES)}")


def _key(ptype: ProcessType, schedule_id: str) -> str:
    return f"{ptype.key_prefix}-{schedule_id}"


def _spec(schedule: ScheduleIn) -> ScheduleSpec:
    if schedule.every is not None:
        return ScheduleSpec(intervals=[Interval(every=schedule.every)])
    return ScheduleSpec(cron_expressions=[schedule.cron or ""], time_zone_name=schedule.timezone)


async def create(
    client: Client, settings: Settings, schedule: ScheduleIn, created_by: str
) -> ScheduleOut:
    """Creates the schedule. Raises UnknownProcessType, pydantic's ValidationError for a bad
    input, ScheduleAlreadyRunningError for a taken id, and RPCError INVALID_ARGUMENT when
    Temporal refuses the recurrence (a bad cron, an unknown time zone)."""
    ptype = PROCESS_TYPES.get(schedule.process_type)
    if ptype is None:
        raise UnknownProcessType(schedule.process_type)
    process_input = ptype.input_model.model_validate(schedule.input)
    start = launch(
        settings,
        ptype,
        process_input,
        created_by,
        _key(ptype, schedule.schedule_id),
        details=f"Started by the schedule {schedule.schedule_id}, set up by {created_by}.",
    )
    memo = {**schedule.model_dump(mode="json"), "created_by": created_by}
    memo["queues"] = settings.task_queue_prefix
    handle = await client.create_schedule(
        schedule.schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(
                ptype.workflow,
                start.run,
                id=start.id,
                task_queue=start.task_queue,
                priority=start.priority,
                static_summary=start.static_summary,
                static_details=start.static_details,
                typed_search_attributes=start.search_attributes,
            ),
            spec=_spec(schedule),
            # Each day's review is its own: one still open does not hold back the next.
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL, catchup_window=CATCHUP),
            state=ScheduleState(note=schedule.note or None, paused=schedule.paused),
        ),
        memo={MEMO: memo},
    )
    description = await handle.describe()
    return view(description, memo)


async def _memo(
    settings: Settings, entry: ScheduleListDescription | ScheduleDescription
) -> dict[str, Any] | None:
    """What Baton wrote of the schedule; None for a schedule of the namespace that is not
    this deployment's (its task queues)."""
    memo = await entry.memo_value(MEMO, None)
    if isinstance(memo, dict) and memo.get("queues") == settings.task_queue_prefix:
        return memo
    return None


def view(found: ScheduleListDescription | ScheduleDescription, memo: dict[str, Any]) -> ScheduleOut:
    """A schedule as Baton shows it, from a listing's entry or a description."""
    if found.schedule is None or found.info is None:  # a listing not yet complete
        raise LookupError(found.id)
    state, info = found.schedule.state, found.info
    return ScheduleOut.model_validate(
        {
            **memo,
            "paused": state.paused,
            "note": state.note or "",
            "next_runs": info.next_action_times[:5],
            "recent_runs": [
                ScheduledRun(
                    process_id=getattr(result.action, "workflow_id", ""),
                    scheduled_at=result.scheduled_at,
                    started_at=result.started_at,
                )
                for result in info.recent_actions
            ],
        }
    )


async def listed(client: Client, settings: Settings) -> list[ScheduleOut]:
    """This deployment's schedules, by id."""
    found = []
    async for entry in await client.list_schedules():
        memo = await _memo(settings, entry)
        if memo is None:
            continue
        try:
            found.append(view(entry, memo))
        except LookupError:  # the listing is behind: ask the schedule itself
            fresh = await _ours(client, settings, entry.id)
            if fresh is not None:  # else deleted meanwhile
                found.append(fresh[1])
    return sorted(found, key=lambda schedule: schedule.schedule_id)


async def _ours(
    client: Client, settings: Settings, schedule_id: str
) -> tuple[ScheduleHandle, ScheduleOut] | None:
    """The deployment's schedule of that id; None when it has none."""
    handle = client.get_schedule_handle(schedule_id)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    memo = await _memo(settings, description)
    return (handle, view(description, memo)) if memo is not None else None


async def describe(client: Client, settings: Settings, schedule_id: str) -> ScheduleOut | None:
    """One of this deployment's schedules; None when it has none of that id."""
    found = await _ours(client, settings, schedule_id)
    return found[1] if found else None


async def delete(client: Client, settings: Settings, schedule_id: str) -> bool:
    """Deletes the schedule (the processes it started run on); False when there is none."""
    found = await _ours(client, settings, schedule_id)
    if found is not None:
        await found[0].delete()
    return found is not None


async def trigger(client: Client, settings: Settings, schedule_id: str) -> bool:
    """Starts its process now, besides its times; False when there is no such schedule."""
    found = await _ours(client, settings, schedule_id)
    if found is not None:
        await found[0].trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)
    return found is not None
