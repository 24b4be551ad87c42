"""Run scenarios: every repetition measures the baseline, then the project on each code, interleaved.

    python bench/run_all.py [--smoke [--jobs N] | --quick] [--only NAME,...] [--compare REV] [--repeat N]

Prints one table per scenario (figures, targets) and, with ``--compare REV``, current / REV per project
figure (median of the paired ratios, PASS ≤ 1.10); writes the raw figures to
bench/results/<scenario>-<timestamp>.json. Exits non-zero if a scenario crashed (the others still run).
``--smoke --jobs N`` shares the scenarios among N processes (a smoke run checks that every bench runs,
not its figures, so it may share the cores; a measured run may not).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

from harness import report
from harness.core import REGISTRY, Run, Scenario
from harness.tools import BENCH, Code, codes

RESULTS = BENCH / "results"  # git-ignored


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the benchmarks (scenarios) side by side.")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true", help="every scenario at its smallest size, once")
    size.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    parser.add_argument("--compare", default="", metavar="REV", help="also measure git revision REV's code")
    parser.add_argument("--repeat", type=int, default=0, metavar="N", help="repetitions per size")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--results", type=Path, default=RESULTS, metavar="DIR", help="where the JSON goes")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="with --smoke: N processes at once")
    options = parser.parse_args(argv)
    if options.jobs != 1 and not (options.smoke and options.jobs > 1):
        parser.error(
            "--jobs N (2 or more) is for --smoke only: measured figures need the cores to themselves"
        )
    unknown = sorted(set(filter(None, options.only.split(","))) - set(REGISTRY))
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(REGISTRY)}")
    if options.repeat < 0:
        parser.error("--repeat takes a number of repetitions, 1 or more")
    if options.compare and not is_revision(options.compare):
        parser.error(f"--compare {options.compare}: not a git revision of this repository (try a commit)")
    return options


def is_revision(rev: str) -> bool:
    check = ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"]
    return subprocess.run(check, cwd=BENCH, capture_output=True).returncode == 0


def sizes(item: Scenario, options: argparse.Namespace) -> tuple[int, ...]:
    return (item.smoke,) if options.smoke else item.quick if options.quick else item.sizes


def measure(item: Scenario, size: int, repeats: int, under_test: list[Code]) -> Run:
    run = Run(size)
    with item.setup(size, under_test) as setup:
        for _ in range(repeats):
            run.add(run.baseline, item.baseline(setup))
            for code in under_test:
                run.add(run.project.setdefault(code.label, {}), item.project(setup, code))
    return run


def run_scenario(item: Scenario, options: argparse.Namespace, under_test: list[Code]) -> list[Run]:
    runs = []
    for size in sizes(item, options):
        repeats = 1 if options.smoke else options.repeat or item.repeats(size)
        started = time.monotonic()
        runs.append(measure(item, size, repeats, under_test))
        print(f"  {item.name} at {size:,}: {repeats} × in {time.monotonic() - started:.1f} s", flush=True)
    return runs


def save(item: Scenario, options: argparse.Namespace, runs: list[Run]) -> Path:
    options.results.mkdir(parents=True, exist_ok=True)
    path: Path = options.results / f"{item.name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    data = {
        "scenario": item.name,
        "compare": options.compare,
        "load": os.getloadavg(),
        "runs": [{"size": r.size, "baseline": r.baseline, "project": r.project} for r in runs],
    }
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def in_parallel(options: argparse.Namespace, chosen: list[Scenario]) -> int:
    """The smoke run shared among ``options.jobs`` processes, round robin; each one's output printed
    whole, in turn, so that it reads as one run."""
    shares = [chosen[start :: options.jobs] for start in range(options.jobs)]
    fixed = [
        "--smoke",
        "--results",
        str(options.results),
        *(["--compare", options.compare] * bool(options.compare)),
    ]
    children = [
        subprocess.Popen(
            [sys.executable, sys.argv[0], *fixed, "--only", ",".join(item.name for item in share)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for share in shares
        if share
    ]
    failed = 0
    for child in children:
        output, _ = child.communicate()
        print(output, end="", flush=True)
        failed |= child.returncode != 0
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    chosen = [REGISTRY[name] for name in filter(None, options.only.split(","))] or list(REGISTRY.values())
    if options.list:
        print(report.listing(list(REGISTRY.values())))
        return 0
    if options.jobs > 1:
        return in_parallel(options, chosen)
    print(report.machine(), flush=True)
    crashed = []
    with codes(options.compare) as under_test:
        for item in chosen:
            print(f"\n# {item.name}: {item.what}", flush=True)
            if options.smoke and item.smoke_skip:
                print(f"  skipped by --smoke: {item.smoke_skip}", flush=True)
                continue
            try:
                runs = run_scenario(item, options, under_test)
                print(f"raw figures: {save(item, options, runs)}", flush=True)
                print(report.figures(item, runs, under_test), flush=True)
            except Exception:
                traceback.print_exc()
                crashed.append(item.name)
    if crashed:
        print(f"\nscenarios that crashed: {', '.join(crashed)}", flush=True)
    return 1 if crashed else 0
