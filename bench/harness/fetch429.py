"""Fetch under 429s: the project's listing vs. a naive concurrent client that retries each 429 on its own.

At 20,000 repositories, 60 ms, c = 8, in the fake Hub (own process):

* ``fetch-burst`` — every 70th list request answers 429 with Retry-After 1 s. Figures: requests sent
  more than 100 ms after a 429 and before its Retry-After ran out (``sent_while_paused``: the project
  pauses all its requests, the naive client only the one that got it), 429s, seconds;
* ``fetch-quota`` — a fixed-window quota of 40 list requests per 1 s window, then 429 until the window
  resets. Figures: 429s (``quota_429``), requests, seconds; the floor is ⌊(P−1)/40⌋ windows.

The project runs in a worker process of the code under test (`worker.py fetch`); the naive client is the
baseline (`fetch.naive`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from harness.core import Figures, Scenario, Setup, SetupFactory, Target, scenario
from harness.fetch import CONCURRENCY, PAGE, hub, naive
from harness.tools import ORG, TOKEN, Code, HubProcess

REACTION = 0.1  # seconds a client may take to notice a 429 (requests already handed to the socket)
EVERY, PAUSE = 70, 1.0
PER_WINDOW, WINDOW = 40, 1.0
Measure = Callable[[list[list[Any]], float, str], Figures]  # the Hub's list requests, seconds, who -> figures


def started_between(rows: list[list[Any]], t0: float, t1: float) -> int:
    return sum(1 for r in rows if t0 <= r[1] < t1)


def burst_figures(rows: list[list[Any]], seconds: float, who: str) -> Figures:
    limited = [r for r in rows if r[3] == 429]
    paused = sum(started_between(rows, r[2] + REACTION, r[2] + PAUSE) for r in limited)
    return {f"{who}_sent_while_paused": paused, f"{who}_429": len(limited), f"{who}_s": seconds}


def quota_figures(rows: list[list[Any]], seconds: float, who: str) -> Figures:
    limited = sum(1 for r in rows if r[3] == 429)
    return {f"{who}_429": limited, f"{who}_requests": len(rows), f"{who}_s": seconds}


def limited_run(setup: Setup, fetch: Callable[[], float], figures: Measure, who: str) -> Figures:
    """Reset the Hub, turn its 429s on, fetch, turn them off: the figures from its records."""
    process: HubProcess = setup.state["hub"]
    process.call("reset")
    if setup.state["mode"] == "burst":
        process.call("faults", rate_limit_every=EVERY, retry_after=PAUSE)
    else:
        process.call("quota", per_window=PER_WINDOW, window=WINDOW)
    try:
        seconds = fetch()
    finally:
        process.call("faults", rate_limit_every=0)
        process.call("quota", per_window=0)
    return figures(process.call("stats")["list_requests"], seconds, who)


def naive_seconds(setup: Setup) -> float:
    seconds, count = asyncio.run(naive(setup.url))
    assert count == setup.size, (count, setup.size)
    return seconds


def project_seconds(setup: Setup, code: Code) -> float:
    answer = code.worker("fetch", setup.url, ORG, TOKEN, CONCURRENCY)
    assert answer["count"] == setup.size, answer
    return float(answer["seconds"])


def make(
    mode: str, figures: Measure
) -> tuple[SetupFactory, Callable[[Setup], Figures], Callable[[Setup, Code], Figures]]:
    """The setup (the Hub, with the 429 mode), baseline (the naive client) and project of one scenario."""

    @contextlib.contextmanager
    def setup(size: int, codes: list[Code]) -> Iterator[Setup]:
        with hub(size, codes) as ready:
            ready.state["mode"] = mode
            yield ready

    def baseline(ready: Setup) -> Figures:
        return limited_run(ready, lambda: naive_seconds(ready), figures, "naive")

    def project(ready: Setup, code: Code) -> Figures:
        return limited_run(ready, lambda: project_seconds(ready, code), figures, "project")

    return setup, baseline, project


_burst = make("burst", burst_figures)
_quota = make("quota", quota_figures)
BURST = scenario(
    Scenario(
        name="fetch-burst",
        what=f"every {EVERY}th request answers 429, Retry-After {PAUSE:g} s: project vs. a naive client",
        sizes=(20_000,),
        quick=(20_000,),
        smoke=EVERY * PAGE + PAGE,
        setup=_burst[0],
        baseline=_burst[1],
        project=_burst[2],
        targets=(Target("project_sent_while_paused", 0, why="no request sent into a pause"),),
    )
)
QUOTA = scenario(
    Scenario(
        name="fetch-quota",
        what=f"a quota of {PER_WINDOW} requests per {WINDOW:g} s window: project vs. a naive client",
        sizes=(20_000,),
        quick=(20_000,),
        smoke=2 * PER_WINDOW * PAGE,
        setup=_quota[0],
        baseline=_quota[1],
        project=_quota[2],
        targets=(
            Target(
                "project_429", 0.5, over="naive_429", at=20_000, why="far fewer 429s than retrying each alone"
            ),
        ),
    )
)
