"""Run every benchmark in turn (each prints its own table).

    python bench/run_all.py [--quick] [--compare REV] [names...]

    fetch      the listing vs. sequential next-following, 429s        bench/fetch.py
    run        whole `dockerhub-export run` vs. the reference script  bench/run.py
    startup    `--help`, `history --help`; no Prefect in queries      bench/startup.py
    memory     peak RSS of a 100,000-repository export                bench/memory.py
    snapshots  upsert_snapshot vs. a raw driver bulk insert           bench/snapshots.py
    history    backfill a year, trends, history on SQLite             bench/history.py --backend sqlite
    history-pg the same on PostgreSQL                                 bench/history.py --backend postgres
    tags       tag fetch, announced budget, nights, memory, stale/storage bench/tags.py
    views      the BI views over a year, SQLite and PostgreSQL           bench/views.py
    shared_budget  two `run --tags` jobs spending one announced budget    bench/shared_budget.py

Each full bench stays under ~10 minutes on the 2-core machine (with --compare up to ~15); --quick uses
smaller sizes; --compare REV is handed to every bench but tags, views and shared_budget (each then also
measures git revision REV's code side by side, see common.revision; the code before the tag inventory
has no tags to compare: run those three with --compare on their own). Raw figures go to
bench/results/<name>-<timestamp>.json (git-ignored).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCHES = [
    "fetch",
    "run",
    "startup",
    "memory",
    "snapshots",
    "history",
    "history-pg",
    "tags",
    "views",
    "shared_budget",
]
WITHOUT_COMPARE = {"tags", "views", "shared_budget"}
SCRIPTS = {
    "history": ("history.py", ["--backend", "sqlite"]),
    "history-pg": ("history.py", ["--backend", "postgres"]),
}


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Run every benchmark in turn.")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--compare", metavar="REV")
    parser.add_argument("names", nargs="*", metavar="name")
    options = parser.parse_args()
    quick = ["--quick"] if options.quick else []
    compare = ["--compare", options.compare] if options.compare else []
    names = options.names or BENCHES
    unknown = sorted(set(names) - set(BENCHES))
    if unknown:
        raise SystemExit(f"unknown benchmarks: {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    here = Path(__file__).resolve().parent
    failed = []
    for name in names:
        script, fixed = SCRIPTS.get(name, (f"{name}.py", []))
        args = quick + ([] if name in WITHOUT_COMPARE else compare)
        print(f"\n# {name}: python bench/{script} {' '.join([*fixed, *args])}".rstrip(), flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(here / script), *fixed, *args])
        print(f"({name} took {time.monotonic() - started:.0f} s)", flush=True)
        if code:
            failed.append(name)
    if failed:
        raise SystemExit(f"benchmarks that crashed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
