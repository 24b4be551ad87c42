"""Whole run: `dockerhub-export run` (the README's first command, and as a flow run) vs. the reference script.

One fake Hub (own process, 60 ms per request). Per repetition, the baseline ``reference_s`` is
`tests/reference/export.sh` (curl + jq, sequential `next`-following) writing repos.csv; then on each code:

* scenario ``run`` — ``first_s``: `dockerhub-export run` with NO Prefect server configured (an empty
  throw-away PREFECT_HOME), default settings, into a new folder: it builds its SQLite database, as a new
  user's first run does, in-process (checked: its stderr says so); ``later_s``: the same command the
  next night into the same folder (database and yesterday's snapshot there);
* scenario ``run-flow`` — with a running `prefect server start`: ``flow_s`` a flow run at the defaults,
  ``flow_c8_s`` with ``--concurrency 8``, each code in its own folders, a new --snapshot-date each run
  (each code's first flow run, which registers the flow, is a warm-up).

Checks: the six reference columns of every current CSV equal the script's rows (as a set: the script
keeps the Hub's order); REV's first-night CSV is byte-identical to the current one.
Targets at 20,000 repositories: both nights ≤ 0.15 × the reference (issue 19); the flow run ≤ 0.25 ×
(issue 2).
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from harness.core import Figures, Scenario, Setup, Target, scenario
from harness.tools import CLI, ROOT, Code, HubProcess, Timed, hub_env, prefect_server, run_timed

LATENCY = 0.06
IN_PROCESS_MARK = "running in-process"
NIGHT = date(2026, 11, 2)
REFERENCE_SCRIPT = ROOT / "tests" / "reference" / "export.sh"


def six_columns(path: Path) -> set[tuple[str, ...]]:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    return {tuple(row[:6]) for row in rows[1:]}


def csv_of(result: Timed) -> Path:
    return Path(result.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def hub(size: int, codes: list[Code]) -> Iterator[Setup]:
    work = Path(tempfile.mkdtemp(prefix="bench-run-"))
    try:
        with HubProcess(repos=size, latency=LATENCY) as process:
            yield Setup(size, codes, url=process.url, work=work, state={"count": itertools.count()})
    finally:
        shutil.rmtree(work, ignore_errors=True)


def reference(setup: Setup) -> Figures:
    folder = setup.work / f"script-{next(setup.state['count'])}"
    folder.mkdir()
    env = hub_env(setup.url, HUB=setup.url, ORG="acme", OAT="bench-oat-acme")
    result = run_timed(["bash", str(REFERENCE_SCRIPT)], env=env, cwd=folder)
    setup.state["reference"] = six_columns(folder / "repos.csv")
    return {"reference_s": result.seconds}


def export(code: Code, env: dict[str, str], folder: Path, day: date, *extra: str) -> Timed:
    cmd = [CLI, "run", "--output-dir", str(folder), "--snapshot-date", day.isoformat(), *extra]
    return run_timed(cmd, env=code.env(env), cwd=folder.parent)


def check(setup: Setup, code: Code, result: Timed, what: str) -> None:
    """Current: the six reference columns equal the script's rows. REV: its first CSV is byte-identical."""
    path = csv_of(result)
    if code.rev:
        if what == "first" and path.read_bytes() != setup.state["first_csv"]:
            raise AssertionError(f"{code.label}'s first-night CSV differs from the current code's")
        return
    if what == "first":
        setup.state["first_csv"] = path.read_bytes()
    if six_columns(path) != setup.state["reference"] or len(setup.state["reference"]) != setup.size:
        raise AssertionError(f"the {what} run's CSV differs from the reference script's rows")


def nights(setup: Setup, code: Code) -> Figures:
    """The README's first command, a first then a later night, with no Prefect server configured."""
    name = f"{code.label}-{next(setup.state['count'])}"
    home = setup.work / f"prefect-home-{name}"  # empty: no profile, so no server configured
    home.mkdir()
    env = hub_env(setup.url, PREFECT_HOME=str(home))
    figures = {}
    for what, day in (("first", NIGHT), ("later", NIGHT + timedelta(days=1))):
        result = export(code, env, setup.work / f"nights-{name}", day)
        if not code.rev and IN_PROCESS_MARK not in result.stderr:
            raise AssertionError(f"the run did not run in-process:\n{result.stderr[-2000:]}")
        check(setup, code, result, what)
        figures[f"{what}_s"] = result.seconds
    return figures


@contextlib.contextmanager
def with_server(size: int, codes: list[Code]) -> Iterator[Setup]:
    with hub(size, codes) as setup, prefect_server() as prefect:
        setup.env = hub_env(setup.url, **prefect)
        for code in codes:  # the first flow run on a fresh server registers the flow: a warm-up
            flow_run(setup, code, "flow")
        yield setup


def flow_run(setup: Setup, code: Code, variant: str, *extra: str) -> Timed:
    key = f"day-{code.label}-{variant}"
    day = setup.state[key] = setup.state.get(key, NIGHT) + timedelta(days=1)
    result = export(code, setup.env, setup.work / f"out-{code.label}-{variant}", day, *extra)
    if IN_PROCESS_MARK in result.stderr:
        raise AssertionError("the run with PREFECT_API_URL set ran in-process")
    return result


def flows(setup: Setup, code: Code) -> Figures:
    result = flow_run(setup, code, "flow")
    if not code.rev and six_columns(csv_of(result)) != setup.state["reference"]:
        raise AssertionError("the flow run's CSV differs from the reference script's rows")
    return {
        "flow_s": result.seconds,
        "flow_c8_s": flow_run(setup, code, "flow_c8", "--concurrency", "8").seconds,
    }


def _repeats(size: int) -> int:
    return 3 if size >= 20_000 else 1


RUN = scenario(
    Scenario(
        name="run",
        what="the README's first command (no server: in-process), first and later night, vs. the reference",
        sizes=(20_000,),
        quick=(5_000,),
        smoke=200,
        project=nights,
        baseline=reference,
        setup=hub,
        repeats=_repeats,
        targets=(
            Target("first_s", 0.15, over="reference_s", at=20_000, why="issue 19 (0.25 × in issue 9)"),
            Target("later_s", 0.15, over="reference_s", at=20_000, why="issue 19"),
        ),
    )
)
RUN_FLOW = scenario(
    Scenario(
        name="run-flow",
        what="`dockerhub-export run` as a flow run (server running), defaults and c = 8, vs. the reference",
        sizes=(20_000,),
        quick=(5_000,),
        smoke=200,
        project=flows,
        baseline=reference,
        setup=with_server,
        repeats=_repeats,
        targets=(Target("flow_s", 0.25, over="reference_s", at=20_000, why="issue 2"),),
        smoke_skip="its Prefect server alone takes 15-40 s to start here, over the smoke's minute; the flow "
        "tests (tests/test_flow*.py) run flows on a real server",
    )
)
