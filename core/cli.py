"""The `baton` command line."""

import asyncio
import signal
from typing import Annotated

import typer

from core.logging import setup_logging
from core.settings import Settings, get_settings
from workflows.contracts.queues import TaskQueue
from workflows.contracts.roles import Role

app = typer.Typer(help="Baton: business processes across bots, AI and people, on Temporal.")
users = typer.Typer(help="Manage users and their API keys.")
app.add_typer(users, name="users")


def _settings() -> Settings:
    settings = get_settings()
    setup_logging(settings.log_level)
    return settings


@app.command()
def dev() -> None:
    """Start the embedded stack: Temporal, the sandbox, the workers and the API (Ctrl-C stops)."""
    from core.devstack import run_dev

    raise typer.Exit(run_dev(_settings()))


@app.command()
def worker(
    queue: Annotated[
        list[TaskQueue] | None,
        typer.Option(help="Task queue to serve; repeat for several. Default: all of them."),
    ] = None,
) -> None:
    """Run workers for the given task queues until SIGINT or SIGTERM."""
    from core.temporal import connect
    from workers.resources import worker_resources
    from workers.run import run_workers

    settings = _settings()
    queues = queue or list(TaskQueue)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with worker_resources(settings) as resources:
            client = await connect(settings)
            await run_workers(client, queues, resources, stop, settings.task_queue_prefix)

    asyncio.run(main())


@app.command()
def api() -> None:
    """Serve the HTTP API on BATON_API_HOST:BATON_API_PORT."""
    import uvicorn

    from api.app import create_app

    settings = _settings()
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port)


@app.command()
def systems(
    host: Annotated[str | None, typer.Option(help="Interface to bind; default from URL.")] = None,
) -> None:
    """Serve the enterprise-systems sandbox on the port of BATON_SYSTEMS_URL."""
    import uvicorn

    from systems.app import create_app

    settings = _settings()
    default_host, port = settings.systems_host_port
    app = create_app(settings.resolved_systems_database_url)
    uvicorn.run(app, host=host or default_host, port=port)


@users.command("add")
def users_add(
    name: str,
    role: Annotated[list[Role], typer.Option(help="A role; repeat for several.")],
) -> None:
    """Create a user and print their API key (shown only this once)."""
    from core.db import make_engine, prepare_database, session_scope
    from core.users import UserExistsError, add_user

    settings = _settings()
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
