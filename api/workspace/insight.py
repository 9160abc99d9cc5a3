"""Insight for managers and analysts: KPI tiles and charts per process type and department,
automation candidates, bottlenecks, and the process map as it runs. The figures are the
`/v1/insight` reports, for the same people (analysts and admins)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from api.authz import authorize
from api.deps import EngineDep, SettingsDep, read
from api.errors import ApiError
from api.workspace.charts import bar_chart
from api.workspace.pages import PREFIX, PageRoute, Person, duration, render
from core.insight.kpis import KpiReport, kpis_by_settings
from core.insight.log import Window
from core.insight.map_svg import render_svg
from core.insight.process_map import map_for
from workflows.contracts.catalogue import PROCESS_TYPES
from workflows.contracts.permissions import Action

router = APIRouter(prefix=f"{PREFIX}/insight", route_class=PageRoute, include_in_schema=False)

Period = Literal["7", "30", "90", "all"]
_PERIODS = {"7": "Last 7 days", "30": "Last 30 days", "90": "Last 90 days", "all": "All time"}


def _window(period: Period, process_type: str | None) -> Window:
    if process_type and process_type not in PROCESS_TYPES:
        raise ApiError(404, "unknown_process_type", f"There is no process type {process_type!r}.")
    since = None if period == "all" else datetime.now(UTC) - timedelta(days=int(period))
    return Window(since=since, process_type=process_type or None)


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _charts(report: KpiReport) -> dict[str, Markup]:
    return {
        "cycle": bar_chart(
            "Cycle time, median, by process type",
            [(f.name, f.cycle_p50_s) for f in report.by_process_type],
            duration,
        ),
        "wait": bar_chart(
            "Time in the inbox, median, by role",
            [(w.role.replace("_", " "), w.p50_s) for w in report.human_wait_by_role],
            duration,
        ),
        "cost": bar_chart(
            "Cost per process, by who did the work",
            [
                ("bots", report.overall.cost_per_process.bot),
                ("AI", report.overall.cost_per_process.ai),
                ("people", report.overall.cost_per_process.human),
            ],
            _money,
        ),
        "departments": bar_chart(
            "Hours waiting in inboxes, by department",
            [(d.department.replace("_", " "), d.inbox_hours) for d in report.by_department],
            lambda hours: f"{hours:,.1f} h",
        ),
    }


@router.get("")
async def insight_page(
    request: Request,
    person: Person,
    engine: EngineDep,
    settings: SettingsDep,
    period: Period = "30",
    process_type: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    authorize(person.user, Action.READ_INSIGHT)
    window = _window(period, process_type)
    report = await read(engine, lambda session: kpis_by_settings(session, window, settings))
    return render(
        request,
        "insight.html",
        {
            "title": "Insight",
            "report": report,
            "charts": _charts(report),
            "candidate_share": settings.insight_candidate_share,
            "period": period,
            "periods": _PERIODS,
            "process_type": process_type or "",
            "process_types": sorted(PROCESS_TYPES),
        },
    )


@router.get("/map")
async def map_page(
    request: Request,
    person: Person,
    engine: EngineDep,
    period: Period = "30",
    process_type: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    authorize(person.user, Action.READ_INSIGHT)
    window = _window(period, process_type or next(iter(sorted(PROCESS_TYPES))))
    pmap = await read(engine, lambda session: map_for(session, window))
    picture = render_svg(pmap)
    # The SVG document's XML declaration has no place inside a page.
    inline = Markup(picture[picture.index("<svg") :])
    return render(
        request,
        "map.html",
        {
            "title": f"Process map · {pmap.process_type}",
            "pmap": pmap,
            "picture": inline,
            "period": period,
            "periods": _PERIODS,
            "process_type": pmap.process_type,
            "process_types": sorted(PROCESS_TYPES),
        },
    )
