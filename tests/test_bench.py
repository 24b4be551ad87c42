"""The benchmarks cannot rot: every scenario of bench/harness/ runs at its smallest size in the test suite.

`python bench/run_all.py --smoke` runs each scenario once at its smoke size, against the fake Hub in its
own process, with the real CLI; a crash fails the run. Every bench is a scenario: bench/ holds no other
script. How long the smoke takes is a figure of docs/benchmarks.md (`time python bench/run_all.py --smoke
--jobs 2`), not a test: on a shared 2-core machine a timed assertion fails for the machine's load.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
# Every scenario of the harness; a new one is added here, and then runs in the smoke test.
SCENARIOS = {
    "fetch",
    "fetch-burst",
    "fetch-quota",
    "memory",
    "run",
    "startup",
    "tags-fetch",
    "tags-quota",
    "tags-nights",
    "tags-memory",
    "tags-queries",
    "shared-budget",
    "access-fetch",
    "access-quota",
    "access-memory",
    "access-queries",
    "access-view",
    "snapshots",
    "backfill",
    "history",
    "views",
    "report-year",
    "report-run",
}
SKIPPED_BY_SMOKE = {"memory-flow", "run-flow"}  # `smoke_skip` says why (a Prefect server's start-up)
SKIPPED_BY_SMOKE |= {"snapshots-pg", "backfill-pg", "history-pg", "views-pg"}  # a PostgreSQL server
SKIPPED_BY_SMOKE |= {"access-view-pg"}  # a PostgreSQL server


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    results = tmp_path_factory.mktemp("bench-results")
    cmd = [sys.executable, str(BENCH / "run_all.py"), "--smoke", "--jobs", "2", "--results", str(results)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    return done, results


def test_the_smoke_run_of_every_bench_exits_cleanly(
    smoke: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, _ = smoke
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "Traceback" not in done.stdout + done.stderr


def test_every_scenario_wrote_its_figures_and_the_skipped_one_says_why(
    smoke: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, results = smoke
    written = {
        json.loads(path.read_text())["scenario"]: json.loads(path.read_text())
        for path in results.glob("*.json")
    }
    assert set(written) == SCENARIOS
    for name, data in written.items():
        (run,) = data["runs"]
        figures = run["project"]["current"]
        assert figures and all(len(values) == 1 for values in figures.values()), name
        assert all(value == value and value >= 0 for values in figures.values() for value in values), name
    for name in SKIPPED_BY_SMOKE:
        assert f"# {name}:" in done.stdout and "skipped by --smoke: " in done.stdout


def test_an_unknown_scenario_is_one_clear_line_and_a_non_zero_exit() -> None:
    cmd = [sys.executable, str(BENCH / "run_all.py"), "--smoke", "--only", "nosuch"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    assert "unknown scenario nosuch; choose from fetch," in done.stderr and "Traceback" not in done.stderr


def test_a_compare_with_no_such_revision_is_one_clear_line_and_a_non_zero_exit() -> None:
    cmd = [sys.executable, str(BENCH / "run_all.py"), "--smoke", "--compare", "no-such-rev"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    assert "--compare no-such-rev: not a git revision" in done.stderr and "Traceback" not in done.stderr


def test_every_bench_is_a_scenario_of_the_harness() -> None:
    assert {path.name for path in BENCH.glob("*.py")} == {"run_all.py"}
