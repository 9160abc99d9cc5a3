"""Fault injection: chosen paths answer with errors or latency, for tests and demos.

Faults act before the endpoint runs (nothing changes) or after it (the change is made but the
caller sees an error, like a response lost on the network): the second is the case that only
idempotency keys make safe. A rule applies to every method unless `methods` narrows it; a read
faulted `after` fails before, as a read has nothing to lose.
"""

import asyncio
import fnmatch
import random
import threading
from typing import Literal

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from systems.stats import Stats


class FaultRule(BaseModel):
    path: str = Field(description="glob over the request path, e.g. /erp/*", examples=["/erp/*"])
    methods: list[str] = Field(
        default_factory=list,
        description='narrows the rule to these methods, e.g. ["POST"]; absent or [] = every method',
        examples=[["POST"]],
    )
    error_rate: float = Field(0.0, ge=0, le=1, description="share of matching calls that fail")
    status: int = Field(503, ge=400, le=599)
    latency_ms: int = Field(0, ge=0, le=60_000, description="added to every matching call")
    when: Literal["before", "after"] = "before"
    seed: int | None = Field(None, description="makes the failing calls reproducible")

    @field_validator("methods")
    @classmethod
    def _upper_case(cls, methods: list[str]) -> list[str]:
        return [method.upper() for method in methods]

    def matches(self, method: str, path: str) -> bool:
        return (not self.methods or method in self.methods) and fnmatch.fnmatch(path, self.path)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[tuple[FaultRule, random.Random]] = []

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append((rule, random.Random(rule.seed)))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return [rule for rule, _ in self._rules]

    def pick(self, method: str, path: str) -> tuple[FaultRule | None, bool]:
        """The first rule matching the call, and whether this call fails."""
        with self._lock:
            for rule, rng in self._rules:
                if rule.matches(method, path):
                    return rule, rng.random() < rule.error_rate
        return None, False


class FaultInjected(Exception):
    def __init__(self, rule: FaultRule) -> None:
        super().__init__(f"fault injected on {rule.path}")
        self.rule = rule

    def response(self) -> JSONResponse:
        body = {"error": {"code": "injected_fault", "message": str(self), "details": None}}
        return JSONResponse(body, status_code=self.rule.status)


def endpoint_of(request: Request) -> str:
    """The route template, e.g. `POST /erp/reservations/{reservation_id}/release`."""
    return f"{request.method} {request.scope['route'].path}"


async def inject_faults(request: Request) -> None:
    """Router dependency: counts the call and applies the first matching fault rule.

    A fault `after` the change is raised by the writer once the change is committed.
    """
    faults: Faults = request.app.state.faults
    stats: Stats = request.app.state.store.stats
    endpoint = endpoint_of(request)
    stats.call(endpoint)
    rule, fails = faults.pick(request.method, request.url.path)
    if rule and rule.latency_ms:
        await asyncio.sleep(rule.latency_ms / 1000)
    if rule is None or not fails:
        return
    if rule.when == "after" and request.method != "GET":
        request.state.fault_after = rule
        return
    stats.fault(endpoint)
    raise FaultInjected(rule)
