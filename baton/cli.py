"""The `baton` command line."""

import asyncio
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from baton import ai_cli, insight_cli, processes_cli, schedules_cli
from core.logging import command_settings
from core.tracing import configure as configure_tracing
from workflows.contracts.queues import TaskQueue
from workflows.contracts.roles import Role

app = typer.Typer(help="Baton: business processes across bots, AI and people, on Temporal.")
users = typer.Typer(help="Manage users and their API keys.")
app.add_typer(users, name="users")
tasks = typer.Typer(help="Act on human tasks as an operator, signed like the API's actions.")
app.add_typer(tasks, name="tasks")
ledger = typer.Typer(help="The decision ledger: who or what decided, and proof it is unchanged.")
app.add_typer(ledger, name="ledger")
app.add_typer(insight_cli.app, name="insight")
app.add_typer(ai_cli.app, name="ai")
app.add_typer(processes_cli.app, name="processes")
app.add_typer(schedules_cli.app, name="schedules")
db = typer.Typer(help="Baton's own database: its schema's migrations.")
app.add_typer(db, name="db")


@app.command()
def dev() -> None:
    """Start the embedded stack: Temporal, the sandbox, the workers and the API (Ctrl-C stops)."""
    from baton.devstack import run_dev

    raise typer.Exit(run_dev(command_settings()))


@app.command()
def worker(
    queue: Annotated[
        list[TaskQueue] | None,
        typer.Option(help="Task queue to serve; repeat for several. Default: all of them."),
    ] = None,
) -> None:
    """Run workers for the given task queues until SIGINT or SIGTERM."""
    from core.temporal import connect
    from workers.metrics import metrics_runtime
    from workers.resources import worker_resources
    from workers.run import run_workers

    settings = command_settings()
    configure_tracing(settings, "baton-worker")
    queues = queue or list(TaskQueue)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with worker_resources(settings) as resources:
            client = await connect(settings, runtime=metrics_runtime(settings))
            await run_workers(client, queues, resources, stop, settings.task_queue_prefix)

    asyncio.run(main())


@app.command()
def api() -> None:
    """Serve the HTTP API on BATON_API_HOST:BATON_API_PORT."""
    import uvicorn

    from api.app import create_app

    settings = command_settings()
    configure_tracing(settings, "baton-api")
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        access_log=settings.log_level == "DEBUG",  # a line per request costs at load
    )


@app.command()
def systems(
    host: Annotated[str | None, typer.Option(help="Interface to bind; default from URL.")] = None,
) -> None:
    """Serve the enterprise-systems sandbox on the port of BATON_SYSTEMS_URL."""
    import uvicorn

    from systems.app import create_app

    settings = command_settings()
    default_host, port = settings.systems_host_port
    app = create_app(settings.resolved_systems_database_url)
    uvicorn.run(app, host=host or default_host, port=port, access_log=settings.log_level == "DEBUG")


@app.command("codec-server")
def codec_server(
    host: Annotated[str | None, typer.Option(help="Interface to bind; default API host.")] = None,
) -> None:
    """Serve the codec server on BATON_CODEC_PORT: the Temporal UI shows sealed payloads
    decoded to signed-in people (API key or sign-in at its page)."""
    import uvicorn

    from api.codec_server import create_codec_app

    settings = command_settings()
    uvicorn.run(
        create_codec_app(settings),
        host=host or settings.api_host,
        port=settings.codec_port,
        access_log=settings.log_level == "DEBUG",
    )


@app.command()
def start(
    process_type: str,
    input_file: Annotated[Path, typer.Option("--input", help="The process input as JSON.")],
    user: Annotated[str, typer.Option(help="Who requests it (four-eyes counts it).")] = "cli",
    idempotency_key: Annotated[str | None, typer.Option(help="Start it once per key.")] = None,
) -> None:
    """Start a process straight through Temporal, as the API would."""
    from pydantic import ValidationError

    from core.processes import IdempotencyKeyReused, start_process
    from core.temporal import connect
    from workflows.contracts.catalogue import PROCESS_TYPES

    settings = command_settings()
    ptype = PROCESS_TYPES.get(process_type)
    if ptype is None:
        typer.echo(
            f"error: no process type {process_type!r}; known: {sorted(PROCESS_TYPES)}", err=True
        )
        raise typer.Exit(2)
    try:
        process_input = ptype.input_model.model_validate_json(input_file.read_text())
    except (OSError, ValidationError) as exc:
        typer.echo(f"error: {input_file}: {exc}", err=True)
        raise typer.Exit(2) from None

    async def main() -> None:
        client = await connect(settings)
        try:
            started = await start_process(
                client, settings, ptype, process_input, user, idempotency_key
            )
        except IdempotencyKeyReused as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"{'started' if started.created else 'already running'}: {started.process_id}")

    asyncio.run(main())


# What a deploy carries over: the processes and human tasks still running.
RUNNING = "ExecutionStatus = 'Running' AND BatonProcessType IS NOT NULL"


@app.command()
def replay(
    workflow_id: Annotated[
        str | None, typer.Argument(help="Fetch this run from Temporal (or name the file's run).")
    ] = None,
    history: Annotated[Path | None, typer.Option(help="A saved history (JSON).")] = None,
    query: Annotated[
        str | None,
        typer.Option(help="Replay every run this visibility query finds, e.g. one type's."),
    ] = None,
    running: Annotated[
        bool, typer.Option("--running", help="Replay every running process and task.")
    ] = False,
) -> None:
    """Replay runs against today's code and say whether they are still deterministic: one run,
    a saved history, or (before a deploy) every run a query finds; exits 1 naming each that
    would break."""
    from core.replay import ReplayOutcome, fetch_history, load_history, replay_query
    from core.replay import replay as replay_history
    from core.temporal import connect
    from workers.registry import PROCESS_WORKFLOWS

    chosen = [workflow_id is not None or history is not None, query is not None, running]
    if sum(chosen) != 1:
        typer.echo(
            "error: give one of a WORKFLOW_ID or --history FILE.json, --query or --running",
            err=True,
        )
        raise typer.Exit(2)
    settings = command_settings()

    def say(outcome: ReplayOutcome) -> None:
        if outcome.deterministic:
            typer.echo(f"deterministic: {outcome.workflow_type} {outcome.workflow_id}")
        else:
            typer.echo(
                f"NOT deterministic: {outcome.workflow_type} {outcome.workflow_id}\n{outcome.error}"
            )

    async def one() -> bool:
        if history is not None:  # a WORKFLOW_ID given too names the run in the file
            events = load_history(history, workflow_id)
        else:
            assert workflow_id is not None
            events = await fetch_history(await connect(settings), workflow_id)
        outcome = await replay_history(events, PROCESS_WORKFLOWS)
        say(outcome)
        return outcome.deterministic

    async def every(visibility_query: str) -> bool:
        client = await connect(settings)
        total = (await client.count_workflows(visibility_query)).count
        broken: list[ReplayOutcome] = []
        with typer.progressbar(length=total, label="replaying", file=sys.stderr) as bar:
            async for outcome in replay_query(client, visibility_query, PROCESS_WORKFLOWS):
                bar.update(1)
                if not outcome.deterministic:
                    broken.append(outcome)
        for outcome in broken:
            say(outcome)
        typer.echo(
            f"{total} runs replayed: {total - len(broken)} deterministic, {len(broken)} would break"
        )
        return not broken

    work = one() if chosen[0] else every(query or RUNNING)
    raise typer.Exit(0 if asyncio.run(work) else 1)


@db.command("upgrade")
def db_upgrade() -> None:
    """Bring the database to the newest schema (`baton dev` and `baton setup` do it first)."""
    from core import migrations
    from core.db import make_engine

    settings = command_settings()
    engine = make_engine(settings.resolved_database_url)
    applied = migrations.upgrade(engine)
    typer.echo(f"applied {', '.join(applied)}" if applied else "nothing to apply")
    typer.echo(f"at {migrations.current(engine)} (head {migrations.head()})")


@db.command("current")
def db_current() -> None:
    """Say which revision the database is at; exit 1 when it is behind the code's head."""
    from core import migrations
    from core.db import make_engine

    settings = command_settings()
    at, head = migrations.current(make_engine(settings.resolved_database_url)), migrations.head()
    typer.echo(f"at {at or 'nothing (run baton db upgrade)'} (head {head})")
    raise typer.Exit(0 if at == head else 1)


@app.command()
def setup(
    timeout: Annotated[
        float, typer.Option(min=0, help="Seconds to wait, in all, for Temporal to be ready.")
    ] = 120.0,
) -> None:
    """Prepare a deployment once: Baton's search attributes in Temporal, then its database.

    Registers the attributes of workflows/contracts/search_attributes.py that the namespace
    lacks and waits until the server lists them all, then creates missing tables (and, in dev,
    the demo users). Waits for Temporal while it is not reachable yet. Safe to run again.
    """
    from collections.abc import Awaitable, Callable
    from typing import TypeVar

    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
    from temporalio.client import Client
    from temporalio.service import RPCError, RPCStatusCode

    from core.db import make_engine, prepare_database
    from core.temporal import connect, ensure_search_attributes
    from workflows.contracts.search_attributes import SEARCH_ATTRIBUTES

    settings = command_settings()
    temporal = f"Temporal at {settings.temporal_address}, namespace {settings.temporal_namespace}"
    names = sorted(key.name for key in SEARCH_ATTRIBUTES)
    # Worth another try: the server is starting, or a namespace created a moment ago is not
    # visible to every service yet. Anything else (a wrong type, no permission) fails at once.
    transient = {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.NOT_FOUND,
        RPCStatusCode.ALREADY_EXISTS,  # another setup registered it just now
        RPCStatusCode.ABORTED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.UNKNOWN,
        RPCStatusCode.INTERNAL,
    }
    T = TypeVar("T")

    class NotYet(Exception):
        pass

    async def main() -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def until(what: str, attempt: Callable[[], Awaitable[T]]) -> T:
            """`attempt()`, retried every 2 s while it fails transiently, up to `timeout`."""
            while True:
                try:
                    return await asyncio.wait_for(attempt(), 10)
                except (RuntimeError, TimeoutError, NotYet, RPCError) as exc:
                    if isinstance(exc, RPCError) and exc.status not in transient:
                        typer.echo(f"error: {what}: {exc}", err=True)
                        raise typer.Exit(1) from None
                    reason = str(exc) or type(exc).__name__
                    waited = loop.time() - started
                    if waited >= timeout:
                        typer.echo(
                            f"error: gave up waiting for {what} after {waited:.0f} s: {reason}",
                            err=True,
                        )
                        raise typer.Exit(1) from None
                    typer.echo(f"waiting for {what} ({waited:.0f}/{timeout:.0f} s): {reason}")
                    await asyncio.sleep(2)

        client: Client = await until(temporal, lambda: connect(settings))
        added = await until(
            f"search attributes to be registered in {temporal}",
            lambda: ensure_search_attributes(client),
        )
        if added:
            typer.echo(f"search attributes added: {', '.join(added)}")
        else:
            typer.echo(f"search attributes: all {len(names)} already registered")

        async def all_listed() -> None:
            listed = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=client.namespace)
            )
            missing = [name for name in names if name not in listed.custom_attributes]
            if missing:
                raise NotYet(f"not listed yet: {', '.join(missing)}")

        # Workers must never upsert an attribute the server does not know yet.
        await until(f"{temporal} to list every search attribute", all_listed)
        typer.echo(f"search attributes listed by Temporal: {', '.join(names)}")

    asyncio.run(main())
    engine = make_engine(settings.resolved_database_url)
    try:
        prepare_database(engine, settings)
    finally:
        engine.dispose()
    typer.echo(f"database ready: {engine.url.render_as_string(hide_password=True)}")


@users.command("add")
def users_add(
    name: str,
    role: Annotated[list[Role], typer.Option(help="A role; repeat for several.")],
) -> None:
    """Create a user and print their API key (shown only this once)."""
    from core.db import make_engine, prepare_database, session_scope
    from core.users import UserExistsError, add_user

    settings = command_settings()
    engine = make_engine(settings.resolved_database_url)
    prepare_database(engine, settings)
    try:
        with session_scope(engine) as session:
            key = add_user(session, name, role)
    except UserExistsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created {name} ({', '.join(r.value for r in role)}); API key (shown once):")
    typer.echo(key)


@tasks.command("decide")
def tasks_decide(
    task_id: str,
    user: Annotated[str, typer.Option("--as", help="The person who decides (their roles count).")],
    outcome: Annotated[str, typer.Option(help="One of the task's outcomes, e.g. approve.")],
    comment: Annotated[str, typer.Option(help="Why; some outcomes require it.")] = "",
    data: Annotated[str, typer.Option(help="The form's data as a JSON object.")] = "{}",
) -> None:
    """Decide a task as USER, straight through Temporal: the action is signed with Baton's key,
    and the task checks it as it checks the API's (roles, four-eyes, form)."""
    import json
    import uuid

    from temporalio.service import RPCError

    from core.signing import signer
    from core.task_actions import NoVerdictYet, send_action
    from core.temporal import connect
    from workflows.contracts.tasks import ActionKind, TaskAction

    try:
        fields = json.loads(data)
    except json.JSONDecodeError as exc:
        typer.echo(f"error: --data: not JSON: {exc}", err=True)
        raise typer.Exit(2) from None
    if not isinstance(fields, dict):
        typer.echo("error: --data: expected a JSON object", err=True)
        raise typer.Exit(2)
    settings = command_settings()
    action = TaskAction(
        action_id=f"cli:{uuid.uuid4()}",
        kind=ActionKind.DECIDE,
        user=user,
        outcome=outcome,
        comment=comment,
        data=fields,
    )

    async def main() -> bool:
        client = await connect(settings)
        try:
            verdict = await send_action(client, signer(settings), task_id, action)
        except NoVerdictYet as exc:
            typer.echo(f"no answer yet: {exc}; see `GET /v1/tasks/{task_id}`", err=True)
            return False
        except RPCError as exc:  # no such task, or it has closed
            typer.echo(f"error: task {task_id}: {exc.message}", err=True)
            return False
        if verdict.applied:
            typer.echo(f"applied: {outcome} by {user}")
        else:
            typer.echo(f"refused ({verdict.status}): {verdict.reason}", err=True)
        return verdict.applied

    raise typer.Exit(0 if asyncio.run(main()) else 1)


@app.command()
def simulate(
    days: Annotated[int, typer.Option(help="Business days the month holds.")] = 30,
    orders: Annotated[int, typer.Option(help="Orders that arrive in them.")] = 600,
    invoices: Annotated[int, typer.Option(help="Invoices that arrive in them.")] = 300,
    seed: Annotated[int, typer.Option(help="The same seed, the same month.")] = 7,
    minutes: Annotated[
        float, typer.Option(help="Wall-clock minutes the month is compressed into.")
    ] = 10.0,
    fault_rate: Annotated[
        float, typer.Option(help="Share of the sandbox's answers that fail (503) meanwhile.")
    ] = 0.02,
) -> None:
    """Drive a month of business through the running stack (`make run`): orders and invoices
    of every kind, simulated people who decide after realistic delays, faults at a small rate;
    every duration compressed so it runs in minutes. Then `baton insight` has figures."""
    from baton.simulate import Plan, StackNotRunning, run

    try:
        plan = Plan(
            days=days,
            orders=orders,
            invoices=invoices,
            seed=seed,
            minutes=minutes,
            fault_rate=fault_rate,
        )
        report = run(plan, command_settings())
    except (StackNotRunning, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(report.summary())
    raise typer.Exit(1 if report.timed_out or report.start_errors else 0)


@ledger.command("verify")
def ledger_verify(
    process: Annotated[
        str | None, typer.Option("--process", help="Check this process only (its process id).")
    ] = None,
) -> None:
    """Recompute the ledger's hash chains: print every row changed or removed (exit 1), or
    "ledger intact: N rows in M processes". Rows written before the chain are counted apart."""
    from core.db import create_tables, make_engine, session_scope
    from core.ledger import verify

    settings = command_settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        create_tables(engine)  # an earlier version's ledger gets the chain's columns, as at start
        with session_scope(engine) as session:
            result = verify(session, process)
    finally:
        engine.dispose()
    for problem in result.problems:
        typer.echo(problem)
    typer.echo(result.summary())
    raise typer.Exit(0 if result.intact else 1)
