"""The workspace's inbox page: server time to render GET /app/inbox over N open tasks.

Fills a fresh SQLite file and a fresh PostgreSQL database with N open tasks shaped like
Baton's (bench/inbox_scale.py's), signs bob (a sales manager) and erin (an admin) in through
the sign-in form, and renders the inbox page again and again: the default view (soonest due
first, with the counts and the bulk bar), escalated only, and assigned to me. Reads the server's
own time from each page's Server-Timing header and prints its median and p95 per case.

    .venv/bin/python bench/workspace_inbox.py [--tasks 1000] [--requests 200]
        [--backends sqlite,postgresql]
"""

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.inbox_scale import api, percentile, prepare
from bench.stack import fresh_database
from core.settings import Environment, Settings

CASES = {"inbox": {}, "escalated": {"escalated": "true"}, "assigned to me": {"mine": "true"}}
CALLERS = {"bob (1 role)": "dev-bob", "erin (admin)": "dev-erin"}
_TIMING = re.compile(r"page;dur=([0-9.]+)")
_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


async def sign_in(http: httpx.AsyncClient, key: str) -> None:
    http.cookies.clear()
    form = await http.get("/app/sign-in")
    token = _TOKEN.search(form.text)
    assert token, "no sign-in form"
    answer = await http.post("/app/sign-in", data={"form_token": token.group(1), "key": key})
    assert answer.status_code == 303, answer.text


async def server_times(
    http: httpx.AsyncClient, params: dict[str, str], requests: int
) -> list[float]:
    times = []
    for _ in range(requests):
        response = await http.get("/app/inbox", params=params)
        assert response.status_code == 200, response.text[:300]
        found = _TIMING.search(response.headers["server-timing"])
        assert found, "no Server-Timing"
        times.append(float(found.group(1)))
    return times


async def run(url: str, tasks: int, requests: int, data_dir: Path) -> None:
    settings = Settings(_env_file=None, env=Environment.DEV, database_url=url, data_dir=data_dir)
    prepare(url, settings, tasks)
    async with api(settings) as (http, _):
        for caller, key in CALLERS.items():
            await sign_in(http, key)
            await server_times(http, {}, 5)  # warm the statement caches
            for case, params in CASES.items():
                times = await server_times(http, params, requests)
                print(
                    f"  {caller:<15} {case:<15} median {statistics.median(times):6.1f} ms"
                    f"   p95 {percentile(times, 0.95):6.1f} ms"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        print(f"{backend}: GET /app/inbox over {args.tasks:,} open tasks, server time")
        with tempfile.TemporaryDirectory() as tmp, fresh_database(backend, Path(tmp)) as url:
            asyncio.run(run(url, args.tasks, args.requests, Path(tmp)))


if __name__ == "__main__":
    main()
