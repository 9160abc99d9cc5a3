"""The authorization table holds over HTTP: every demo user against every /v1 endpoint, on an
order alice started and an invoice dave started.

Every expected answer is derived from the table itself (`permits` and `PERMISSIONS` in
workflows/contracts/permissions.py), never from a copy of it: no unauthorized call succeeds,
and every authorized one does (or, where succeeding would use the object up, gets past the
table to the next check: 422 for a bad body, 404 for a robot job that does not exist).
"""

import functools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from core.settings import Settings
from core.users import DEMO_USERS
from tests.helpers import ALICE, BOB, DAVE, ERIN, FAST_POLICY, Stack, open_task, start, wait_for
from workflows.contracts.invoices import INVOICE_PROCESSING
from workflows.contracts.orders import ORDER_FULFILLMENT
from workflows.contracts.permissions import PERMISSIONS, Action, Subject, as_markdown, permits
from workflows.contracts.processes import ProcessType

ORDER, INVOICE = ORDER_FULFILLMENT.name, INVOICE_PROCESSING.name
SMALL = {"customer_id": "C-1001", "lines": [{"sku": "WID-100", "quantity": 2}]}
LARGE = {"customer_id": "C-1005", "lines": [{"sku": "PMP-410", "quantity": 20}]}  # approval
USERS = {name: (key, [role.value]) for name, role, key in DEMO_USERS}
OWNERS = {"alice": ALICE, "dave": DAVE}


def invoice() -> dict[str, str]:
    """An invoice for PO-50001 with a number of its own (never a duplicate)."""
    return {
        "text": f"INVOICE\nNorthwind Components\nInvoice number: NW-{uuid.uuid4().hex[:8]}\n"
        "Invoice date: 2026-11-20\nDue date: 2030-12-20\nPurchase order: PO-50001\n"
        "Currency: EUR\nWID-100 Widget 400 x 7.10 = 2840.00\n"
        "GAD-120 Gadget 200 x 11.00 = 2200.00\nSubtotal: 5040.00\nTax: 0.00\nTotal: 5040.00"
    }


def process_subject(ptype: ProcessType, requester: str) -> Subject:
    return Subject(
        type_roles=frozenset(ptype.roles),
        requester=requester,
        requester_roles=frozenset(USERS[requester][1]),
    )


def v1_endpoints(settings: Settings) -> set[str]:
    """Every "METHOD /path" the API offers under /v1 (from its OpenAPI document)."""
    paths = create_app(settings).openapi()["paths"]
    return {
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        if path.startswith("/v1")
        for method in operations
    }


def test_every_endpoint_is_in_exactly_one_row_of_the_table(settings: Settings) -> None:
    rows = [e for rule in PERMISSIONS.values() for e in rule.endpoints if not e.startswith("*")]
    assert len(rows) == len(set(rows)), "an endpoint is in two rows"
    routed = v1_endpoints(settings)
    assert routed == set(rows), (
        f"not in the table: {routed - set(rows)}; gone: {set(rows) - routed}"
    )


def may(name: str, actions: tuple[Action, ...], subject: Subject) -> bool:
    return all(permits(action, name, USERS[name][1], subject) for action in actions)


Call = Callable[[str], Awaitable[httpx.Response]]


@dataclass
class Case:
    endpoint: str  # "METHOD /path" as routed
    actions: tuple[Action, ...]  # the rows that decide, checked in order
    subject: Subject
    call: Call  # the request, made with an API key
    allowed_gets: frozenset[int]  # what an allowed caller gets


def case(
    endpoint: str, action: Action | tuple[Action, ...], subject: Subject, call: Call, *ok: int
) -> Case:
    actions = action if isinstance(action, tuple) else (action,)
    return Case(endpoint, actions, subject, call, frozenset(ok))


def refusal(case: Case, name: str) -> int | None:
    """None when `name` may make the call; else what the first row that refuses answers."""
    for action in case.actions:
        if not may(name, (action,), case.subject):
            return PERMISSIONS[action].refusal
    return None


async def test_every_user_gets_exactly_what_the_table_grants(stack: Stack) -> None:
    api = stack.api

    def as_user(key: str) -> dict[str, str]:
        return stack.as_user(key)

    # The approval must not escalate (to other roles) while the matrix runs.
    hours = {"approval_due": timedelta(hours=1), "approval_expires": timedelta(hours=2)}
    stack.set_policy(ORDER_FULFILLMENT, FAST_POLICY.model_copy(update=hours))
    order_id = await start(stack, ORDER, LARGE, key=ALICE)
    invoice_id = await start(stack, INVOICE, invoice(), key=DAVE)
    task_id = await open_task(stack, order_id, BOB)
    order = process_subject(ORDER_FULFILLMENT, "alice")
    invoice_subject = process_subject(INVOICE_PROCESSING, "dave")
    task_json = (await api.get(f"/v1/tasks/{task_id}", headers=as_user(ERIN))).json()
    task = Subject(
        candidate_roles=frozenset(task_json["candidate_roles"]), assignee=task_json["assignee"]
    )
    nothing = Subject()
    job, robots = "/v1/robot-jobs/no-such-job", Action.WORK_ROBOT_JOBS

    def get(path: str, **params: str) -> Call:
        return lambda key: api.get(path, params=params, headers=as_user(key))

    def post(path: str, body: Any = None) -> Call:
        """A POST; a callable `body` is called for each request (e.g. a new invoice)."""
        return lambda key: api.post(
            path, json=body() if callable(body) else body, headers=as_user(key)
        )

    def delete(path: str) -> Call:
        return lambda key: api.delete(path, headers=as_user(key))

    cancelling = (Action.READ_PROCESS, Action.CANCEL_PROCESS)

    def cancel_fresh(ptype: ProcessType, owner: str, shared: str) -> Call:
        """Cancels a new process of `owner`'s for each caller the table allows (a success uses
        one up), and the shared one for the rest (who must be refused)."""

        async def call(key: str) -> httpx.Response:
            name = next(n for n, (k, _) in USERS.items() if k == key)
            target = shared
            if may(name, cancelling, process_subject(ptype, owner)):
                body = LARGE if ptype is ORDER_FULFILLMENT else invoice()
                target = await start(stack, ptype.name, body, key=OWNERS[owner])
            return await api.post(f"/v1/processes/{target}/cancel", headers=as_user(key))

        return call

    def claim_then_release(key: str) -> Awaitable[httpx.Response]:
        async def call() -> httpx.Response:
            claimed = await api.post(f"/v1/tasks/{task_id}/claim", headers=as_user(key))
            if claimed.status_code == 200:  # leave it as it was for the next user
                released = await api.post(f"/v1/tasks/{task_id}/release", headers=as_user(key))
                assert released.status_code == 200, released.text
            return claimed

        return call()

    cases = [
        case("GET /v1/me", Action.READ_CATALOGUE, nothing, get("/v1/me"), 200),
        case(
            "GET /v1/process-types", Action.READ_CATALOGUE, nothing, get("/v1/process-types"), 200
        ),
        case(
            "POST /v1/processes/{process_type}",
            Action.START_PROCESS,
            Subject(type_roles=frozenset(ORDER_FULFILLMENT.roles)),
            post(f"/v1/processes/{ORDER}", SMALL),
            201,
        ),
        case(
            "POST /v1/processes/{process_type}",
            Action.START_PROCESS,
            Subject(type_roles=frozenset(INVOICE_PROCESSING.roles)),
            post(f"/v1/processes/{INVOICE}", invoice),
            201,
        ),
        case(
            "GET /v1/processes/{process_id}",
            Action.READ_PROCESS,
            order,
            get(f"/v1/processes/{order_id}"),
            200,
        ),
        case(
            "GET /v1/processes/{process_id}",
            Action.READ_PROCESS,
            invoice_subject,
            get(f"/v1/processes/{invoice_id}"),
            200,
        ),
        case(
            "POST /v1/processes/{process_id}/cancel",
            cancelling,
            order,
            cancel_fresh(ORDER_FULFILLMENT, "alice", order_id),
            202,
        ),
        case(
            "POST /v1/processes/{process_id}/cancel",
            cancelling,
            invoice_subject,
            cancel_fresh(INVOICE_PROCESSING, "dave", invoice_id),
            202,
        ),
        case("GET /v1/tasks/{task_id}", Action.READ_TASK, task, get(f"/v1/tasks/{task_id}"), 200),
        # The table lets a caller at the task; then its own rules apply (an admin without the
        # candidate role may see it but not claim it: 403).
        case(
            "POST /v1/tasks/{task_id}/claim", Action.ACT_ON_TASK, task, claim_then_release, 200, 403
        ),
        case(
            "POST /v1/tasks/{task_id}/release",
            Action.ACT_ON_TASK,
            task,
            post(f"/v1/tasks/{task_id}/release"),  # unclaimed: only an admin may (else 403)
            200,
            403,
        ),
        # A decision or a reassignment would use the task up: a bad body shows the table let
        # the caller through (422 comes after it).
        case(
            "POST /v1/tasks/{task_id}/decision",
            Action.ACT_ON_TASK,
            task,
            post(f"/v1/tasks/{task_id}/decision", {"outcome": "no-such-outcome"}),
            422,
        ),
        case(
            "POST /v1/tasks/{task_id}/reassign",
            Action.ACT_ON_TASK,
            task,
            post(f"/v1/tasks/{task_id}/reassign", {"assignee": "nobody-at-all"}),
            422,
        ),
        case("GET /v1/robot-jobs", robots, nothing, get("/v1/robot-jobs", pool="p"), 200),
        case("GET /v1/robot-jobs/{job_id}", robots, nothing, get(job), 404),
    ]
    insight = Action.READ_INSIGHT
    cases += [
        case("GET /v1/insight/kpis", insight, nothing, get("/v1/insight/kpis"), 200),
        case(
            "GET /v1/insight/map", insight, nothing, get("/v1/insight/map", process_type=ORDER), 200
        ),
        case(
            "GET /v1/insight/export", insight, nothing, get("/v1/insight/export", format="csv"), 200
        ),
        case(
            "POST /v1/insight/what-if",
            insight,
            nothing,
            post("/v1/insight/what-if", {"process_type": ORDER, "policy": {}}),
            200,
        ),
    ]
    cases += [
        case(
            f"POST /v1/robot-jobs/{{job_id}}/{verb}",
            robots,
            nothing,
            post(f"{job}/{verb}", body),
            404,
        )
        for verb, body in (
            ("take", None),
            ("heartbeat", {}),
            ("complete", {"output": {}}),
            ("fail", {"message": "no"}),
        )
    ]

    # An admin's schedule calls are refused after the table let them through: nothing is made.
    scheduling, schedule = Action.MANAGE_SCHEDULES, "/v1/schedules/no-such-schedule"
    cases += [
        case("GET /v1/schedules", scheduling, nothing, get("/v1/schedules"), 200),
        case("POST /v1/schedules", scheduling, nothing, post("/v1/schedules", {}), 422),
        case("GET /v1/schedules/{schedule_id}", scheduling, nothing, get(schedule), 404),
        case("DELETE /v1/schedules/{schedule_id}", scheduling, nothing, delete(schedule), 404),
        case(
            "POST /v1/schedules/{schedule_id}/trigger",
            scheduling,
            nothing,
            post(f"{schedule}/trigger"),
            404,
        ),
    ]

    unexpected = []
    for name, (key, _roles) in USERS.items():
        for each in cases:
            response = await each.call(key)
            refused_with = refusal(each, name)
            expected = {refused_with} if refused_with else each.allowed_gets
            if response.status_code not in expected:
                unexpected.append(
                    f"{name} {each.endpoint}: {response.status_code} not in {sorted(expected)} "
                    f"({response.text[:200]})"
                )
    assert not unexpected, "\n".join(unexpected)

    # A bulk decision answers 200 and judges each task as a decision on it alone would: one the
    # caller may not act on is a 404 item, as if there were none.
    for name, (key, _roles) in USERS.items():
        body = {"task_ids": [task_id], "outcome": "approve"}
        answer = await api.post("/v1/decisions", json=body, headers=as_user(key))
        assert answer.status_code == 200, answer.text
        item = answer.json()["items"][0]
        hidden = not may(name, (Action.ACT_ON_TASK,), task)
        assert (item["status"] == 404) == hidden, f"{name}: {item}"

    # The listings (GET /v1/processes, GET /v1/tasks) show exactly what each user may read.
    # Events carry no API key: their sources sign them (tests/test_events.py).
    listed_routes = {
        "GET /v1/processes",
        "GET /v1/tasks",
        "POST /v1/decisions",
        "POST /v1/events/{source}",
    }
    assert {c.endpoint for c in cases} | listed_routes == v1_endpoints(stack.settings)

    async def listed(key: str, process_id: str) -> bool:
        business_key = process_id.split(":")[1]
        page = await api.get(
            "/v1/processes", params={"business_key": business_key}, headers=as_user(key)
        )
        assert page.status_code == 200, page.text
        return [item["process_id"] for item in page.json()["items"]] == [process_id]

    for process_id, subject in ((order_id, order), (invoice_id, invoice_subject)):
        # Visibility lags a moment behind a start: an admin sees everything, so wait for that.
        await wait_for(functools.partial(listed, ERIN, process_id), f"{process_id} listed")
        for name, (key, _roles) in USERS.items():
            if may(name, (Action.READ_PROCESS,), subject):
                await wait_for(functools.partial(listed, key, process_id), f"{name} to list it")
            else:
                assert not await listed(key, process_id), f"{name} lists {process_id}"

    for name, (key, _roles) in USERS.items():
        inbox = await api.get("/v1/tasks", params={"process_id": order_id}, headers=as_user(key))
        assert inbox.status_code == 200, inbox.text
        shown = task_id in [item["task_id"] for item in inbox.json()["items"]]
        assert shown == may(name, (Action.READ_TASK,), task), f"{name}'s inbox: {shown}"


def test_readme_prints_the_table_as_it_is() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert as_markdown() in readme, "README's authorization table differs from the code's"
