"""A measured library call in its own process, on whichever `dockerhub_export` PYTHONPATH gives.

    python bench/harness/worker.py TASK ARGS...     (prints one JSON line; ``module``: what it imported)

    fetch URL ORG TOKEN CONCURRENCY     open the Hub session, then `fetch_all_pages` timed alone
    library URL ORG TOKEN DIR           the library path of an export: session, `fetch_all_pages`,
                                        `from_columns` (consuming the listing, as the run does), `write_csv`
    access URL ORG TOKEN CONCURRENCY REPOS  the session, then `access_fetch.fetch_access` of the repositories
                                        in the JSON file REPOS ([[name, is_private], ...]) timed alone
    permissions URL ORG TOKEN CONCURRENCY REPOS  the same, the team permission listing alone (the
                                        `list_per_repository` call `fetch_access` makes) timed alone

It calls this tree's API only: ``--compare REV`` runs REV's own worker (see `tools.Code.worker`). It
imports nothing of the harness, so that REV's code is all it measures.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def task_fetch(url: str, org: str, token: str, concurrency: str) -> dict[str, Any]:
    from dockerhub_export.fetch import fetch_all_pages
    from dockerhub_export.resources import REPOSITORIES
    from dockerhub_export.session import open_session
    from dockerhub_export.settings import Settings

    settings = Settings.load(
        None, org=org, token=token, api_url=url, concurrency=int(concurrency), max_attempts=6
    )
    session = open_session(settings)
    try:
        started = time.perf_counter()
        listing = fetch_all_pages(session, REPOSITORIES, on_page=lambda done, total: None)
        seconds = time.perf_counter() - started
    finally:
        session.close()
    return {"seconds": seconds, "count": len(listing.keys)}


def task_library(url: str, org: str, token: str, directory: str) -> dict[str, Any]:
    from dockerhub_export import csv_output, transform
    from dockerhub_export.fetch import fetch_all_pages
    from dockerhub_export.resources import REPOSITORIES
    from dockerhub_export.session import open_session
    from dockerhub_export.settings import Settings

    session = open_session(Settings.load(None, org=org, token=token, api_url=url, export_dir=directory))
    try:
        listing = fetch_all_pages(session, REPOSITORIES, on_page=lambda done, total: None)
    finally:
        session.close()
    frame = transform.from_columns(listing.columns, REPOSITORIES.schema, listing.org, consume=True)
    path = csv_output.write_csv(frame, Path(directory) / "lib.csv", REPOSITORIES)
    return {"count": len(frame), "path": str(path)}


def _access_session(url: str, org: str, token: str, concurrency: str) -> Any:
    from dockerhub_export.session import open_session
    from dockerhub_export.settings import Settings

    settings = Settings.load(
        None, org=org, token=token, api_url=url, concurrency=int(concurrency), max_attempts=6
    )
    return open_session(settings)


def task_access(url: str, org: str, token: str, concurrency: str, repositories: str) -> dict[str, Any]:
    from dockerhub_export.access import Repository
    from dockerhub_export.access_fetch import fetch_access

    listed = [Repository(name, private) for name, private in json.loads(Path(repositories).read_text())]
    session = _access_session(url, org, token, concurrency)
    try:
        started = time.perf_counter()
        night, warnings = fetch_access(session, listed)
        seconds = time.perf_counter() - started
    finally:
        session.close()
    held = (night.members, night.teams, night.grants, night.tokens)
    counts = dict(
        zip(("members", "teams", "grants", "tokens"), (len(part or ()) for part in held), strict=True)
    )
    return {"seconds": seconds, "warnings": len(warnings), "listings": sorted(night.listings()), **counts}


def task_permissions(url: str, org: str, token: str, concurrency: str, repositories: str) -> dict[str, Any]:
    from dockerhub_export.fetch import list_per_repository
    from dockerhub_export.resources import REPOSITORY_GROUPS

    names = [name for name, _ in json.loads(Path(repositories).read_text())]
    session = _access_session(url, org, token, concurrency)
    try:
        started = time.perf_counter()
        listing = session.run(lambda hub: list_per_repository(hub, REPOSITORY_GROUPS, org, names))
        seconds = time.perf_counter() - started
    finally:
        session.close()
    stats = listing.stats
    return {
        "seconds": seconds,
        "fetched": len(listing.fetched),
        "grants": len(listing.columns["team"]),
        "rate_limited": stats.rate_limited,
        "budget_pauses": stats.budget_pauses,
    }


TASKS: dict[str, Callable[..., dict[str, Any]]] = {
    "fetch": task_fetch,
    "library": task_library,
    "access": task_access,
    "permissions": task_permissions,
}


def main() -> None:
    task, *args = sys.argv[1:]
    if task not in TASKS:
        raise SystemExit(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    result = TASKS[task](*args)
    import dockerhub_export

    result["module"] = str(Path(dockerhub_export.__file__).resolve().parent)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
