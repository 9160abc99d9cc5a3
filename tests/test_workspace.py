"""The workspace over HTTP: sessions, CSRF, refusals and bad input shown on the page. The
browser tests (test_workspace_browser.py) drive the same pages in Chromium."""

import re

import httpx
import pytest

from api.workspace.forms import Kind, parse, problems_by_input, schema_inputs, task_inputs
from tests.helpers import ALICE, BOB, DAVE, Stack, start, until, wait_for
from tests.workspace import ORDER, large_order, person, sign_in, token_in
from workflows.contracts.orders import OrderInput
from workflows.contracts.tasks import FieldType, FormField, TaskForm

# -- forms, without a server ------------------------------------------------------------------


def test_the_order_form_is_generated_from_its_input_schema() -> None:
    inputs = {i.name: i for i in schema_inputs(OrderInput.model_json_schema())}
    assert inputs["customer_id"].kind is Kind.TEXT
    assert inputs["customer_id"].required
    assert inputs["message"].kind is Kind.TEXTAREA
    assert inputs["requested_date"].kind is Kind.DATE
    assert inputs["priority"].kind is Kind.SELECT
    assert "urgent" in inputs["priority"].options
    lines = inputs["lines"]
    assert lines.kind is Kind.TABLE
    assert [(c.name, c.kind) for c in lines.columns] == [
        ("sku", Kind.TEXT),
        ("quantity", Kind.INTEGER),
    ]


def test_a_posted_form_becomes_typed_json_and_keeps_what_was_typed() -> None:
    inputs = schema_inputs(OrderInput.model_json_schema())
    posted = {
        "customer_id": " C-1001 ",
        "lines.0.sku": "WID-100",
        "lines.0.quantity": "5",
        "lines.1.sku": "",
        "lines.1.quantity": "",
        "lines.2.sku": "PMP-410",
        "lines.2.quantity": "two",
    }
    parsed = parse(inputs, posted)
    assert parsed.values["customer_id"] == "C-1001"
    assert parsed.values["lines"] == [{"sku": "WID-100", "quantity": 5}, {"sku": "PMP-410"}]
    # The empty row is dropped and the rows renumbered, as the API will number them.
    assert parsed.problems == {"lines.1.quantity": "must be a whole number"}
    assert parsed.sent["lines"][1] == {"sku": "PMP-410", "quantity": "two"}
    assert "message" not in parsed.values  # empty: left for the API to judge


def test_a_task_form_with_prefilled_lines_is_a_typed_table() -> None:
    form = TaskForm(
        outcomes=["confirm", "reject"],
        fields=[
            FormField(
                name="lines",
                type=FieldType.ARRAY,
                required=True,
                default=[{"sku": "WID-200", "quantity": 5}],
            ),
            FormField(name="note", required=True),
        ],
    )
    lines, note = task_inputs(form)
    assert lines.kind is Kind.TABLE
    assert [c.kind for c in lines.columns] == [
        Kind.TEXT,
        Kind.INTEGER,
    ]
    parsed = parse([lines, note], {"lines.0.sku": "", "lines.0.quantity": ""})
    assert parsed.problems == {
        "lines": "is required: fill in at least one row",
        "note": "is required",
    }


def test_api_field_errors_are_keyed_by_input() -> None:
    details = [
        {"field": "body.lines.0.quantity", "message": "must be greater than 0"},
        {"field": "body", "message": "give either message or lines"},
        {"field": "query.x", "message": "ignored"},
    ]
    assert problems_by_input(details, "body.") == {
        "lines.0.quantity": "must be greater than 0",
        "": "give either message or lines",
    }


# -- sessions ---------------------------------------------------------------------------------


async def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_it(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api.base_url) as http:
        assert (await http.get("/app/inbox")).status_code == 303  # to the sign-in page
        response = await sign_in(http, BOB)
        assert response.status_code == 303
        assert response.headers["location"] == "/app/inbox"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "path=/app" in cookie
        inbox = await http.get("/app/inbox")
        assert inbox.status_code == 200
        assert "bob" in inbox.text
        old_cookie = http.cookies.get("baton_session")
        out = await http.post("/app/sign-out", data={"csrf": token_in(inbox.text)})
        assert out.status_code == 303
        # The session is gone on the server, not only in this browser: its cookie is refused.
        http.cookies.set("baton_session", old_cookie or "", path="/app")
        after = await http.get("/app/inbox")
        assert after.status_code == 303
        assert after.headers["location"].startswith("/app/sign-in")


async def test_a_wrong_key_or_name_is_refused_on_the_sign_in_page(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api.base_url) as http:
        wrong = await sign_in(http, "not-a-key")
        assert wrong.status_code == 401
        assert "That key is not valid." in wrong.text
        other = await sign_in(http, BOB, name="alice")
        assert other.status_code == 401
        assert "not valid for alice" in other.text
        forged = await http.post("/app/sign-in", data={"form_token": "x", "key": BOB})
        assert forged.status_code == 403
        assert "baton_session" not in forged.headers.get("set-cookie", "")


async def test_an_idle_session_expires(stack: Stack) -> None:
    stack.settings.workspace_idle_minutes = 0.0001  # six milliseconds
    async with httpx.AsyncClient(base_url=stack.api.base_url) as http:
        await sign_in(http, BOB)

        async def expired() -> bool:
            response = await http.get("/app/inbox")
            return response.status_code == 303

        assert await wait_for(expired, "the session to expire")


# -- CSRF and bad input -----------------------------------------------------------------------


async def test_a_forged_or_missing_csrf_token_is_refused_and_changes_nothing(
    stack: Stack,
) -> None:
    process_id, task_id = await large_order(stack, ALICE)
    async with person(stack, BOB) as bob:
        url = f"/app/tasks/{task_id}/decide"
        for data in ({"outcome": "approve"}, {"outcome": "approve", "csrf": "forged"}):
            refused = await bob.post(url, data=data)
            assert refused.status_code == 403
            assert "security token is missing or out of date" in refused.text
    waiting = await until(stack, process_id, "waiting")
    assert waiting["open_tasks"]
    assert waiting["stage"] == "approval"


async def test_bad_input_is_shown_next_to_its_field_and_decides_nothing(stack: Stack) -> None:
    process_id, task_id = await large_order(stack, ALICE)
    async with person(stack, BOB) as bob:
        page = await bob.get(f"/app/tasks/{task_id}")
        csrf = token_in(page.text)
        url = f"/app/tasks/{task_id}/decide"
        unknown = await bob.post(url, data={"csrf": csrf, "outcome": "ship-it"})
        assert unknown.status_code == 422
        assert re.search(r'id="problem-outcome">[^<]*unknown outcome', unknown.text)
        no_outcome = await bob.post(url, data={"csrf": csrf})
        assert no_outcome.status_code == 422
        assert re.search(r'id="problem-outcome">String should have at least 1', no_outcome.text)
        no_comment = await bob.post(url, data={"csrf": csrf, "outcome": "reject"})
        assert no_comment.status_code == 422
        assert re.search(r'id="problem-comment">[^<]*a comment is required', no_comment.text)
        assert 'aria-invalid="true" aria-describedby="problem-comment"' in no_comment.text
    waiting = await until(stack, process_id, "waiting")
    assert waiting["stage"] == "approval"


async def test_a_start_form_with_a_wrong_type_keeps_the_input_and_starts_nothing(
    stack: Stack,
) -> None:
    async def listed() -> list[str]:
        listing = await stack.api.get("/v1/processes", headers=stack.as_user(ALICE))
        return [item["process_id"] for item in listing.json()["items"]]

    before = await listed()
    async with person(stack, ALICE) as alice:
        form = await alice.get(f"/app/start/{ORDER}")
        assert form.status_code == 200
        data = {
            "csrf": token_in(form.text),
            "customer_id": "C-1001",
            "lines.0.sku": "WID-100",
            "lines.0.quantity": "five",
        }
        refused = await alice.post(f"/app/start/{ORDER}", data=data)
        assert refused.status_code == 422
        assert re.search(r'id="problem-lines-0-quantity">must be a whole number', refused.text)
        assert 'value="five"' in refused.text  # what was typed is still there
        data["lines.0.quantity"] = "0"
        api_refused = await alice.post(f"/app/start/{ORDER}", data=data)
        assert api_refused.status_code == 422
        assert re.search(r'id="problem-lines-0-quantity">[^<]*greater than 0', api_refused.text)
    assert await listed() == before


async def test_dave_sees_no_sales_task_and_no_insight(stack: Stack) -> None:
    _, task_id = await large_order(stack, ALICE)
    async with person(stack, DAVE) as dave:
        task = await dave.get(f"/app/tasks/{task_id}")
        assert task.status_code == 404
        assert "not in your inbox" in task.text
        assert (await dave.get("/app/insight")).status_code == 403
        assert (await dave.get("/app/insight/map")).status_code == 403
        inbox = await dave.get("/app/inbox")
        assert task_id not in inbox.text
        assert "Insight</a>" not in inbox.text


@pytest.mark.parametrize("path", ["/app/static/app.css", "/app/static/app.js"])
async def test_assets_are_served_locally(stack: Stack, path: str) -> None:
    response = await stack.api.get(path)
    assert response.status_code == 200
    assert len(response.text) > 500


async def test_pages_name_no_outside_asset(stack: Stack) -> None:
    async with person(stack, BOB) as bob:
        for path in ("/app/inbox", "/app/processes", f"/app/start/{ORDER}"):
            html = (await bob.get(path)).text
            assert re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', html) == [
                "/app/static/app.css",
                "/app/static/app.js",
            ], path
            assert not re.search(r'src="(?:https?:)?//', html), path


async def test_frank_reads_the_figures_and_the_map_of_what_ran(stack: Stack) -> None:
    small = {"customer_id": "C-1001", "lines": [{"sku": "WID-100", "quantity": 5}]}
    process_id = await start(stack, ORDER, small, key=ALICE)
    await until(stack, process_id, "completed")
    frank = "dev-frank"
    async with person(stack, frank) as analyst:
        figures = await analyst.get("/app/insight", params={"process_type": ORDER})
        assert figures.status_code == 200
        started = re.search(
            r'tile-value">(\d+)</span><span class="tile-label">started', figures.text
        )
        assert started
        assert started.group(1) == "1"
        assert 'role="img" aria-label="Cycle time, median, by process type: order-fulfillment:' in (
            figures.text
        )
        pmap = await analyst.get("/app/insight/map", params={"process_type": ORDER})
        assert pmap.status_code == 200
        assert "<svg" in pmap.text
        assert "1 runs of order-fulfillment; 1 followed the design." in pmap.text
        unknown = await analyst.get("/app/insight", params={"process_type": "nope"})
        assert unknown.status_code == 404


async def test_pages_may_not_be_framed_nor_cached(stack: Stack) -> None:
    async with person(stack, BOB) as bob:
        headers = (await bob.get("/app/inbox")).headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    assert headers["server-timing"].startswith("page;dur=")
