"""Access review (issue 16), the Hub side: the team permission listing at 60 ms, under an announced
budget, and the peak RSS of a night with ``run --access``.

One fake Hub with the org's access (`accesshub.py`: `tests/fakehub.py` and `tests/hubaccess.py`
`make_access`, own process). The project's calls run in a worker process of the code under test
(`worker.py permissions` / `access`, handed the org's repositories as the run hands them):

* ``access-fetch`` — 60 ms a request, c = 8. ``permissions_s``: the team permission listing alone (the
  `list_per_repository` call `access_fetch.fetch_access` makes), timed in the worker; ``in_access_s``:
  the same listing inside a whole `fetch_access` (members, teams, permissions, tokens), as the Hub saw
  it (first permission request received → last one answered); ``access_s``: that whole `fetch_access`.
  Baselines: ``floor_s`` = ⌈N / 8⌉ × 60 ms; ``naive_c8_s``: a bare httpx client sending the same N
  requests 8 at a time (what this stack and machine achieve).
* ``access-quota`` — the Hub announces a budget in X-RateLimit-Limit / -Remaining / -Reset
  (`Faults.quota`) and answers 429 beyond it. The permission listing alone and the whole `fetch_access`,
  each from a new window: seconds, the Hub's 429s, and the budget's floor for the requests it answered
  (every full window waited out, then the last window's requests in ⌈r / 8⌉ round trips).
* ``access-memory`` — `dockerhub-export run --access` (SQLite, no Prefect server configured: in-process)
  at 20 ms a request, peak RSS (`wait4`); beside it the same night without ``--access``, and the heavy
  imports alone as the floor. make_access's defaults: a member for every ten repositories (at most
  400), a team for every ten members (400 and 40 at 20,000).

Targets: the listing ≤ 1.2 × its floor at 1,000 (alone and inside `fetch_access`), never more than 8 in
flight; under the budget ≤ 1.2 × the budget's floor with at most 3 × 429; ``run --access`` < 400 MB
at 20,000 repositories.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from harness.core import Figures, Scenario, Setup, Target, scenario
from harness.tools import BENCH, CLI, ORG, PY, TOKEN, Code, HubProcess, hub_env, run_timed

LATENCY = 0.06
CONCURRENCY = 8
PER_WINDOW, WINDOW = 250, 5.0  # the announced budget: 1,000 permission requests take four windows
SMOKE_WINDOW = (10, 0.2)  # (requests, seconds) at the smoke size: two and three windows
MEMORY_LATENCY = 0.02
TARGET_MIB = 400 / 1.048576  # 400 MB; ru_maxrss is in KiB
IMPORTS = "import prefect, pandas, httpx, sqlalchemy"
SIDE_BY_SIDE = 1_000  # from this size on, the night without --access and the imports too (the smoke: one run)


class AccessHub(HubProcess):
    """`accesshub.py` in a child process: the fake Hub with the org's members, teams, team
    permissions and tokens (make_access's defaults for ``repos`` repositories)."""

    def __init__(self, repos: int, latency: float) -> None:
        super().__init__(repos, latency)
        self.command = [PY, str(BENCH / "harness" / "accesshub.py"), "--org", ORG, "--token", TOKEN]
        self.command += ["--repos", str(repos), "--latency", str(latency)]


def has_access(code: Code) -> bool:
    """Whether the code reads access (a revision before the access review: no figures, not a failure)."""
    return (code.tree / "src" / "dockerhub_export" / "access_fetch.py").is_file()


@contextlib.contextmanager
def hub(size: int, codes: list[Code], latency: float = LATENCY) -> Iterator[Setup]:
    work = Path(tempfile.mkdtemp(prefix="bench-access-"))
    try:
        with AccessHub(size, latency) as process:
            listed = work / "repositories.json"
            count = process.call("repositories", path=str(listed))["count"]
            state = {"hub": process, "repositories": listed, "count": count, "runs": itertools.count()}
            yield Setup(size, codes, url=process.url, work=work, state=state)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def worker(setup: Setup, code: Code, task: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``task`` on ``code`` against a reset Hub: the worker's answer and the Hub's records of it."""
    process: HubProcess = setup.state["hub"]
    process.call("reset")
    answer = code.worker(task, setup.url, ORG, TOKEN, CONCURRENCY, setup.state["repositories"])
    return answer, process.call("stats")


def span(stats: dict[str, Any], kind: str) -> float:
    """The Hub's view of one listing: its first request received → its last one answered."""
    rows = [row for row in stats["requests"] if row[0] == kind]
    return float(max(row[2] for row in rows) - min(row[1] for row in rows))


async def naive(url: str, names: list[str]) -> float:
    """The same permission requests from a bare httpx client, 8 at a time, no pacing: this stack's floor."""
    limits = httpx.Limits(max_connections=CONCURRENCY + 2)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        login = await client.post(f"{url}/v2/users/login", json={"username": ORG, "password": TOKEN})
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(name: str) -> None:
            async with gate:
                response = await client.get(
                    f"{url}/v2/repositories/{ORG}/{name}/groups", params={"page_size": 100}, headers=headers
                )
            response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one(name) for name in names))
        return time.perf_counter() - started


def fetch_baseline(setup: Setup) -> Figures:
    names = [name for name, _ in json.loads(Path(setup.state["repositories"]).read_text(encoding="utf-8"))]
    return {
        "floor_s": math.ceil(len(names) / CONCURRENCY) * LATENCY,
        "naive_c8_s": asyncio.run(naive(setup.url, names)),
    }


def fetch_project(setup: Setup, code: Code) -> Figures:
    if not has_access(code):
        return {}
    alone, alone_stats = worker(setup, code, "permissions")
    assert alone["fetched"] == setup.state["count"], alone
    whole, whole_stats = worker(setup, code, "access")
    assert whole["listings"] == ["members", "permissions", "teams", "tokens"], whole
    figures = {
        "permissions_s": float(alone["seconds"]),
        "in_access_s": span(whole_stats, "permissions"),
        "access_s": float(whole["seconds"]),
    }
    if not code.rev:
        figures["max_in_flight"] = float(max(alone_stats["max_in_flight"], whole_stats["max_in_flight"]))
    return figures


ACCESS_FETCH = scenario(
    Scenario(
        name="access-fetch",
        what="the team permission listing at c = 8, 60 ms a request: alone and inside fetch_access",
        sizes=(1_000,),
        quick=(1_000,),
        smoke=24,
        project=fetch_project,
        baseline=fetch_baseline,
        setup=hub,
        repeats=lambda size: 3,
        targets=(
            Target("permissions_s", 1.2, over="floor_s", at=1_000, why="issue 16: near the in-flight floor"),
            Target("in_access_s", 1.2, over="floor_s", at=1_000, why="the same, inside the run's listing"),
            Target("max_in_flight", CONCURRENCY, why="never more than c requests in flight"),
        ),
    )
)


# -- under an announced budget ----------------------------------------------------------------------------


def budget_floor(requests: int, per_window: int, window: float) -> float:
    """The least time ``requests`` take under a fixed window of ``per_window``: every full window waited
    out, then the last one's requests in ⌈r / c⌉ round trips."""
    windows = math.ceil(requests / per_window)
    last = requests - (windows - 1) * per_window
    return (windows - 1) * window + math.ceil(last / CONCURRENCY) * LATENCY


def budgeted(setup: Setup, code: Code, task: str, who: str) -> Figures:
    per_window, window = setup.state["budget"]
    process: HubProcess = setup.state["hub"]
    process.call("faults", quota=per_window, quota_window=window)
    try:
        answer, stats = worker(setup, code, task)
    finally:
        process.call("faults", quota=0)
    answered = sum(1 for row in stats["requests"] if row[0] != "login" and row[3] == 200)
    return {
        f"{who}_s": float(answer["seconds"]),
        f"{who}_floor_s": budget_floor(answered, per_window, window),
        f"{who}_429": float(stats["quota_rejections"]),
    }


@contextlib.contextmanager
def budget_hub(size: int, codes: list[Code]) -> Iterator[Setup]:
    with hub(size, codes) as setup:
        setup.state["budget"] = (PER_WINDOW, WINDOW) if size >= 1_000 else SMOKE_WINDOW
        yield setup


def quota_project(setup: Setup, code: Code) -> Figures:
    if not has_access(code):
        return {}
    return {
        **budgeted(setup, code, "permissions", "permissions"),
        **budgeted(setup, code, "access", "access"),
    }


ACCESS_QUOTA = scenario(
    Scenario(
        name="access-quota",
        what=f"the permission listing and fetch_access under an announced budget ({PER_WINDOW} per "
        f"{WINDOW:g} s; smoke {SMOKE_WINDOW[0]} per {SMOKE_WINDOW[1]:g} s), 60 ms, c = 8",
        sizes=(1_000,),
        quick=(1_000,),
        smoke=12,
        project=quota_project,
        setup=budget_hub,
        repeats=lambda size: 2,
        targets=(
            Target(
                "permissions_s",
                1.2,
                over="permissions_floor_s",
                at=1_000,
                why="issue 16: near the budget's floor",
            ),
            Target("permissions_429", 3, why="issue 16: at most 3 × 429"),
            Target(
                "access_s", 1.2, over="access_floor_s", at=1_000, why="the whole access listing, the same"
            ),
            Target("access_429", 3, why="the same"),
        ),
    )
)


# -- memory ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def memory_hub(size: int, codes: list[Code]) -> Iterator[Setup]:
    with hub(size, codes, latency=MEMORY_LATENCY) as setup:
        yield setup


def memory_baseline(setup: Setup) -> Figures:
    if setup.size < SIDE_BY_SIDE:
        return {}  # the smoke: one run only
    return {"imports_mib": run_timed([PY, "-c", IMPORTS], env=hub_env(setup.url), cwd=setup.work).maxrss_mib}


def night(setup: Setup, code: Code, *extra: str) -> tuple[float, float]:
    """A first night (new folder, new SQLite database) in-process: (peak MiB, seconds)."""
    name = f"{code.label}-{next(setup.state['runs'])}"
    home = setup.work / f"prefect-home-{name}"  # empty: no server configured
    home.mkdir()
    cmd = [CLI, "run", "--output-dir", str(setup.work / f"out-{name}"), *extra]
    result = run_timed(cmd, env=code.env(hub_env(setup.url, PREFECT_HOME=str(home))), cwd=setup.work)
    if not code.rev and "running in-process" not in result.stderr:
        raise AssertionError(f"the run did not run in-process:\n{result.stderr[-2000:]}")
    if extra and not code.rev and "permissions-" not in result.stdout:
        raise AssertionError(f"run --access wrote no permissions CSV:\n{result.stdout[-2000:]}")
    return result.maxrss_mib, result.seconds


def memory_project(setup: Setup, code: Code) -> Figures:
    if not has_access(code):
        return {}
    access_mib, access_s = night(setup, code, "--access")
    if setup.size < SIDE_BY_SIDE:
        return {"access_mib": access_mib, "access_s": access_s}
    night_mib, night_s = night(setup, code)
    return {"access_mib": access_mib, "access_s": access_s, "night_mib": night_mib, "night_s": night_s}


ACCESS_MEMORY = scenario(
    Scenario(
        name="access-memory",
        what="peak RSS of `run --access` (SQLite, in-process), 400 members and 40 teams at 20,000, vs. "
        "the night without --access",
        sizes=(20_000,),
        quick=(5_000,),
        smoke=200,
        project=memory_project,
        baseline=memory_baseline,
        setup=memory_hub,
        repeats=lambda size: 2 if size >= 20_000 else 1,
        unit="MiB, s",
        targets=(Target("access_mib", TARGET_MIB, at=20_000, why="issue 16: under 400 MB"),),
    )
)
