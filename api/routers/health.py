"""GET /health: is the API able to reach Temporal and its database? GET /metrics: Baton's own
metrics, for Prometheus."""

import asyncio
from typing import Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from api.deps import EngineDep, MetricsDep, SettingsDep, TemporalDep
from api.errors import responses
from core.db import ping

router = APIRouter(tags=["health"])

_TIMEOUT_S = 2.0


class ComponentHealth(BaseModel):
    status: Literal["ok", "down"]
    detail: str | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    temporal: ComponentHealth
    database: ComponentHealth


async def _temporal_health(temporal: TemporalDep, address: str) -> ComponentHealth:
    try:
        await asyncio.wait_for(temporal.client.service_client.check_health(), _TIMEOUT_S)
    except Exception as exc:
        return ComponentHealth(status="down", detail=f"{address}: {type(exc).__name__}: {exc}")
    return ComponentHealth(status="ok", detail=address)


async def _database_health(engine: EngineDep) -> ComponentHealth:
    try:
        await asyncio.wait_for(run_in_threadpool(ping, engine), _TIMEOUT_S)
    except Exception as exc:
        return ComponentHealth(status="down", detail=f"{type(exc).__name__}: {exc}")
    return ComponentHealth(status="ok", detail=engine.url.get_backend_name())


@router.get(
    "/health",
    response_model=Health,
    responses={
        503: {"model": Health, "description": "Temporal or the database is down"},
        **responses(500),
    },
)
async def health(
    temporal_dep: TemporalDep, engine: EngineDep, settings: SettingsDep
) -> JSONResponse:
    temporal, database = await asyncio.gather(
        _temporal_health(temporal_dep, settings.temporal_address), _database_health(engine)
    )
    ok = temporal.status == database.status == "ok"
    body = Health(status="ok" if ok else "degraded", temporal=temporal, database=database)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus' text format"},
        **responses(500),
    },
)
async def metrics(metrics: MetricsDep) -> Response:
    """Baton's own metrics for Prometheus: processes started and by status, open tasks by
    role and escalation level, decisions' round trips. (The workers serve theirs.)"""
    body = await run_in_threadpool(metrics.exposition)  # reads the database: off the loop
    return Response(body, media_type=CONTENT_TYPE_LATEST)
