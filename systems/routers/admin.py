"""Admin: fault injection, per-endpoint stats, and a reset to the seed data."""

from fastapi import APIRouter, Request
from pydantic import BaseModel

from systems.deps import StoreDep
from systems.faults import FaultRule, Faults
from systems.stats import EndpointStats

router = APIRouter(prefix="/admin", tags=["admin"])


class StatsOut(BaseModel):
    endpoints: dict[str, EndpointStats]
    totals: EndpointStats


def _faults(request: Request) -> Faults:
    faults: Faults = request.app.state.faults
    return faults


@router.get("/stats")
def stats(store: StoreDep) -> StatsOut:
    endpoints = store.stats.snapshot()
    totals = EndpointStats(
        **{
            field: sum(getattr(entry, field) for entry in endpoints.values())
            for field in EndpointStats.model_fields
        }
    )
    return StatsOut(endpoints=endpoints, totals=totals)


@router.get("/faults")
def list_faults(request: Request) -> list[FaultRule]:
    return _faults(request).rules()


@router.post("/faults", status_code=201)
def add_fault(rule: FaultRule, request: Request) -> FaultRule:
    """Adds a rule; the first rule matching a call applies. Without `methods` it applies to
    every method: `{"path": "/erp/*", "error_rate": 0.3}` fails reads and writes alike."""
    _faults(request).add(rule)
    return rule


@router.delete("/faults", status_code=204)
def clear_faults(request: Request) -> None:
    _faults(request).clear()


@router.post("/reset", status_code=204)
def reset(store: StoreDep, request: Request) -> None:
    """Seed data back, stats and faults cleared: a clean sandbox for the next demo or test."""
    _faults(request).clear()
    store.reset()
