"""Two nightly jobs on one host spend one announced budget (issue 10's pacing): 429s and time.

Docker Hub counts its API budget per address (about 600 requests a minute): two `run --tags` jobs started
together from one host, or two orgs of an `export-organizations` run, spend the same budget, and each sees
only what the answers announce. Against one tags Hub (`taghub.py`: 10 tags a repository, 20 ms) that
announces a fixed window (40 requests per 1 s at 400 repositories, so ~21 windows), per repetition:

* baseline — one `dockerhub-export run --tags --no-prefect --concurrency 8` alone on the current code
  (``single_s``, ``single_429``), and the pair's floor (``floor_s``: every full window of twice its
  requests waited out, no latency: a lower bound);
* project — two such processes started together on the code under test, each with its own output folder
  and SQLite database: the Hub's 429s (``pair_429``) and the slower job's seconds (``pair_s``).

Every job's tags CSV holds every tag. Targets: a job alone gets no 429; the pair far fewer than a blind
pair (c1a6ed1's pacing: 115 at 400 repositories), at most one a window; its time near the floor.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.core import Figures, Scenario, Setup, Target, scenario
from harness.tagclients import TagHubProcess
from harness.tools import CLI, ORG, Code, Timed, hub_env, run_timed

LATENCY = 0.02
CONCURRENCY = 8
PER_REPO = 10


def budget(size: int) -> tuple[int, float]:
    """Requests per window and its seconds: many windows, as a first night with tags has."""
    return (40, 1.0) if size >= 400 else (20, 1.0) if size >= 150 else (10, 0.25)


@contextlib.contextmanager
def hub(size: int, codes: list[Code]) -> Iterator[Setup]:
    work = Path(tempfile.mkdtemp(prefix="bench-shared-budget-"))
    try:
        with TagHubProcess(size, PER_REPO, latency=LATENCY) as process:
            process.call("warm")
            state = {"hub": process, "count": itertools.count()}
            yield Setup(size, codes, url=process.url, work=work, env=hub_env(process.url), state=state)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def job(setup: Setup, code: Code, folder: Path) -> Timed:
    cmd = [
        CLI,
        "run",
        "--tags",
        "--no-prefect",
        "--concurrency",
        str(CONCURRENCY),
        "--output-dir",
        str(folder),
    ]
    result = run_timed(cmd, env=code.env(setup.env), cwd=setup.work)
    (written,) = (folder / ORG).glob("tags-*.csv")
    lines = written.read_text(encoding="utf-8").count("\n") - 1
    if lines != setup.state["hub"].tags:
        raise AssertionError(
            f"a job on {code.label} wrote {lines} tags, the Hub has {setup.state['hub'].tags}"
        )
    return result


def jobs(setup: Setup, code: Code, count: int) -> tuple[float, int, int]:
    """``count`` jobs started together under the announced budget: the slowest's seconds, the Hub's 429s
    and the requests it answered."""
    process: TagHubProcess = setup.state["hub"]
    per_window, window = budget(setup.size)
    process.call("reset")
    process.call("faults", quota=per_window, quota_window=window)
    try:
        name = f"{code.label}-{next(setup.state['count'])}"
        folders = [setup.work / f"{name}-job{i}" for i in range(count)]
        with ThreadPoolExecutor(count) as pool:
            results = [future.result() for future in [pool.submit(job, setup, code, f) for f in folders]]
        rows, stats = process.records()
    finally:
        process.call("faults", quota=0)
    answered = sum(1 for row in rows if row[5] == 200)
    return max(r.seconds for r in results), int(stats["quota_rejections"]), answered


def baseline(setup: Setup) -> Figures:
    seconds, limited, answered = jobs(setup, setup.codes[0], 1)
    per_window, window = budget(setup.size)
    floor = (math.ceil(2 * answered / per_window) - 1) * window
    return {"single_s": seconds, "single_429": limited, "floor_s": floor}


def project(setup: Setup, code: Code) -> Figures:
    seconds, limited, _ = jobs(setup, code, 2)
    return {"pair_s": seconds, "pair_429": limited}


SHARED_BUDGET = scenario(
    Scenario(
        name="shared-budget",
        what="two `run --tags` jobs started together on one announced budget (40 per 1 s at 400) vs. one",
        sizes=(400,),
        quick=(150,),
        smoke=8,
        project=project,
        baseline=baseline,
        setup=hub,
        repeats=lambda size: 3 if size >= 400 else 1,
        targets=(
            Target("single_429", 0, why="a job alone paces on the announced budget: no 429"),
            Target("pair_429", 21, at=400, why="far fewer than a blind pair (115), at most one a window"),
            Target("pair_s", 1.25, over="floor_s", at=400, why="a 429 only pauses until the reset"),
        ),
    )
)
