"""`baton insight`: the KPI table in a terminal; the log's rebuild, map, exports and what-if."""

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlmodel import Session

from core.db import create_tables, make_engine, session_scope
from core.insight.exports import ExportFormat, export
from core.insight.kpis import Costs, Figures, KpiReport, kpis_by_settings
from core.insight.log import Window
from core.insight.map_svg import render_svg
from core.insight.process_map import human_duration, map_for
from core.insight.what_if import Side, what_if
from core.logging import command_settings
from workflows.contracts.catalogue import PROCESS_TYPES

app = typer.Typer(
    help="What the processes really did: KPIs, the process map, exports, what-if.",
    invoke_without_command=True,
)

_RELATIVE = re.compile(r"^(\d+)([dhm])$")
_UNIT = {"d": "days", "h": "hours", "m": "minutes"}

Since = Annotated[
    str | None,
    typer.Option(help="Processes started since: an ISO date or time (UTC), or 30d, 12h, 90m ago."),
]
Until = Annotated[str | None, typer.Option(help="... and before this (same forms).")]
ProcessType = Annotated[
    str | None, typer.Option("--process-type", "--process", help="One process type; all if none.")
]


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = relative.groups()
        return datetime.now(UTC) - timedelta(**{_UNIT[unit]: int(amount)})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}: an ISO date or time, or 30d, 12h, 90m", param_hint=option
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _window(since: str | None, until: str | None, process_type: str | None) -> Window:
    try:
        return Window(_moment(since, "--since"), _moment(until, "--until"), process_type)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.callback()
def report(
    ctx: typer.Context,
    since: Since = None,
    until: Until = None,
    process_type: ProcessType = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
) -> None:
    """Print the KPIs of the processes that started in the window (default: all)."""
    if ctx.invoked_subcommand is not None:
        return
    window = _window(since, until, process_type)
    with _session() as session:
        found = kpis_by_settings(session, window, command_settings())
    typer.echo(found.model_dump_json(indent=2) if as_json else kpi_table(found))


@app.command()
def rebuild(
    where: Annotated[
        str, typer.Option(help='Only these runs: a visibility query, e.g. StartTime > "2026-11-01"')
    ] = "",
) -> None:
    """Rebuild the event log from Temporal's histories (the workers must be running: failed,
    cancelled and open runs answer by replaying their history)."""
    from core.insight.rebuild import rebuild as rebuild_log
    from core.temporal import connect

    settings = command_settings()
    engine = make_engine(settings.resolved_database_url)

    async def main() -> int:
        client = await connect(settings)
        done = await rebuild_log(client, engine, where=where)
        for process_id, why in sorted(done.unread.items()):
            typer.echo(f"not read: {process_id}: {why}", err=True)
        typer.echo(f"rebuilt: {done.processes} processes, {done.steps} steps")
        return 1 if done.unread else 0

    try:
        create_tables(engine)
        code = asyncio.run(main())
    finally:
        engine.dispose()
    raise typer.Exit(code)


@app.command("export")
def export_log(
    format: Annotated[ExportFormat, typer.Option(help="ocel (OCEL 2.0 JSON), xes or csv.")],
    since: Since = None,
    until: Until = None,
    process_type: ProcessType = None,
    output: Annotated[Path | None, typer.Option(help="Write here; default: its own name.")] = None,
) -> None:
    """Export the event log for process-mining tools."""
    window = _window(since, until, process_type)
    with _session() as session:
        file = export(session, window, format)
    target = output or Path(file.filename)
    target.write_text(file.body, encoding="utf-8")
    typer.echo(f"wrote {target}")


@app.command("map")
def process_map(
    process_type: Annotated[str, typer.Option("--process-type", "--process")],
    since: Since = None,
    until: Until = None,
    svg: Annotated[Path | None, typer.Option(help="Also draw it into this SVG file.")] = None,
) -> None:
    """Print the process as it runs: its paths with counts and medians, and the deviations."""
    window = _window(since, until, process_type)
    with _session() as session:
        pmap = map_for(session, window)
    typer.echo(f"{pmap.process_type}: {pmap.cases} runs, {pmap.conforming_cases} as designed")
    for edge in sorted(pmap.edges, key=lambda e: -e.count):
        mark = "" if edge.designed else "   <- not in the design"
        typer.echo(
            f"  {edge.source} -> {edge.target}: {edge.count} x, "
            f"median {human_duration(edge.median_seconds)}{mark}"
        )
    for deviation in pmap.deviations:
        typer.echo(f"deviation: {deviation.business_key}: {deviation.reason}")
    if svg is not None:
        svg.write_text(render_svg(pmap), encoding="utf-8")
        typer.echo(f"wrote {svg}")


@app.command("what-if")
def what_if_command(
    process_type: Annotated[str, typer.Option("--process-type", "--process")],
    policy: Annotated[
        str, typer.Option(help='Values that differ, e.g. {"approval_threshold": 5000}')
    ],
    since: Since = None,
    until: Until = None,
) -> None:
    """Replay the recorded runs' decision points under another policy, beside what happened."""
    window = _window(since, until, process_type)
    ptype = PROCESS_TYPES[process_type]
    settings = command_settings()
    try:
        values = json.loads(policy)
        other = settings.policy_for(ptype, values)
    except (json.JSONDecodeError, TypeError, ValidationError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--policy") from None
    with _session() as session:
        found = what_if(session, window, other)
    typer.echo(
        f"{found.process_type}: {found.runs} finished runs "
        f"({found.not_evaluated} without the facts a decision needs)"
    )
    typer.echo(f"policy: {json.dumps(values)}; {found.changed} runs decided otherwise")
    rows: list[tuple[str, ...]] = [("", "recorded", "what-if")]
    for label, value in _side_rows(found.recorded, found.what_if):
        rows.append((label, *value))
    typer.echo(_columns(rows))
    typer.echo(f"* {found.exact}")
    typer.echo(f"~ {found.estimated}")


def _side_rows(recorded: Side, other: Side) -> list[tuple[str, tuple[str, str]]]:
    def both(show: Callable[[Side], object]) -> tuple[str, str]:
        return str(show(recorded)), str(show(other))

    return [
        ("* runs to people", both(lambda side: side.to_people)),
        *(
            (f"* at {point}", both(lambda side, point=point: side.tasks[point]))  # type: ignore[misc]
            for point in recorded.tasks
        ),
        ("* straight-through rate", both(lambda side: _percent(side.straight_through_rate))),
        ("~ human hours", both(lambda side: f"{side.human_hours:.1f}")),
        ("~ inbox hours", both(lambda side: f"{side.inbox_hours:.1f}")),
        ("~ cycle time p50", both(lambda side: human_duration(side.cycle_p50_s))),
        ("~ cycle time mean", both(lambda side: human_duration(side.cycle_mean_s))),
    ]


@contextmanager
def _session() -> Iterator[Session]:
    """A session on Baton's database for one command."""
    engine = make_engine(command_settings().resolved_database_url)
    try:
        create_tables(engine)
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


# -- the KPI table ------------------------------------------------------------------------------


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share:.1%}"


def _money(costs: Costs) -> str:
    return (
        f"{costs.total:,.2f} (bots {costs.bot:,.2f}, AI {costs.ai:,.2f}, people {costs.human:,.2f})"
    )


def _columns(rows: list[tuple[str, ...]]) -> str:
    """Rows as aligned columns: the first left-aligned, the rest right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    )


_FIGURES: tuple[tuple[str, Callable[[Figures], str]], ...] = (
    ("started", lambda f: str(f.volume.started)),
    ("completed", lambda f: str(f.volume.completed)),
    ("rejected", lambda f: str(f.volume.rejected)),
    ("cancelled", lambda f: str(f.volume.cancelled)),
    ("failed", lambda f: str(f.volume.failed)),
    ("still open", lambda f: str(f.volume.open)),
    ("cycle time p50", lambda f: human_duration(f.cycle_p50_s)),
    ("cycle time p90", lambda f: human_duration(f.cycle_p90_s)),
    ("touch time (h)", lambda f: f"{f.touch_hours:,.1f}"),
    ("wait time (h)", lambda f: f"{f.wait_hours:,.1f}"),
    ("straight-through rate", lambda f: _percent(f.straight_through_rate)),
    ("people's hours", lambda f: f"{f.human_hours:,.1f}"),
    ("escalations", lambda f: str(f.escalations)),
    ("expiries", lambda f: str(f.expiries)),
    ("SLA breaches", lambda f: str(f.sla_breaches)),
    ("rework (AI answers corrected)", lambda f: f"{f.rework} ({_percent(f.rework_rate)})"),
    ("cost per process", lambda f: f"{f.cost_per_process.total:,.2f}"),
    ("  bots / AI / people", lambda f: _split(f.cost_per_process)),
    ("cost in all", lambda f: f"{f.cost_total.total:,.2f}"),
)


def _split(costs: Costs) -> str:
    return f"{costs.bot:,.2f} / {costs.ai:,.2f} / {costs.human:,.2f}"


def kpi_table(report: KpiReport) -> str:
    """The report as people read it in a terminal."""
    window = f"since {report.since or 'the first'} until {report.until or 'now'}"
    groups = [report.overall, *report.by_process_type]
    parts = [
        f"Baton insight: {report.overall.volume.started} processes started {window}",
        _columns(
            [
                ("", *(figures.name for figures in groups)),
                *((label, *(show(figures) for figures in groups)) for label, show in _FIGURES),
            ]
        ),
        "",
        "By department",
        _columns(
            [
                (
                    "department",
                    "steps",
                    "machine h",
                    "people h",
                    "inbox h",
                    "timers h",
                    "escal.",
                    "SLA",
                    "cost",
                ),
                *(
                    (
                        d.department,
                        str(d.steps),
                        f"{d.machine_hours:,.1f}",
                        f"{d.human_hours:,.1f}",
                        f"{d.inbox_hours:,.1f}",
                        f"{d.timer_hours:,.1f}",
                        str(d.escalations),
                        str(d.sla_breaches),
                        f"{d.cost.total:,.2f}",
                    )
                    for d in report.by_department
                ),
            ]
        ),
        "",
        "Human wait in the inbox, by role",
        _columns(
            [
                ("role", "tasks", "p50", "p90", "hours"),
                *(
                    (
                        w.role,
                        str(w.tasks),
                        human_duration(w.p50_s),
                        human_duration(w.p90_s),
                        f"{w.hours:,.1f}",
                    )
                    for w in report.human_wait_by_role
                ),
            ]
        ),
        "",
        "AI overrides by model and confidence band",
        _columns(
            [
                ("model", "confidence", "answers", "reviewed", "overridden", "rate"),
                *(
                    (
                        o.model,
                        o.band,
                        str(o.answers),
                        str(o.reviewed),
                        str(o.overridden),
                        _percent(o.rate),
                    )
                    for o in report.ai_overrides
                ),
            ]
        ),
        "",
        "Automation candidates (a human step with the same outcome nearly always)",
        *(
            [
                f"  {c.process_type} / {c.activity}: {c.outcome} in {c.share:.1%} of "
                f"{c.decisions} decisions; {c.human_hours:,.1f} h of people, {c.cost:,.2f}"
                for c in report.automation_candidates
            ]
            or ["  none"]
        ),
        "",
        "Bottlenecks (where processes spent the most time)",
        *(
            f"  {b.process_type} / {b.activity} ({b.actor_kind}): {b.count} x, "
            f"mean {human_duration(b.mean_s)}, {b.hours:,.1f} h in all"
            for b in report.bottlenecks
        ),
    ]
    return "\n".join(parts)
