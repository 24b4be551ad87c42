"""Fetch: the project's concurrent listing vs. the reference script's sequential `next`-following.

Against the fake Hub (own process, 60 ms per request), per repetition:

* baseline ``sequential_s`` — log in, then GET ``?page_size=100`` and follow ``next`` one page at a time
  (httpx, keep-alive: the reference script's protocol without bash and jq);
* baseline ``limit_s`` — the physical floor (1 + ⌈(P−1)/c⌉)·L; ``naive_c8_s`` — a bare httpx client with
  8 pages in flight, no coordination: what this HTTP stack and machine achieve;
* project ``fetch_s`` — `open_session` + `fetch.fetch_all_pages` at c = 8 in a worker process of the code
  under test (`worker.py fetch`), timed alone; ``max_in_flight`` from the Hub's own records.

Target: ``fetch_s`` ≤ 1.3 × ``limit_s`` at 20,000 repositories, and at most 8 requests in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import httpx

from harness.core import Figures, Scenario, Setup, Target, scenario
from harness.tools import ORG, TOKEN, Code, HubProcess, limit_span

LATENCY = 0.06
CONCURRENCY = 8
PAGE = 100


@contextlib.contextmanager
def hub(size: int, codes: list[Code]) -> Iterator[Setup]:
    with HubProcess(repos=size, latency=LATENCY) as process:
        setup = Setup(size, codes, url=process.url, state={"hub": process})
        asyncio.run(naive(process.url))  # warm-up: the Hub sorts the namespace and caches its pages
        yield setup


def sequential(url: str) -> tuple[float, int]:
    """The reference script's protocol: legacy login, then follow `next` one page at a time."""
    with httpx.Client(timeout=30) as client:
        login = client.post(f"{url}/v2/users/login", json={"username": ORG, "password": TOKEN})
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        next_url: str | None = f"{url}/v2/namespaces/{ORG}/repositories?page_size={PAGE}"
        count = 0
        started = time.perf_counter()
        while next_url:
            body = client.get(next_url, headers=headers).json()
            count += len(body["results"])
            next_url = body.get("next")
        return time.perf_counter() - started, count


async def naive(url: str) -> tuple[float, int]:
    """c pages in flight, no coordination: the practical floor of this stack (and the naive 429 client)."""
    limits = httpx.Limits(max_connections=CONCURRENCY + 2)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        login = await client.post(f"{url}/v2/users/login", json={"username": ORG, "password": TOKEN})
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        gate = asyncio.Semaphore(CONCURRENCY)

        async def page(number: int) -> dict[str, Any]:
            params: dict[str, str | int] = {"page": number, "page_size": PAGE, "ordering": "name"}
            while True:  # each 429 retried on its own after its Retry-After: the usual retry decorator
                async with gate:
                    response = await client.get(
                        f"{url}/v2/namespaces/{ORG}/repositories", params=params, headers=headers
                    )
                if response.status_code != 429:
                    break
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body

        started = time.perf_counter()
        first = await page(1)
        rest = await asyncio.gather(*(page(n) for n in range(2, -(-first["count"] // PAGE) + 1)))
        count = len(first["results"]) + sum(len(p["results"]) for p in rest)
        return time.perf_counter() - started, count


def baseline(setup: Setup) -> Figures:
    seconds, count = sequential(setup.url)
    naive_s, naive_count = asyncio.run(naive(setup.url))
    assert count == naive_count == setup.size, (count, naive_count, setup.size)
    return {
        "sequential_s": seconds,
        "naive_c8_s": naive_s,
        "limit_s": limit_span(-(-setup.size // PAGE), CONCURRENCY, LATENCY),
    }


def project(setup: Setup, code: Code) -> Figures:
    process: HubProcess = setup.state["hub"]
    process.call("reset")
    answer = code.worker("fetch", setup.url, ORG, TOKEN, CONCURRENCY)
    assert answer["count"] == setup.size, answer
    figures = {"fetch_s": float(answer["seconds"])}
    if not code.rev:
        figures["max_in_flight"] = float(process.call("stats")["max_in_flight"])
    return figures


FETCH = scenario(
    Scenario(
        name="fetch",
        what="listing at c = 8 vs. sequential next-following, 60 ms a request",
        sizes=(1_000, 20_000, 100_000),
        quick=(1_000, 20_000),
        smoke=300,
        project=project,
        baseline=baseline,
        setup=hub,
        repeats=lambda size: 2 if size >= 100_000 else 5,
        targets=(
            Target("fetch_s", 1.3, over="limit_s", at=20_000, why="issue 2: near the physical floor"),
            Target("max_in_flight", CONCURRENCY, why="never more than c requests in flight"),
        ),
    )
)
