"""The store's measured calls, each in its own process, on whichever `dockerhub_export` PYTHONPATH gives.

    python bench/harness/store_worker.py TASK ARGS...   (prints one JSON line; ``module``: what it imported)

    upsert DB_URL ORG N DAY PREVIOUS      `upsert_snapshot` of N repositories (`make_repos`, framed by
                                          `to_frame`, not timed) the day after PREVIOUS's snapshot: the new
                                          day, then the same day again (``first``, ``rewrite``)
    views_year DB_URL END DAYS N TAG_REPOS  the views bench's year: DAYS snapshots of N repositories
                                          (`repoyear`), then DAYS tag nights of TAG_REPOS × 30 tags in
                                          bulk (`tagyear`); what the checks need

Run through `tools.Code.worker(task, ..., script="store_worker.py")`: with ``--compare REV``, REV's own
copy when it has the task (before the harness, `bench/compat.py`'s ``upsert``). Of the harness it imports
only the data generators, which import nothing of it.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1]
TESTS = BENCH.parent / "tests"


def task_upsert(db_url: str, org: str, n: str, day: str, previous: str) -> dict[str, Any]:
    from dockerhub_export import store, transform
    from dockerhub_export.resources import REPOSITORIES

    sys.path.append(str(TESTS))
    make_repos = importlib.import_module("fakehub").make_repos
    today = transform.to_frame(make_repos(org, int(n), seed=1), REPOSITORIES.schema, org)
    yesterday = transform.to_frame(make_repos(org, int(n), seed=0), REPOSITORIES.schema, org)
    engine = store.open_engine(db_url)
    store.upsert_snapshot(engine, org, date.fromisoformat(previous), yesterday)
    if engine.dialect.name == "postgresql":  # the planner's statistics, as a nightly database has them
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
    seconds = []
    for _ in ("first", "rewrite"):
        started = time.perf_counter()
        store.upsert_snapshot(engine, org, date.fromisoformat(day), today)
        seconds.append(time.perf_counter() - started)
    engine.dispose()
    return {"first": seconds[0], "rewrite": seconds[1]}


def task_views_year(db_url: str, end: str, days: str, n: str, tag_repos: str) -> dict[str, Any]:
    from dockerhub_export import store
    from harness.repoyear import ORG, repository_year
    from harness.tagyear import tag_year

    engine = store.open_engine(db_url)
    try:
        year = repository_year(engine, date.fromisoformat(end), int(days), int(n))
        tags = tag_year(engine, ORG, date.fromisoformat(end), int(days), int(tag_repos), 30, bulk=True)
    finally:
        engine.dispose()
    return {**dataclasses.asdict(year), "tag_seconds": tags["seconds"]}


TASKS = {"upsert": task_upsert, "views_year": task_views_year}


def main() -> None:
    sys.path.insert(0, str(BENCH))  # the data generators, as `harness.*`
    task, *args = sys.argv[1:]
    if task not in TASKS:
        raise SystemExit(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    result = TASKS[task](*args)
    import dockerhub_export

    result["module"] = str(Path(dockerhub_export.__file__).resolve().parent)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
