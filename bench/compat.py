"""The library calls the benches measure, for the current API and the one before the reshape (issue 9).

    python bench/compat.py TASK ARGS...     (a worker: run with PYTHONPATH set to one revision's code)

Importable (the benches call the adapters in-process on the current code) and runnable as a worker
process that runs one measured part on whichever `dockerhub_export` its PYTHONPATH gives (see
`common.Revision`), so that `--compare REV` measures the old code exactly like the new one. As a worker
it must not import `common` (which puts this tree's `src` first on sys.path); it only appends this
tree's `tests` (for `fakehub.make_repos`, which imports nothing of the project).

Each adapter tries the API of the run's Hub session (issue 15: `session.open_session(settings)`, then
`fetch.fetch_all_pages(session, resource)`), then the one of the reshape
(`fetch.fetch_all_pages(settings, auth, resource)`,
`transform.to_frame(records, schema, org)`, `csv_output.write_csv(frame, path, resource)`, the schema's
kinds, `timestamps.timestamp_texts`) and falls back to the one of 9b1adc3 and before
(`hub.fetch_all_pages(settings, auth)`, `transform.to_frame(records, org)`,
`csv_output.write_csv(frame, path)`, `transform.KINDS`, `store.timestamp_texts`).

Tasks (each prints one JSON line; ``module`` is the `dockerhub_export` it ran):

    fetch URL ORG TOKEN CONCURRENCY            authenticate, then `fetch_all_pages` timed alone
    library URL ORG TOKEN DIR                  the memory bench's library path (peak RSS by the caller)
    upsert DB_URL ORG N DAY PREVIOUS           `upsert_snapshot` of a new day after yesterday's, then again
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1] / "tests"


def _session_api() -> bool:
    """Whether the `dockerhub_export` imported has `session.py` (one Hub session per run, issue 15)."""
    import dockerhub_export

    return (Path(dockerhub_export.__file__).parent / "session.py").is_file()


def _new_api() -> bool:
    """Whether the `dockerhub_export` imported has `resources.py` (only since the reshape).

    Looked up as a file, not imported: the editable install's import hook would find the current tree's
    `dockerhub_export.resources` for a package (REV's) that has none.
    """
    import dockerhub_export

    return (Path(dockerhub_export.__file__).parent / "resources.py").is_file()


def preload() -> None:
    """Import what the adapters import lazily, so that no timed part pays for an import (the reshape's
    `fetch` module imports `transform`, hence pandas, where the old `hub` had already imported it)."""
    import importlib

    names = ["hub", "transform", "csv_output", "store", "settings"]
    names += ["fetch", "resources", "timestamps"] if _new_api() else []
    names += ["session"] if _session_api() else []
    for name in names:
        importlib.import_module(f"dockerhub_export.{name}")


def repositories() -> Any:
    from dockerhub_export.resources import REPOSITORIES

    return REPOSITORIES


def login(settings: Any) -> Any:
    """Logged in: the run's Hub session (`close` it), or the auth object of older revisions."""
    if _session_api():
        from dockerhub_export.session import open_session

        return open_session(settings)
    from dockerhub_export import hub

    return hub.authenticate(settings)


def close(login: Any) -> None:
    if _session_api():
        login.close()


def fetch_all_pages(settings: Any, auth: Any, on_page: Any = None) -> Any:
    """``auth``: what `login` gave."""
    if _session_api():
        from dockerhub_export import fetch

        return fetch.fetch_all_pages(auth, repositories(), on_page=on_page)
    if _new_api():
        from dockerhub_export import fetch

        return fetch.fetch_all_pages(settings, auth, repositories(), on_page=on_page)
    from dockerhub_export import hub

    return hub.fetch_all_pages(settings, auth, on_page=on_page)


def list_repositories(settings: Any, auth: Any, org: str, on_page: Any = None) -> Any:
    """The listing through the client alone, without `fetch_all_pages`' GC pause (fetch.py --gc);
    ``auth``: what `login` gave."""
    import asyncio

    if _session_api():
        from dockerhub_export.fetch import list_resource

        return auth.run(lambda client: list_resource(client, repositories(), org, on_page=on_page))

    async def run() -> Any:
        if _new_api():
            from dockerhub_export.fetch import list_resource
            from dockerhub_export.hub import HubClient

            async with HubClient.for_settings(settings, auth, None) as client:
                return await list_resource(client, repositories(), org, on_page=on_page)
        from dockerhub_export import hub

        async with hub._client(settings, auth, None) as client:
            return await client.list_repositories(org, on_page=on_page)

    return asyncio.run(run())


def to_frame(records: Any, org: str) -> Any:
    from dockerhub_export import transform

    if _new_api():
        return transform.to_frame(records, repositories().schema, org)
    return transform.to_frame(records, org)


def from_columns(columns: Any, org: str, *, consume: bool = False) -> Any:
    from dockerhub_export import transform

    if _new_api():
        return transform.from_columns(columns, repositories().schema, org, consume=consume)
    return transform.from_columns(columns, org, consume=consume)


def write_csv(frame: Any, path: Path) -> Path:
    from dockerhub_export import csv_output

    if _new_api():
        return csv_output.write_csv(frame, path, repositories())
    return csv_output.write_csv(frame, path)


def kinds() -> dict[str, str]:
    """Column name → kind (text, bool, int, timestamp, list)."""
    if _new_api():
        return dict(repositories().schema.kinds)
    from dockerhub_export.transform import KINDS

    return dict(KINDS)


def timestamp_texts(cells: Any) -> Any:
    if _new_api():
        from dockerhub_export.timestamps import timestamp_texts as texts
    else:
        from dockerhub_export.store import timestamp_texts as texts
    return texts(cells)


def settings(url: str, org: str, token: str, concurrency: int | None = None, **extra: Any) -> Any:
    from dockerhub_export.settings import Settings

    if concurrency is not None:
        extra["concurrency"] = concurrency
    return Settings.load(None, org=org, token=token, api_url=url, **extra)


# -- the worker's tasks --------------------------------------------------------------------------------


def task_fetch(url: str, org: str, token: str, concurrency: str) -> dict[str, Any]:
    s = settings(url, org, token, int(concurrency), max_attempts=6)
    auth = login(s)
    started = time.perf_counter()
    listing = fetch_all_pages(s, auth, on_page=lambda done, total: None)
    seconds = time.perf_counter() - started
    close(auth)
    # `keys` since the reshape; `names` before it
    return {"seconds": seconds, "count": len(getattr(listing, "keys", None) or listing.names)}


def task_library(url: str, org: str, token: str, directory: str) -> dict[str, Any]:
    s = settings(url, org, token, export_dir=directory)
    auth = login(s)
    listing = fetch_all_pages(s, auth, on_page=lambda done, total: None)
    close(auth)
    frame = from_columns(listing.columns, listing.org, consume=True)
    path = write_csv(frame, Path(directory) / "lib.csv")
    return {"count": len(frame), "path": str(path)}


def task_upsert(db_url: str, org: str, n: str, day: str, previous: str) -> dict[str, Any]:
    from datetime import date

    from fakehub import make_repos

    from dockerhub_export import store

    today = to_frame(make_repos(org, int(n), seed=1), org)
    yesterday = to_frame(make_repos(org, int(n), seed=0), org)
    engine = store.open_engine(db_url)
    if engine.dialect.name == "postgresql":
        store.upsert_snapshot(engine, org, date.fromisoformat(previous), yesterday)
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
    else:
        store.upsert_snapshot(engine, org, date.fromisoformat(previous), yesterday)
    started = time.perf_counter()
    store.upsert_snapshot(engine, org, date.fromisoformat(day), today)
    first = time.perf_counter() - started
    started = time.perf_counter()
    store.upsert_snapshot(engine, org, date.fromisoformat(day), today)
    rewrite = time.perf_counter() - started
    engine.dispose()
    return {"first": first, "rewrite": rewrite}


TASKS = {"fetch": task_fetch, "library": task_library, "upsert": task_upsert}


def main() -> None:
    sys.path.append(str(TESTS))
    task, *args = sys.argv[1:]
    preload()
    result = TASKS[task](*args)
    import dockerhub_export

    result["module"] = str(Path(dockerhub_export.__file__).resolve().parent)
    result["api"] = "session" if _session_api() else "reshape" if _new_api() else "before the reshape"
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
