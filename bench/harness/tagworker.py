"""The tags benches' library calls, each in its own process, on whichever `dockerhub_export` PYTHONPATH gives.

    python bench/harness/tagworker.py TASK ARGS...   (prints one JSON line; ``module``: what it imported)

    tags URL ORG TOKEN CONCURRENCY        open the run's Hub session, then time the pipeline's two library
                                          calls together: `fetch_all_pages` (repositories), then
                                          `fetch_tags` of every repository
    tag_year DB_URL ORG END NIGHTS REPOS  NIGHTS tag nights of REPOS × 30 tags ending on END, written in
                                          bulk by this code's store (`tagyear`)

Run through `tools.Code.worker(task, ..., script="tagworker.py")`: with ``--compare REV``, REV's own copy
where REV has one. Of the harness it imports only the data generator, which imports nothing of it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any


def task_tags(url: str, org: str, token: str, concurrency: str) -> dict[str, Any]:
    from dockerhub_export.fetch import fetch_all_pages, fetch_tags
    from dockerhub_export.resources import REPOSITORIES
    from dockerhub_export.session import open_session
    from dockerhub_export.settings import Settings

    settings = Settings.load(None, org=org, token=token, api_url=url, concurrency=int(concurrency))
    session = open_session(settings)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        listing = fetch_all_pages(session, REPOSITORIES, on_page=lambda done, total: None)
        tags = fetch_tags(session, list(listing.keys))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        session.close()
    return {"seconds": seconds, "cpu": cpu, "repositories": len(listing.keys), "tags": len(tags.keys)}


def task_tag_year(db_url: str, org: str, end: str, nights: str, repos: str) -> dict[str, Any]:
    from dockerhub_export import store
    from harness.tagyear import tag_year

    engine = store.open_engine(db_url)
    try:
        built = tag_year(engine, org, date.fromisoformat(end), int(nights), int(repos), 30, bulk=True)
    finally:
        engine.dispose()
    return {"seconds": built["seconds"], "rows_written": built["rows_written"]}


TASKS: dict[str, Callable[..., dict[str, Any]]] = {"tags": task_tags, "tag_year": task_tag_year}


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the data generator, as `harness.tagyear`
    task, *args = sys.argv[1:]
    if task not in TASKS:
        raise SystemExit(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    result = TASKS[task](*args)
    import dockerhub_export

    result["module"] = str(Path(dockerhub_export.__file__).resolve().parent)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
