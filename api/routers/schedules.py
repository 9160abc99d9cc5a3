"""Recurring processes: `GET/POST/DELETE /v1/schedules` (admins only), on Temporal Schedules.

A schedule starts a process of one type with one input at every interval or cron time; its runs
are ordinary processes, listed with the others. See core/schedules.py.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ValidationError
from temporalio.client import ScheduleAlreadyRunningError
from temporalio.service import RPCError, RPCStatusCode

from api.authz import allowed
from api.deps import PathId, SettingsDep, TemporalDep
from api.errors import ApiError, field_error, invalid, responses
from core import schedules
from core.schedules import ScheduleIn, ScheduleOut
from core.users import User
from workflows.contracts.permissions import Action

router = APIRouter(
    prefix="/v1/schedules", tags=["schedules"], responses=responses(401, 403, 422, 429, 500, 503)
)
Admin = Annotated[User, Depends(allowed(Action.MANAGE_SCHEDULES))]


class Triggered(BaseModel):
    schedule_id: str
    triggered: bool


def _missing(schedule_id: str) -> ApiError:
    return ApiError(404, "schedule_not_found", f"no schedule {schedule_id!r}")


@router.get("", response_model=list[ScheduleOut])
async def list_schedules(
    temporal: TemporalDep, settings: SettingsDep, _admin: Admin
) -> list[ScheduleOut]:
    """The schedules, each with its next times and the processes it started lately."""
    return await temporal.call(schedules.listed(temporal.client, settings))


@router.post("", status_code=201, response_model=ScheduleOut, responses=responses(409, 413))
async def create_schedule(
    schedule: ScheduleIn, temporal: TemporalDep, settings: SettingsDep, admin: Admin
) -> ScheduleOut:
    """Starts a process of `process_type` with `input` every `every`, or at each `cron` time."""
    try:
        return await temporal.call(
            schedules.create(temporal.client, settings, schedule, admin.name)
        )
    except schedules.UnknownProcessType as exc:
        raise field_error(422, "validation_error", "body.process_type", str(exc)) from None
    except ValidationError as exc:
        raise invalid(exc, "body.input", "input") from None
    except ScheduleAlreadyRunningError:
        raise ApiError(
            409, "schedule_exists", f"a schedule {schedule.schedule_id!r} exists"
        ) from None
    except RPCError as exc:  # Temporal refused the recurrence (a bad cron, an unknown zone)
        if exc.status is not RPCStatusCode.INVALID_ARGUMENT:
            raise
        raise field_error(422, "validation_error", "body", exc.message) from exc


@router.get("/{schedule_id}", response_model=ScheduleOut, responses=responses(404))
async def get_schedule(
    schedule_id: PathId, temporal: TemporalDep, settings: SettingsDep, _admin: Admin
) -> ScheduleOut:
    found = await temporal.call(schedules.describe(temporal.client, settings, schedule_id))
    if found is None:
        raise _missing(schedule_id)
    return found


@router.delete("/{schedule_id}", status_code=204, responses=responses(404))
async def delete_schedule(
    schedule_id: PathId, temporal: TemporalDep, settings: SettingsDep, _admin: Admin
) -> Response:
    """Stops the schedule; the processes it started run on."""
    if not await temporal.call(schedules.delete(temporal.client, settings, schedule_id)):
        raise _missing(schedule_id)
    return Response(status_code=204)


@router.post(
    "/{schedule_id}/trigger", status_code=202, response_model=Triggered, responses=responses(404)
)
async def trigger_schedule(
    schedule_id: PathId, temporal: TemporalDep, settings: SettingsDep, _admin: Admin
) -> Triggered:
    """Starts its process now, besides its times (the run is listed in `recent_runs`)."""
    if not await temporal.call(schedules.trigger(temporal.client, settings, schedule_id)):
        raise _missing(schedule_id)
    return Triggered(schedule_id=schedule_id, triggered=True)
