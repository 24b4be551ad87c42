"""Tags (issue 10): fetching every repository's tags, alone and under an announced budget.

The fake Hub serves tags in its own process (`taghub.py`): 30 tags a repository, every 10th 150 (two
pages), every 50th 250 (three pages); 60 ms a request, c = 8. The project is the pipeline's two library
calls, `fetch_all_pages` (repositories) then `fetch_tags` (every repository), timed together after the
login in a worker process of the code under test (`tagworker.py`). Per repetition:

* ``tags-fetch`` — baselines: the floor (``floor_s``: the requests the Hub counts × 60 ms / 8), a plain
  httpx client with a semaphore of 8 (``plain_s``) and a raw asyncio-streams client (``raw_s``: what this
  machine allows at all), both doing the same requests (`tagclients`); project ``fetch_s``, and on the
  current code the Hub's own ``max_in_flight``, the peak recomputed from the requests' start and end
  (``peak_in_flight``) and the mean in flight. Targets: ≤ 1.2 × the floor at 1,000 repositories, ≤ 8 in
  flight.
* ``tags-quota`` — the same Hub announcing a budget (300 requests per 10 s window at 1,000 repositories)
  in X-RateLimit-Limit/-Remaining/-Reset, 429 beyond it. Baselines: the least time the budget allows
  (``floor_s``: every full window waited out, then the last one's requests in ⌈r/8⌉ round trips) and the
  plain client with a header pacer (``pacer_s``, ``pacer_429``). Targets: ``quota_s`` ≤ 1.2 × the
  floor, at most 3 answers 429 (``quota_429``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

from harness.core import Figures, Scenario, Setup, Target, scenario
from harness.tagclients import TagHubProcess, peak_in_flight, plain_fetch, raw_fetch, server_span
from harness.tools import ORG, TOKEN, Code

LATENCY = 0.06
CONCURRENCY = 8


def fetch_tags(code: Code, url: str) -> dict[str, Any]:
    return code.worker("tags", url, ORG, TOKEN, CONCURRENCY, script="tagworker.py")


@contextlib.contextmanager
def hub(size: int, codes: list[Code]) -> Iterator[Setup]:
    with TagHubProcess(size, 30, mixed=True, latency=LATENCY) as process:
        process.call("warm")
        yield Setup(size, codes, url=process.url, state={"hub": process})


def fetched(
    setup: Setup, fetch: Callable[[], dict[str, Any]], answers: tuple[int, ...] = (200,)
) -> tuple[dict[str, Any], list[list[Any]], dict[str, Any]]:
    """Reset the Hub's records, fetch, check every tag came once and every request got one of ``answers``."""
    process: TagHubProcess = setup.state["hub"]
    process.call("reset")
    answer = fetch()
    rows, stats = process.records()
    if answer["tags"] != process.tags or any(row[5] not in answers for row in rows):
        raise AssertionError(
            f"{answer['tags']} tags of {process.tags}; statuses {sorted({r[5] for r in rows})}"
        )
    return answer, rows, stats


def fetch_baseline(setup: Setup) -> Figures:
    process: TagHubProcess = setup.state["hub"]
    plain, _, _ = fetched(setup, lambda: plain_fetch(setup.url, CONCURRENCY))
    raw, _, _ = fetched(setup, lambda: raw_fetch(setup.url, CONCURRENCY))
    return {
        "floor_s": process.pages * LATENCY / CONCURRENCY,
        "plain_s": plain["seconds"],
        "plain_cpu_s": plain["cpu"],
        "raw_s": raw["seconds"],
    }


def fetch_project(setup: Setup, code: Code) -> Figures:
    process: TagHubProcess = setup.state["hub"]
    answer, rows, stats = fetched(setup, lambda: fetch_tags(code, setup.url))
    if len(rows) != process.pages:
        raise AssertionError(f"{len(rows)} requests, {process.pages} expected")
    figures = {"fetch_s": answer["seconds"], "fetch_cpu_s": answer["cpu"]}
    if not code.rev:
        figures["max_in_flight"] = stats["max_in_flight"]
        figures["peak_in_flight"] = peak_in_flight(rows)
        figures["mean_in_flight"] = sum(r[4] - r[3] for r in rows) / server_span(rows)
    return figures


def budget(size: int) -> tuple[int, float]:
    """Requests per window and the window's seconds: issue 10's at 1,000 repositories, shorter below."""
    return (300, 10.0) if size >= 1_000 else (100, 5.0) if size >= 300 else (10, 0.5)


def budget_floor(requests: int, per_window: int, window: float) -> float:
    """Every full window waited out, then the last window's requests in ⌈r/c⌉ round trips."""
    windows = math.ceil(requests / per_window)
    last = requests - (windows - 1) * per_window
    return (windows - 1) * window + math.ceil(last / CONCURRENCY) * LATENCY


def under_budget(setup: Setup, fetch: Callable[[], dict[str, Any]]) -> tuple[float, int]:
    """Seconds and 429s of a fetch with the Hub announcing its budget (a new window at its first request)."""
    process: TagHubProcess = setup.state["hub"]
    per_window, window = budget(setup.size)

    def limited() -> dict[str, Any]:
        process.call("faults", quota=per_window, quota_window=window)
        return fetch()

    try:
        answer, _, stats = fetched(setup, limited, answers=(200, 429))
    finally:
        process.call("faults", quota=0)
    return float(answer["seconds"]), int(stats["quota_rejections"])


def quota_baseline(setup: Setup) -> Figures:
    process: TagHubProcess = setup.state["hub"]
    seconds, limited = under_budget(setup, lambda: plain_fetch(setup.url, CONCURRENCY, pacer=True))
    return {
        "floor_s": budget_floor(process.pages, *budget(setup.size)),
        "pacer_s": seconds,
        "pacer_429": limited,
    }


def quota_project(setup: Setup, code: Code) -> Figures:
    seconds, limited = under_budget(setup, lambda: fetch_tags(code, setup.url))
    return {"quota_s": seconds, "quota_429": limited}


TAGS_FETCH = scenario(
    Scenario(
        name="tags-fetch",
        what="repositories and their tags at c = 8, 60 ms a request, vs. plain httpx and raw asyncio",
        sizes=(1_000,),
        quick=(300,),
        smoke=30,
        project=fetch_project,
        baseline=fetch_baseline,
        setup=hub,
        repeats=lambda size: 3 if size >= 1_000 else 1,
        targets=(
            Target("fetch_s", 1.2, over="floor_s", at=1_000, why="issue 10: ≤ 1.2 × requests × 60 ms / 8"),
            Target(
                "max_in_flight", CONCURRENCY, why="never more than c requests in flight (the Hub's count)"
            ),
            Target("peak_in_flight", CONCURRENCY, why="the same, from the requests' records"),
        ),
    )
)
TAGS_QUOTA = scenario(
    Scenario(
        name="tags-quota",
        what="the same fetch under an announced budget (300 per 10 s at 1,000), vs. plain httpx with a pacer",
        sizes=(1_000,),
        quick=(300,),
        smoke=12,
        project=quota_project,
        baseline=quota_baseline,
        setup=hub,
        targets=(
            Target(
                "quota_s", 1.2, over="floor_s", at=1_000, why="issue 10: ≤ 1.2 × the least time it allows"
            ),
            Target("quota_429", 3, why="issue 10: at most 3 answers 429"),
        ),
    )
)
