"""Signing in to the workspace over plain HTTP, as a browser would: for the tests of /app that
need no browser (the browser tests drive Chromium through the same pages)."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.helpers import BOB, Stack, open_task, start
from workflows.contracts.orders import ORDER_FULFILLMENT, OrderPolicy

ORDER = ORDER_FULFILLMENT.name
LARGE = {"customer_id": "C-1005", "lines": [{"sku": "PMP-410", "quantity": 20}]}

_TOKEN = re.compile(r'name="(?:csrf|form_token)" value="([^"]+)"')


def token_in(html: str) -> str:
    """The first CSRF (or sign-in form) token on a page."""
    found = _TOKEN.search(html)
    assert found, "no form token on the page"
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, key: str, name: str = "") -> httpx.Response:
    page = await http.get("/app/sign-in")
    data = {"form_token": token_in(page.text), "key": key, "name": name, "next": "/app/inbox"}
    return await http.post("/app/sign-in", data=data)


@asynccontextmanager
async def person(stack: Stack, key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in with `key`, keeping its cookies like a browser."""
    async with httpx.AsyncClient(base_url=stack.api.base_url, timeout=30) as http:
        response = await sign_in(http, key)
        assert response.status_code == 303, response.text
        yield http


async def large_order(stack: Stack, requester_key: str) -> tuple[str, str]:
    """A large order waiting for a sales manager's approval, with the order policy's own hours
    (the stack's escalates in seconds): its process id and its task's id."""
    stack.set_policy(ORDER_FULFILLMENT, OrderPolicy())
    process_id = await start(stack, ORDER, LARGE, key=requester_key)
    return process_id, await open_task(stack, process_id, BOB)
