"""The workspace as people use it: in Chromium, against the real stack (Temporal, workers, the
API serving /app, the systems sandbox)."""

import re

from playwright.async_api import Browser, Page, expect

from tests.browser import signed_in
from tests.helpers import ALICE, BOB, DAVE, ERIN, Stack, open_task, start, state, until
from tests.workspace import ORDER, large_order


def _base(stack: Stack) -> str:
    return str(stack.api.base_url)


async def _open_from_inbox(page: Page, title: re.Pattern[str]) -> None:
    await page.goto("/app/inbox")
    await page.get_by_role("link", name=title).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)


async def test_bob_approves_a_large_order_alice_started(stack: Stack, browser: Browser) -> None:
    process_id, _ = await large_order(stack, ALICE)
    business_key = process_id.split(":")[1]
    page = await signed_in(browser, _base(stack), "bob", BOB)
    await expect(page.locator(".counts")).to_contain_text("1 open")
    await _open_from_inbox(page, re.compile(f"Approve order {business_key}"))
    # What a decider needs: the lines with prices, the amount, risk and credit.
    about = page.locator("section", has=page.get_by_role("heading", name="What is asked"))
    await expect(about).to_contain_text("PMP-410")
    await expect(about).to_contain_text("17,800.00")
    await expect(about).to_contain_text("Credit available")
    await page.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status")).to_contain_text("Done: approve")
    await page.get_by_role("link", name="See the process").click()
    # The page follows the process by itself until it completes.
    await expect(page.locator("h1 .chip")).to_have_text("completed")
    await expect(page.locator(".timeline")).to_contain_text(f"Approve order {business_key}")
    await expect(
        page.get_by_role("link", name="Open the run in the Temporal UI")
    ).to_have_attribute("href", re.compile(re.escape(process_id)))
    ledger = page.locator("section", has=page.get_by_role("heading", name="Decisions (ledger)"))
    await expect(ledger.get_by_role("row", name=re.compile("bob"))).to_contain_text("approve")


async def test_four_eyes_refusal_reads_as_a_sentence(stack: Stack, browser: Browser) -> None:
    process_id, _ = await large_order(stack, BOB)
    business_key = process_id.split(":")[1]
    page = await signed_in(browser, _base(stack), "bob", BOB)
    await _open_from_inbox(page, re.compile(f"Approve order {business_key}"))
    await page.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "You requested this order; someone else must approve it."
    )
    assert (await state(stack, process_id))["stage"] == "approval"


async def test_a_bulk_dry_run_lists_the_refusal_and_applies_the_rest(
    stack: Stack, browser: Browser
) -> None:
    others = [(await large_order(stack, ALICE))[0] for _ in range(3)]
    own, _ = await large_order(stack, BOB)
    page = await signed_in(browser, _base(stack), "bob", BOB)
    boxes = page.get_by_role("checkbox", name=re.compile("^Select "))
    await expect(boxes).to_have_count(4)
    for index in range(4):
        await boxes.nth(index).check()
    await page.get_by_label("Outcome").select_option("approve")
    await page.get_by_role("button", name="Dry run…").click()
    await expect(page.get_by_role("status")).to_have_text(
        "3 would be applied, 1 refused. Nothing has changed yet."
    )
    refused = page.locator("tr.refused")
    await expect(refused).to_have_count(1)
    await expect(refused).to_contain_text(own.split(":")[1])
    await expect(refused).to_contain_text("You requested this order; someone else must approve it.")
    for process_id in [*others, own]:  # the dry run changed nothing
        assert (await state(stack, process_id))["status"] == "waiting"
    await page.get_by_role("button", name="Approve 3 tasks").click()
    await expect(page.get_by_role("status")).to_contain_text("3 applied, 0 refused")
    for process_id in others:
        done = await until(stack, process_id, "completed")
        people = [step for step in done["steps"] if step["actor"] == "human"]
        assert [step["by"] for step in people] == ["bob"]
    assert (await state(stack, own))["status"] == "waiting"


async def test_dave_cannot_open_a_sales_task_nor_insight(stack: Stack, browser: Browser) -> None:
    _, task_id = await large_order(stack, ALICE)
    page = await signed_in(browser, _base(stack), "dave", DAVE)
    await expect(page.get_by_role("link", name="Insight")).to_have_count(0)
    response = await page.goto(f"/app/tasks/{task_id}")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text("not in your inbox")
    response = await page.goto("/app/insight")
    assert response is not None
    assert response.status == 403
    await expect(page.get_by_role("alert")).to_contain_text("dave may not")


async def test_a_review_task_corrects_the_lines_that_reach_the_process(
    stack: Stack, browser: Browser
) -> None:
    # The AI resolves "widgetz heavy" but not "flux capacitors": a sales rep checks the lines.
    message = "order: 5 x widgetz heavy, 3 flux capacitors"
    process_id = await start(stack, ORDER, {"customer_id": "C-1003", "message": message}, key=BOB)
    await until(stack, process_id, "waiting", stage="review-lines")
    await open_task(stack, process_id, ALICE)
    page = await signed_in(browser, _base(stack), "alice", ALICE)
    await _open_from_inbox(page, re.compile("Check the lines of order"))
    await expect(page.get_by_label("Order lines (sku, quantity), row 1, Sku")).to_have_value(
        "WID-200"
    )
    await page.get_by_label("Order lines (sku, quantity), row 2, Sku").fill("CBL-610")
    await page.get_by_label("Order lines (sku, quantity), row 2, Quantity").fill("three")
    await page.get_by_role("button", name="Confirm").click()
    # A wrong type is shown by its field, and what was typed stays.
    await expect(page.locator("#problem-data-lines-1-quantity")).to_have_text(
        "must be a whole number"
    )
    quantity = page.get_by_label("Order lines (sku, quantity), row 2, Quantity")
    await expect(quantity).to_have_value("three")
    await quantity.fill("3")
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.get_by_role("status")).to_contain_text("Done: confirm")
    done = await until(stack, process_id, "completed")
    assert done["order"]["lines"] == [
        {"sku": "WID-200", "quantity": 5},
        {"sku": "CBL-610", "quantity": 3},
    ]


async def test_keyboard_sign_in_a_missing_field_and_sign_out(
    stack: Stack, browser: Browser
) -> None:
    context = await browser.new_context(base_url=_base(stack))
    page = await context.new_page()
    await page.goto("/app/inbox")
    for _ in range(6):  # past the skip link and the brand, with the keyboard only
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "name":
            break
    await page.keyboard.type("alice")
    await page.keyboard.press("Tab")
    await page.keyboard.type(ALICE)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    # A required field left empty is named by the field, and nothing starts.
    await page.goto(f"/app/start/{ORDER}")
    await page.get_by_label("Lines, row 1, Sku").fill("WID-100")
    await page.get_by_label("Lines, row 1, Quantity").fill("5")
    await page.get_by_role("button", name="Start").click()
    await expect(page.locator("#problem-customer_id")).to_have_text("is required")
    await expect(page.get_by_label("Lines, row 1, Sku")).to_have_value("WID-100")
    # Readable at a phone's width: nothing wider than the screen but the tables' own scroll.
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto("/app/inbox")
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("status")).to_have_text("You are signed out.")
    await page.goto("/app/inbox")
    await expect(page.get_by_role("heading", name="Sign in to Baton")).to_be_visible()
    await context.close()


async def test_erin_starts_an_order_from_the_form(stack: Stack, browser: Browser) -> None:
    page = await signed_in(browser, _base(stack), "erin", ERIN)
    await page.get_by_role("link", name="Processes").click()
    await page.get_by_role("link", name="Start order").click()
    await page.get_by_label("Customer id").fill("C-1001")
    await page.get_by_label("Lines, row 1, Sku").fill("WID-100")
    await page.get_by_label("Lines, row 1, Quantity").fill("5")
    await page.get_by_label("Priority").select_option("urgent")
    await page.get_by_role("button", name="Start").click()
    await expect(page.get_by_role("status")).to_contain_text("Started")
    await expect(page.locator("h1 .chip")).to_have_text("completed")
    process_id = page.url.rsplit("/", 1)[1]
    assert (await state(stack, process_id.replace("%3A", ":")))["priority"] == "urgent"
