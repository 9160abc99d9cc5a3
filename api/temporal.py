"""Every call the API makes to Temporal goes through `Temporal.call`: bounded in time, and a
Temporal that cannot be reached (refused, silent, or too slow) is 503 `temporal_unavailable`;
a query no worker answers (the workers are down) is 503 `workers_unavailable`.

The client retries an unreachable server for many seconds and its RPC timeout does not bound
the retries, so the bound is the API's own (BATON_API_TEMPORAL_TIMEOUT_SECONDS; queries, which
a worker answers, BATON_API_QUERY_TIMEOUT_SECONDS).
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from api.live_states import LiveStates

T = TypeVar("T")

# An RPC timeout ends the call as DEADLINE_EXCEEDED, or CANCELLED ("Timeout expired").
_TIMED_OUT = (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)


def unavailable(reason: str) -> ApiError:
    return ApiError(503, "temporal_unavailable", f"Temporal is unavailable: {reason}")


def workers_down(reason: str) -> ApiError:
    return ApiError(503, "workers_unavailable", f"no worker answers (down?): {reason}")


def _timed_out(bound: float, query: bool) -> ApiError:
    if query:  # the frontend has answered this request before: a worker is missing
        return workers_down(f"no answer within {bound:g} s")
    return unavailable(f"no answer within {bound:g} s")


def is_closed_or_missing(exc: RPCError) -> bool:
    """What Temporal says to a signal or cancel for a run that has ended or never was."""
    return exc.status is RPCStatusCode.NOT_FOUND or "already completed" in exc.message


@dataclass(frozen=True)
class Temporal:
    client: Client
    timeout: float  # seconds: one call to Temporal's frontend
    query_timeout: float  # seconds: one query, which a worker answers
    states: LiveStates = field(default_factory=LiveStates)  # processes' states, as last read

    @property
    def rpc_timeout(self) -> timedelta:
        return timedelta(seconds=self.timeout)

    @property
    def query_rpc_timeout(self) -> timedelta:
        return timedelta(seconds=self.query_timeout)

    async def call(
        self,
        awaitable: Awaitable[T],
        *,
        query: bool = False,
        late: Callable[[], ApiError] | None = None,
    ) -> T:
        """Awaits one call to Temporal within its bound; 503 when Temporal cannot answer, or
        `late` when the call's bound passes (for calls that may still take effect)."""
        bound = self.query_timeout if query else self.timeout
        try:
            return await asyncio.wait_for(awaitable, bound)
        except TimeoutError:
            raise late() if late else _timed_out(bound, query) from None
        except RPCError as exc:
            if exc.status in _TIMED_OUT:
                raise late() if late else _timed_out(bound, query) from exc
            if exc.status is RPCStatusCode.UNAVAILABLE:
                raise unavailable(exc.message) from exc
            if exc.status is RPCStatusCode.FAILED_PRECONDITION and "no poller" in exc.message:
                raise workers_down(exc.message) from exc
            raise
        except RuntimeError as exc:  # the lazy client's first connection failed
            if "connect" not in str(exc):
                raise
            raise unavailable(str(exc)) from exc

    async def answer(self, awaitable: Awaitable[T], *, late: Callable[[], ApiError]) -> T:
        """Awaits a call a worker answers (an update): 503 as soon as Temporal's frontend has
        not answered within its bound, `late` when the worker has not within a query's."""
        answering = asyncio.ensure_future(self.call(awaitable, query=True, late=late))
        done, _ = await asyncio.wait({answering}, timeout=self.timeout)
        if not done:  # slow: is it the worker, or Temporal itself?
            try:
                health = self.client.service_client.check_health(timeout=self.rpc_timeout)
                await self.call(health)
            except BaseException:
                answering.cancel()
                raise
        return await answering
