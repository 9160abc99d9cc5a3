"""What activities need, made once per worker process and closed when it stops."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine

from activities.bots.http import build_http_client
from core.db import create_tables, make_engine
from core.settings import Settings


@dataclass(frozen=True)
class Resources:
    settings: Settings
    engine: Engine  # Baton's database: inbox, ledger, robot jobs
    http: httpx.AsyncClient  # the business systems the bots call
    ai_http: httpx.AsyncClient  # a remote AI service, without the systems' base URL or keys


@asynccontextmanager
async def worker_resources(settings: Settings) -> AsyncIterator[Resources]:
    engine = make_engine(settings.resolved_database_url)
    await asyncio.to_thread(create_tables, engine)  # the inbox worker may start before the API
    async with (
        build_http_client(settings) as http,
        httpx.AsyncClient(timeout=settings.ai_timeout_seconds) as ai_http,
    ):
        try:
            yield Resources(settings=settings, engine=engine, http=http, ai_http=ai_http)
        finally:
            engine.dispose()
