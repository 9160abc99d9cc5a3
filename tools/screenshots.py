"""Screenshots of the workspace for README: the inbox, a task, a process page and the insight
dashboard, rendered by Debian's Chromium into docs/.

Runs against a stack that is up (`make run` in another terminal): it starts a few orders and an
invoice through the API as the demo users, waits for them to settle, then signs in as bob (the
inbox and an approval) and erin (a finished order and the dashboard).

    .venv/bin/python -m tools.screenshots [--url http://127.0.0.1:8000] [--out docs]
"""

import argparse
import asyncio
import os
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, async_playwright

LARGE = {"customer_id": "C-1005", "lines": [{"sku": "PMP-410", "quantity": 20}]}
SMALL = {"customer_id": "C-1001", "lines": [{"sku": "WID-100", "quantity": 5}]}
INVOICE = {  # billed above the purchase order's price: a match exception for an AP clerk
    "vendor_id": "V-201",
    "text": "INVOICE\nNorthwind Components\nInvoice number: INV-7781\nInvoice date: 2026-11-20\n"
    "Purchase order: PO-50001\nCurrency: EUR\n\nWID-100 Widget 400 x 7.60 = 3040.00\n"
    "GAD-120 Gadget 200 x 11.00 = 2200.00\n\nTotal: 5240.00\n",
}


async def _start(api: httpx.AsyncClient, key: str, ptype: str, body: dict[str, Any]) -> str:
    response = await api.post(
        f"/v1/processes/{ptype}", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    response.raise_for_status()
    process_id: str = response.json()["process_id"]
    return process_id


async def _settled(api: httpx.AsyncClient, process_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        response = await api.get(
            f"/v1/processes/{process_id}", headers={"Authorization": "Bearer dev-erin"}
        )
        state: dict[str, Any] = response.json()
        if state.get("status") not in ("running", None) or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.2)


async def _sign_in(page: Page, name: str, key: str) -> None:
    await page.goto("/app/sign-in")
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/app/inbox")


async def main(url: str, out: Path) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as api:
        waiting = [await _start(api, "dev-alice", "order-fulfillment", LARGE) for _ in range(3)]
        done = await _start(api, "dev-alice", "order-fulfillment", SMALL)
        await _start(api, "dev-dave", "invoice-processing", INVOICE)
        for process_id in [*waiting, done]:
            await _settled(api, process_id)
    chromium = os.environ.get("BATON_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        raise SystemExit("no Chromium found: apt-get install chromium (or set BATON_CHROMIUM)")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=args)
        for name, key, shots in (
            ("bob", "dev-bob", ("inbox", "task")),
            ("erin", "dev-erin", ("process", "insight")),
        ):
            context = await browser.new_context(
                base_url=url, viewport={"width": 1280, "height": 860}
            )
            page = await context.new_page()
            await _sign_in(page, name, key)
            for shot in shots:
                if shot == "task":
                    await page.get_by_role("link", name="Approve order").first.click()
                elif shot == "process":
                    await page.goto(f"/app/processes/{done}")
                elif shot == "insight":
                    await page.goto("/app/insight")
                await page.screenshot(path=str(out / f"workspace-{shot}.png"), full_page=False)
                print(f"wrote {out / f'workspace-{shot}.png'}")
            await context.close()
        await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(options.url, options.out))
