"""Per-endpoint counters behind GET /admin/stats: calls, writes, refused duplicates, faults."""

import threading
from collections import defaultdict

from pydantic import BaseModel


class EndpointStats(BaseModel):
    calls: int = 0
    writes: int = 0
    duplicates: int = 0  # writes refused because their Idempotency-Key was seen before
    faults: int = 0  # injected errors


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_endpoint: defaultdict[str, EndpointStats] = defaultdict(EndpointStats)

    def _bump(self, endpoint: str, counter: str) -> None:
        with self._lock:
            stats = self._by_endpoint[endpoint]
            setattr(stats, counter, getattr(stats, counter) + 1)

    def call(self, endpoint: str) -> None:
        self._bump(endpoint, "calls")

    def write(self, endpoint: str) -> None:
        self._bump(endpoint, "writes")

    def duplicate(self, endpoint: str) -> None:
        self._bump(endpoint, "duplicates")

    def fault(self, endpoint: str) -> None:
        self._bump(endpoint, "faults")

    def clear(self) -> None:
        with self._lock:
            self._by_endpoint.clear()

    def snapshot(self) -> dict[str, EndpointStats]:
        with self._lock:
            return {name: stats.model_copy() for name, stats in sorted(self._by_endpoint.items())}
