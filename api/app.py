"""The FastAPI application: one Temporal client and one database engine for its lifetime."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import workspace
from api.errors import REQUEST_ID, install_error_handlers
from api.limits import BodyLimit, RateLimiter
from api.routers import events, health, insight, me, processes, robot_jobs, schedules, tasks
from api.temporal import Temporal
from core.db import make_engine, prepare_database
from core.metrics import ApiMetrics
from core.settings import Settings, get_settings
from core.signing import signer
from core.temporal import connect


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings.resolved_database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        prepare_database(engine, settings)
        # Lazy: the API starts (and /health says why) even while Temporal is unreachable.
        app.state.temporal = Temporal(
            await connect(settings, lazy=True),
            timeout=settings.api_temporal_timeout_seconds,
            query_timeout=settings.api_query_timeout_seconds,
        )
        app.state.rate_limiter = RateLimiter(settings.api_rate_per_second, settings.api_rate_burst)
        app.state.engine = engine
        app.state.metrics = ApiMetrics(engine)
        app.state.settings = settings
        app.state.signer = signer(settings)  # signs the task actions it sends
        yield
        engine.dispose()

    app = FastAPI(
        title="Baton",
        version="0.1.0",
        description=(
            "Start business processes, answer human tasks and read live process state. Every "
            "`/v1` call sends `Authorization: Bearer <key>`; errors are "
            '`{"error": {"code", "message", "details"}}`; every response carries '
            f"`{REQUEST_ID}`."
        ),
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    install_error_handlers(app)  # after BodyLimit: its request ids wrap everything
    app.include_router(health.router)
    app.include_router(me.router)
    app.include_router(robot_jobs.router)
    app.include_router(tasks.router)
    app.include_router(tasks.bulk_router)
    app.include_router(processes.router)
    app.include_router(insight.router)
    app.include_router(events.router)
    app.include_router(schedules.router)
    app.include_router(workspace.router)
    app.mount(workspace.STATIC_PATH, workspace.static, name="static")
    return app
