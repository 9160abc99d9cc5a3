"""The API's limits and its answers under faults: body size, rate per key, page sizes, page
tokens, request ids, unexpected errors, an unreachable Temporal, and a crowd on one task.

Tests never assert on wall-clock time: where an answer must come quickly, the client's timeout
bounds the wait (generously) and the test asserts the status.
"""

import asyncio
import base64
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from api.app import create_app
from api.routers import tasks as tasks_router
from core.db import make_engine, session_scope
from core.inbox import write_task
from core.settings import Settings
from tests.approvals import approval_record
from tests.helpers import (
    ALICE,
    BOB,
    DAVE,
    DEADLINE_S,
    ERIN,
    FAST_POLICY,
    Stack,
    open_task,
    serve,
    start,
    until,
    wait_for,
)
from workflows.contracts import search_attributes as search
from workflows.contracts.orders import ORDER_FULFILLMENT
from workflows.contracts.tasks import TASK_WORKFLOW

ORDER = ORDER_FULFILLMENT.name
SMALL = {"customer_id": "C-1001", "lines": [{"sku": "WID-100", "quantity": 2}]}
LARGE = {"customer_id": "C-1005", "lines": [{"sku": "PMP-410", "quantity": 20}]}
BOUND_S = 10.0  # far above the 2 s the API promises; only a hang would reach it


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@asynccontextmanager
async def api_with(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The API over HTTP with some settings changed, and a client for it."""
    app = create_app(settings.model_copy(update=changes))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=BOUND_S) as http:
        yield http


# -- body size ---------------------------------------------------------------------------------


async def test_a_declared_huge_body_is_refused_before_it_is_read(settings: Settings) -> None:
    # 50 MB announced; not one byte of it sent: the answer must not wait for the body.
    async with api_with(settings) as http:
        host, port = http.base_url.host, http.base_url.port
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            b"POST /v1/processes/order-fulfillment HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer dev-alice\r\nContent-Type: application/json\r\n"
            b"Content-Length: 52428800\r\n\r\n"
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), BOUND_S)
        writer.close()
    status_line, *headers = head.decode().split("\r\n")
    assert status_line.split()[1] == "413"
    assert any(h.lower().startswith("x-request-id:") for h in headers)


async def test_a_streamed_body_over_the_limit_is_413_in_the_envelope(settings: Settings) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        yield b'{"customer_id": "C-1001", "message": "'
        for _ in range(8):
            yield b"x" * 1024
        yield b'"}'

    async with api_with(settings, api_max_body_bytes=4096) as http:
        response = await http.post(
            "/v1/processes/order-fulfillment", content=chunks(), headers=auth(ALICE)
        )
        small = await http.post("/v1/processes/nope", json={}, headers=auth(ALICE))
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "body_too_large"
    assert error["details"] == [{"field": "body", "message": "the body is larger than 4096 bytes"}]
    assert small.status_code == 404  # a body within the limit is read as usual


# -- rate per key ------------------------------------------------------------------------------


async def test_a_key_over_its_rate_gets_429_with_retry_after(settings: Settings) -> None:
    async with api_with(settings, api_rate_per_second=0.5, api_rate_burst=3) as http:
        answers = [(await http.get("/v1/me", headers=auth(ALICE))).status_code for _ in range(4)]
        limited = await http.get("/v1/me", headers=auth(ALICE))
        other_key = await http.get("/v1/me", headers=auth(BOB))
    assert answers == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
    assert other_key.status_code == 200  # a bucket per key


# -- page sizes and page tokens ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/processes", {"page_size": "201"}, "query.page_size"),
        ("/v1/tasks", {"limit": "201"}, "query.limit"),
        ("/v1/robot-jobs", {"pool": "p", "limit": "101"}, "query.limit"),
        ("/v1/processes", {"next_page": "not base64 at all!"}, "query.next_page"),
        ("/v1/processes", {"next_page": "null"}, "query.next_page"),
        # Well-formed base64, but not a token this API gave (Temporal would refuse it).
        ("/v1/processes", {"next_page": base64.urlsafe_b64encode(b"x" * 40).decode()}, ""),
        ("/v1/processes", {"business_key": "SO-1' OR 1=1"}, "query.business_key"),
    ],
)
async def test_bad_paging_and_filters_are_422_naming_the_field(
    api: httpx.AsyncClient, path: str, params: dict[str, str], field: str
) -> None:
    response = await api.get(path, params=params, headers=auth(ERIN))
    assert response.status_code == 422, response.text
    fields = [detail["field"] for detail in response.json()["error"]["details"]]
    assert fields == [field or "query.next_page"]


async def test_pages_follow_one_another(stack: Stack) -> None:
    ours = {await start(stack, ORDER, SMALL, key=ALICE) for _ in range(3)}

    async def page(params: dict[str, str]) -> dict[str, Any]:
        response = await stack.api.get("/v1/processes", params=params, headers=auth(ERIN))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def all_visible() -> bool:  # visibility lags a moment behind a start
        return ours <= {item["process_id"] for item in (await page({"page_size": "200"}))["items"]}

    await wait_for(all_visible, "the processes to be listed")
    seen: list[str] = []
    params = {"page_size": "1"}
    while not ours <= set(seen):  # newest first: ours come first, one page each
        listed = await page(params)
        seen += [item["process_id"] for item in listed["items"]]
        assert listed["next_page"], f"no page after {seen}"
        params["next_page"] = listed["next_page"]
    assert len(seen) == len(set(seen)), f"a process on two pages: {seen}"


# -- request ids and unexpected errors ---------------------------------------------------------


async def test_every_response_carries_a_request_id(api: httpx.AsyncClient) -> None:
    own = await api.get("/health", headers={"X-Request-ID": "trace-4711"})
    fresh = await api.get("/v1/me")
    assert own.headers["X-Request-ID"] == "trace-4711"
    assert len(fresh.headers["X-Request-ID"]) == 32
    assert fresh.status_code == 401


async def test_an_unexpected_error_is_500_in_the_envelope_and_logged(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app: FastAPI = create_app(settings)

    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("the kind of bug nobody expects")

    caplog.set_level(logging.ERROR, logger="baton.api")
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.get("/v1/boom")
    assert response.status_code == 500
    request_id = response.headers["X-Request-ID"]
    assert response.json()["error"] == {
        "code": "internal_error",
        "message": f"an unexpected error; the logs have it under request id {request_id}",
        "details": {"request_id": request_id},
    }
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged, "the traceback is logged under the request id"
    assert logged[0].exc_info
    assert "nobody expects" in str(logged[0].exc_info[1])


# -- Temporal unreachable ----------------------------------------------------------------------


@contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung or firewalled server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def a_task_in_the_inbox(settings: Settings, task_id: str) -> None:
    record = approval_record(task_id)
    engine = make_engine(settings.resolved_database_url)
    with session_scope(engine) as session:
        write_task(session, record)
    engine.dispose()


@pytest.mark.parametrize("temporal", ["refused", "silent"])
async def test_every_call_that_needs_temporal_is_503_while_it_is_unreachable(
    settings: Settings, temporal: str
) -> None:
    process_id, task_id = "order-fulfillment:SO-1", "order-fulfillment:SO-1:task:approval"
    with silent_port() as silent:
        port = silent if temporal == "silent" else 1  # nothing listens on port 1
        async with api_with(settings, temporal_address=f"127.0.0.1:{port}") as http:
            a_task_in_the_inbox(settings, task_id)
            calls = {
                "start": http.post(f"/v1/processes/{ORDER}", json=SMALL, headers=auth(ALICE)),
                "read": http.get(f"/v1/processes/{process_id}", headers=auth(ALICE)),
                "list": http.get("/v1/processes", headers=auth(ALICE)),
                "cancel": http.post(f"/v1/processes/{process_id}/cancel", headers=auth(ALICE)),
                "decide": http.post(
                    f"/v1/tasks/{task_id}/decision", json={"outcome": "approve"}, headers=auth(BOB)
                ),
                "decide again": http.post(
                    f"/v1/tasks/{task_id}/claim",
                    headers={**auth(BOB), "Idempotency-Key": "click-1"},
                ),
            }
            answers = dict(zip(calls, await asyncio.gather(*calls.values()), strict=True))
    unexpected = {
        name: (r.status_code, r.text)
        for name, r in answers.items()
        if r.status_code != 503 or r.json()["error"]["code"] != "temporal_unavailable"
    }
    assert not unexpected


async def test_a_process_no_worker_runs_is_503_then_what_temporal_knows(
    settings: Settings, client: Client
) -> None:
    process_id = f"{ORDER}:SO-{uuid.uuid4().hex[:10].upper()}"
    await client.start_workflow(
        "OrderFulfillment",
        id=process_id,
        task_queue=f"nobody-polls-{uuid.uuid4().hex[:8]}",
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(search.PROCESS_TYPE, ORDER),
                SearchAttributePair(search.REQUESTED_BY, "alice"),
            ]
        ),
    )
    async with api_with(settings, api_query_timeout_seconds=1.0) as http:
        response = await http.get(f"/v1/processes/{process_id}", headers=auth(ALICE))
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "workers_unavailable"
        # Ended before any worker ran it: no state to query, but Temporal's description.
        await client.get_workflow_handle(process_id).terminate()
        ended = await http.get(f"/v1/processes/{process_id}", headers=auth(ALICE))
        cancel = await http.post(f"/v1/processes/{process_id}/cancel", headers=auth(ALICE))
    assert ended.status_code == 200, ended.text
    assert (ended.json()["status"], ended.json()["process_type"]) == ("failed", ORDER)
    assert cancel.status_code == 409, cancel.text


async def test_a_decision_no_worker_answers_is_504_not_applied_yet(
    settings: Settings, client: Client
) -> None:
    task_id = f"{ORDER}:SO-{uuid.uuid4().hex[:10].upper()}:task:approval"
    await client.start_workflow(
        TASK_WORKFLOW, id=task_id, task_queue=f"nobody-polls-{uuid.uuid4().hex[:8]}"
    )
    async with api_with(settings, api_query_timeout_seconds=1.0) as http:
        a_task_in_the_inbox(settings, task_id)
        response = await http.post(
            f"/v1/tasks/{task_id}/decision", json={"outcome": "approve"}, headers=auth(BOB)
        )
    await client.get_workflow_handle(task_id).terminate()
    assert response.status_code == 504, response.text
    assert response.json()["error"]["code"] == "not_applied_yet"


# -- an update that got no answer in time --------------------------------------------------


async def _an_open_approval(stack: Stack) -> tuple[str, str]:
    """A large order waiting for an hour-long approval: its process and task ids."""
    stack.set_policy(
        ORDER_FULFILLMENT,
        FAST_POLICY.model_copy(
            update={"approval_due": timedelta(hours=1), "approval_expires": timedelta(hours=2)}
        ),
    )
    process_id = await start(stack, ORDER, LARGE, key=ALICE)
    return process_id, await open_task(stack, process_id, BOB)


@asynccontextmanager
async def _decisions(
    app: FastAPI, task_id: str
) -> AsyncIterator[Callable[[str], Awaitable[httpx.Response]]]:
    """Serves `app`; yields what posts an approval of the task with a key."""
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:

        def decide(key: str) -> Awaitable[httpx.Response]:
            return http.post(
                f"/v1/tasks/{task_id}/decision", json={"outcome": "approve"}, headers=auth(key)
            )

        yield decide


async def test_a_decision_answered_late_is_read_back_from_the_closed_task(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The update applied, but its answer came too late (a busy machine): the API reads the
    closed task's verdict for the action instead of answering 504."""
    process_id, task_id = await _an_open_approval(stack)

    async def answered_late(temporal: Any, handle: Any, action: Any) -> Any:
        await real_send(temporal, handle, action)
        await handle.result()  # the task has closed
        raise tasks_router._NotAppliedYet()

    real_send = tasks_router._send
    monkeypatch.setattr(tasks_router, "_send", answered_late)
    async with _decisions(create_app(stack.settings), task_id) as decide:
        response = await decide(BOB)
    assert response.status_code == 200, response.text
    await until(stack, process_id, "completed")


async def test_a_decision_unanswered_while_another_closes_the_task_is_409(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update still waiting when another decision closes the task is aborted by Temporal:
    the API answers 409 (closed), as to a decision that came after, not 504."""
    _, task_id = await _an_open_approval(stack)
    on_its_way = asyncio.Event()

    async def first_one_waits(temporal: Any, handle: Any, action: Any) -> Any:
        if on_its_way.is_set():
            return await real_send(temporal, handle, action)
        on_its_way.set()
        await handle.result()  # closed by the other decision meanwhile
        raise tasks_router._NotAppliedYet()

    real_send = tasks_router._send
    monkeypatch.setattr(tasks_router, "_send", first_one_waits)
    async with _decisions(create_app(stack.settings), task_id) as decide:
        first = asyncio.ensure_future(decide(BOB))
        await asyncio.wait_for(on_its_way.wait(), DEADLINE_S)
        second = await decide(BOB)
        unanswered = await first
    assert second.status_code == 200, second.text
    assert unanswered.status_code == 409, unanswered.text
    assert unanswered.json()["error"]["code"] == "task_closed"


# -- the database pool and a crowd on one task -------------------------------------------------


async def test_twenty_decisions_at_once_one_applies_and_none_fails(stack: Stack) -> None:
    # A pool far smaller than the crowd: no request holds a connection while it waits.
    app = create_app(
        stack.settings.model_copy(update={"database_pool_size": 2, "database_max_overflow": 0})
    )
    process_id, task_id = await _an_open_approval(stack)
    async with _decisions(app, task_id) as decide:
        crowd = [BOB] * 14 + [ERIN] * 3 + [ALICE, DAVE, BOB]
        answers = await asyncio.gather(*(decide(key) for key in crowd))
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(200) == 1, [(r.status_code, r.text) for r in answers]
    assert set(statuses) <= {200, 403, 404, 409}, [(r.status_code, r.text) for r in answers]
    await until(stack, process_id, "completed")
