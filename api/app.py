"""The FastAPI application: one Temporal client and one database engine for its lifetime."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routers import health, me, processes, robot_jobs, tasks
from core.db import make_engine, prepare_database
from core.settings import Settings, get_settings
from core.signing import keyring
from core.temporal import connect


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.resolved_database_url)
        prepare_database(engine, settings)
        # Lazy: the API starts (and /health says why) even while Temporal is unreachable.
        app.state.temporal = await connect(settings, lazy=True)
        app.state.engine = engine
        app.state.settings = settings
        app.state.keyring = keyring(settings)  # signs the task actions it sends
        yield
        engine.dispose()

    app = FastAPI(
        title="Baton",
        version="0.1.0",
        description="Start business processes, answer human tasks and read live process state.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(me.router)
    app.include_router(robot_jobs.router)
    app.include_router(tasks.router)
    app.include_router(processes.router)
    return app
