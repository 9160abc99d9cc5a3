"""The HTTP plumbing every bot shares: one client per worker, idempotency keys, error mapping.

4xx answers are business errors: non-retryable `ApplicationError`s whose type is the system's
error code (`credit_limit_exceeded`, `unknown_sku`, ...), so a workflow can act on them.
5xx, 408, 429, timeouts and connection errors are retried by Temporal with backoff.
"""

from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.settings import Settings
from workflows.contracts.bots import Refusal

# Answers that say "try again later" rather than "this request is wrong".
_TRANSIENT = {408, 425, 429}


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    headers = {"User-Agent": "baton-bot"}
    if key := settings.systems_api_key.get_secret_value():
        headers["Authorization"] = f"Bearer {key}"
    return httpx.AsyncClient(
        base_url=settings.systems_url,
        headers=headers,
        timeout=httpx.Timeout(settings.bots_timeout_seconds, connect=5.0),
        limits=httpx.Limits(max_connections=settings.bots_robot_slots * 2),
    )


def idempotency_key() -> str:
    """Stable across the retries of one activity, distinct for every other step or run."""
    info = activity.info()
    return f"baton:{info.workflow_id}:{info.workflow_run_id}:{info.activity_id}"


class SystemsHTTP:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def get(self, path: str, **params: Any) -> Any:
        return await self._send("GET", path, params=params or None)

    async def write(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """A POST carrying this activity's idempotency key: a retry never writes twice."""
        headers = {"Idempotency-Key": idempotency_key()}
        return await self._send("POST", path, json=body or {}, headers=headers)

    async def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:  # timeouts, refused connections, resets
            raise ApplicationError(
                f"{method} {path}: {type(exc).__name__}: {exc}", type="SystemUnavailable"
            ) from exc
        if response.is_success:
            return response.json()
        raise _error_for(method, path, response)


def _error_for(method: str, path: str, response: httpx.Response) -> ApplicationError:
    status = response.status_code
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    if isinstance(error, dict):
        code = str(error.get("code") or f"http_{status}")
        message = str(error.get("message") or response.reason_phrase)
    else:
        code, message = f"http_{status}", response.text[:500]
    text = f"{method} {path} -> {status} {code}: {message}"
    if status >= 500 or status in _TRANSIENT:
        return ApplicationError(text, type="SystemUnavailable")
    refusal = Refusal(
        status=status, details=error.get("details") if isinstance(error, dict) else None
    )
    return ApplicationError(text, refusal.model_dump(), type=code, non_retryable=True)
