"""The API's limits: how large a request body may be, and how fast one API key may call.

A body over the limit is refused 413 by its Content-Length before a byte is read, or, sent
without one (chunked), as soon as the bytes read pass the limit. Each API key has a token
bucket in the API process: `burst` requests at once, refilled at `rate` a second; an empty
bucket answers 429 with Retry-After.
"""

import math
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, envelope


def _too_large(limit: int) -> ApiError:
    message = f"the body is larger than {limit} bytes"
    return ApiError(413, "body_too_large", message, [{"field": "body", "message": message}])


class BodyLimit:
    """ASGI middleware: no request body over `max_bytes` is read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            error = _too_large(self.max_bytes)
            await envelope(413, error.code, error.message, error.details)(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _too_large(self.max_bytes)  # FastAPI lets HTTP errors through: 413
            return message

        await self.app(scope, counting_receive, send)


@dataclass
class _Bucket:
    tokens: float
    at: float  # time.monotonic() of the last refill


class RateLimiter:
    """A token bucket per key: `burst` requests at once, refilled at `rate` a second."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> None:
        """Spends one token of `key`'s bucket; raises 429 (with Retry-After) when it is empty."""
        now = time.monotonic()
        bucket = self._buckets.setdefault(key, _Bucket(self.burst, now))
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return
        wait = math.ceil((1 - bucket.tokens) / self.rate)
        raise ApiError(
            429,
            "rate_limited",
            f"more than {self.rate:g} requests a second (burst {self.burst}) with this API key",
            {"retry_after": wait},
            headers={"Retry-After": str(wait)},
        )
