"""/v1/insight: KPIs, the process map, exports and what-if, for analysts and admins only.

Every figure comes from the event log the runs write as they go (see core/insight); a request
reads a window of it: the processes that started in [since, until), of one type or all.
"""

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, ValidationError

from api.authz import allowed
from api.deps import EngineDep, SettingsDep, read
from api.errors import field_error, invalid, responses
from core.insight.exports import ExportFormat, export
from core.insight.kpis import KpiReport, kpis_by_settings
from core.insight.log import Window
from core.insight.map_svg import render_svg
from core.insight.process_map import ProcessMap, map_for
from core.insight.what_if import WhatIf, what_if
from core.users import User
from workflows.contracts.catalogue import PROCESS_TYPES
from workflows.contracts.permissions import Action
from workflows.contracts.processes import ProcessType

router = APIRouter(
    prefix="/v1/insight", tags=["insight"], responses=responses(401, 403, 422, 429, 500, 503)
)

Analyst = Annotated[User, Depends(allowed(Action.READ_INSIGHT))]
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]")


def _iso(value: object) -> object:
    """Only an ISO 8601 date and time: a number would pass as seconds since 1970."""
    if not (isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE.match(value))):
        raise ValueError("expected an ISO 8601 date and time with its zone, e.g. 2026-11-01T00:00Z")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_iso)]
Since = Annotated[Moment | None, Query(description="processes started at or after")]
Until = Annotated[Moment | None, Query(description="processes started before")]


def _process_type(name: str | None, field: str) -> ProcessType | None:
    if name is None:
        return None
    if name not in PROCESS_TYPES:
        raise field_error(
            422, "validation_error", field, f"unknown process type; one of {list(PROCESS_TYPES)}"
        )
    return PROCESS_TYPES[name]


def _window(
    process_type: str | None, since: datetime | None, until: datetime | None, where: str
) -> Window:
    ptype = _process_type(process_type, f"{where}.process_type")
    if since and until and since >= until:
        raise field_error(422, "validation_error", f"{where}.until", "must be after since")
    return Window(since, until, ptype.name if ptype else None)


def query_window(
    since: Since = None,
    until: Until = None,
    process_type: Annotated[str | None, Query(description="one process type; all if none")] = None,
) -> Window:
    return _window(process_type, since, until, "query")


QueryWindow = Annotated[Window, Depends(query_window)]


@router.get("/kpis", response_model=KpiReport)
async def get_kpis(
    _user: Analyst, window: QueryWindow, engine: EngineDep, settings: SettingsDep
) -> KpiReport:
    """Volumes, cycle times, touch and wait, straight-through rate, human wait by role,
    escalations and SLA breaches, rework and AI overrides, cost, automation candidates and
    bottlenecks; per process type, per department and overall."""
    return await read(engine, lambda session: kpis_by_settings(session, window, settings))


@router.get(
    "/map",
    response_model=ProcessMap,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "JSON, or the picture"}},
)
async def get_map(
    _user: Analyst,
    engine: EngineDep,
    process_type: Annotated[str, Query(description="the process type to map")],
    since: Since = None,
    until: Until = None,
    format: Annotated[str, Query(pattern="^(json|svg)$")] = "json",
) -> Any:
    """The process as it runs: a directly-follows graph with counts and median durations,
    beside its designed stages, and the runs that deviated from the design."""
    window = _window(process_type, since, until, "query")
    pmap = await read(engine, lambda session: map_for(session, window))
    if format == "svg":
        return Response(render_svg(pmap), media_type="image/svg+xml")
    return pmap


@router.get(
    "/export",
    responses={200: {"content": {"application/json": {}, "application/xml": {}, "text/csv": {}}}},
)
async def get_export(
    _user: Analyst,
    window: QueryWindow,
    engine: EngineDep,
    format: Annotated[ExportFormat, Query(description="ocel (OCEL 2.0 JSON), xes or csv")],
) -> Response:
    """The event log for process-mining tools: OCEL 2.0, XES or CSV."""
    file = await read(engine, lambda session: export(session, window, format))
    disposition = f'attachment; filename="{file.filename}"'
    return Response(
        file.body, media_type=file.media_type, headers={"Content-Disposition": disposition}
    )


class WhatIfRequest(BaseModel):
    process_type: str
    policy: dict[str, Any] = Field(
        description="policy values that differ from the current ones, e.g. "
        '{"approval_threshold": 5000}'
    )
    since: Moment | None = None
    until: Moment | None = None


@router.post("/what-if", response_model=WhatIf)
async def post_what_if(
    _user: Analyst, request: WhatIfRequest, engine: EngineDep, settings: SettingsDep
) -> WhatIf:
    """The recorded runs' decision points under another policy, beside what happened; says
    which figures are exact and which estimated."""
    window = _window(request.process_type, request.since, request.until, "body")
    ptype = PROCESS_TYPES[request.process_type]
    try:
        policy = settings.policy_for(ptype, request.policy)
    except ValidationError as exc:
        raise invalid(exc, "body.policy", "policy") from None
    return await read(engine, lambda session: what_if(session, window, policy))
