"""Chromium for the browser tests: Debian's `chromium`, driven by Playwright (which downloads no
browser here: it is pointed at the installed one). Without one the tests skip with the reason,
except where BATON_REQUIRE_BROWSER is set (CI), where they fail."""

import os
import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

# A guard against hanging, like the other tests' deadlines; waits end when the page is ready.
PAGE_DEADLINE_MS = 60_000
expect.set_options(timeout=PAGE_DEADLINE_MS)


def chromium_path() -> str | None:
    candidates = (
        os.environ.get("BATON_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    )
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


async def launched() -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        reason = "no Chromium found: apt-get install chromium (or set BATON_CHROMIUM)"
        if os.environ.get("BATON_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    # Root (as in CI's containers) cannot use Chromium's sandbox.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, args=args)
        yield browser
        await browser.close()


async def signed_in(
    browser: Browser, base_url: str, name: str, key: str, width: int = 1280
) -> Page:
    """A new browser (its own cookies) in which `name` has signed in with `key`."""
    context = await browser.new_context(base_url=base_url, viewport={"width": width, "height": 900})
    context.set_default_timeout(PAGE_DEADLINE_MS)
    page = await context.new_page()
    await page.goto("/app/inbox")  # sends them to the sign-in page first
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    return page
