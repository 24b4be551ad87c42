"""Tags benchmark (issue 10): fetching tags, the announced rate limit, incremental nights, memory, queries.

    python bench/tags.py [--quick] [--only fetch,quota,nights,memory,queries] [--only queries --compare REV]
                         [--concurrency N]

The fake Hub is `tests/fakehub.py` with tags, in its own process (`bench/tagdata.py`: its answers cached
once encoded; latency, the X-RateLimit budget and the token check run on every request). Five parts:

1. fetch   — tags of 1,000 repositories (30 tags each, every 10th 150 = two pages, every 50th 250 = three
   pages), 60 ms a request, concurrency 8. Project = `fetch_all_pages` (repositories) + `fetch_tags` (every
   repository), the library calls of the pipeline, timed together after the login. Target: ≤ 1.2 × the
   floor requests × 60 ms / 8 (requests counted by the Hub), and never more than 8 in flight (FakeHub's
   own max_in_flight, which counts repository, tag and audit requests, and the peak recomputed from the
   requests' start and end times). Side by side, interleaved: a plain httpx.AsyncClient with a
   semaphore of 8 doing the same requests (repositories, then tags), and a raw asyncio-streams client
   (8 keep-alive connections, tags queued as soon as their repository page arrives): what this machine
   allows at all.
2. quota   — the same Hub announcing a budget of 300 requests per 10 s window in X-RateLimit-Limit /
   -Remaining / -Reset (`Faults.quota`), 429 beyond it. Target: ≤ 1.2 × the least time the budget
   allows, with at most 3 answers 429 (FakeHub.quota_rejections). Beside it the plain httpx client
   with a header pacer (waits for the reset when the announced budget, less its requests in flight, is
   spent; a 429 sleeps its Retry-After).
3. nights  — `dockerhub-export run --tags --concurrency 8 --no-prefect` (SQLite, a subprocess) three
   nights in a row: the first, a quiet one, one after k repositories changed on the Hub (a tag pushed,
   a tag deleted: only the audit log shows it, a tag pulled: the pull count moves). Target: the third
   night sends tag requests for exactly those k repositories, the quiet one none.
4. memory  — the same command at 1,500 repositories × 100 tags = 150,000 tags, 20 ms, default SQLite:
   peak RSS (wait4) of the first night and of a quiet second night ≤ 400 MB. Then the same two nights
   through `pipeline.export` in a process of their own, every stage timed with RSS and peak after it.
5. queries — a year of nightly tag history (2,000 repositories × 30 tags, 5 % of the tags changing a
   night): the rows `store.write_tag_night` writes night by night, computed and written in bulk through
   the store's own bulk path (`tagdata.BulkTagHistory`; night by night the year takes ~11 minutes here;
   checked identical on 30 nights × 100 repositories in every run); build time reported apart. Then
   `dockerhub-export stale --org acme --days 90` and `storage --org acme` as whole commands ≤ 1 s each;
   also `storage --since/--until --plot` and the json formats, and a raw sqlite3 read of the night's
   inventory in a bare `python -c` as the floor. Diagnostics: where `stale`'s time goes (in-process),
   and what `store.write_tag_night` costs a night after that year, before and after ANALYZE.

--quick: 300 repositories (fetch, quota with 100 per 5 s, nights), 500 × 100 tags (memory), 500
repositories × 60 nights (queries), fewer repetitions.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import common
from common import CLI, ORG, PY, TOKEN, clean_env, hub_env, median, require_ok, run_timed, table, verdict
from tagdata import TagHubProcess, peak_in_flight, server_span, tag_year

LATENCY = 0.06
CONCURRENCY = 8
PAGE = 100
TARGET_RATIO = 1.2
MAX_429 = 3
MEMORY_MB = 400
QUERY_S = 1.0
NIGHT = date(2026, 12, 1)


def cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settings(url: str) -> Any:
    from dockerhub_export.settings import Settings

    return Settings.load(None, org=ORG, token=TOKEN, api_url=url, concurrency=CONCURRENCY)


# -- the clients ---------------------------------------------------------------------------------------------


def project_fetch(url: str, session: Any) -> dict[str, Any]:
    """The pipeline's two library calls on the run's Hub session: every repository, then every
    repository's tags."""
    from dockerhub_export.fetch import fetch_all_pages, fetch_tags
    from dockerhub_export.resources import REPOSITORIES

    started, cpu = time.perf_counter(), time.process_time()
    listing = fetch_all_pages(session, REPOSITORIES, on_page=lambda done, total: None)
    tags = fetch_tags(session, list(listing.keys))
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "tags": len(tags.keys),
        "repositories": len(listing.keys),
        "budget_pauses": tags.stats.budget_pauses,
        "rate_limited": tags.stats.rate_limited,
    }


async def _plain(url: str, pacer: bool) -> dict[str, Any]:
    """httpx.AsyncClient, a semaphore of 8: repository pages, then every repository's tag pages (page 1,
    then the rest by number). With ``pacer``: X-RateLimit-Remaining/-Reset respected (see the docstring)."""
    import httpx
    import orjson

    limits = httpx.Limits(max_connections=CONCURRENCY + 2, max_keepalive_connections=CONCURRENCY + 2)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        answer = await client.post(f"{url}/v2/auth/token", json={"identifier": ORG, "secret": TOKEN})
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        gate = asyncio.Semaphore(CONCURRENCY)
        stats: dict[str, Any] = {"requests": 0, "429": 0, "budget_waits": 0}
        budget: dict[str, Any] = {"left": None, "reset": 0.0, "in_flight": 0}

        async def get(path: str, params: dict[str, Any]) -> dict[str, Any]:
            while True:
                async with gate:
                    while pacer and budget["left"] is not None and budget["left"] <= 0:
                        wait = budget["reset"] - time.time()
                        if wait <= 0:
                            budget["left"] = None  # a new window: the next answer tells its budget
                            break
                        stats["budget_waits"] += 1
                        await asyncio.sleep(wait + 0.05)
                    if budget["left"] is not None:
                        budget["left"] -= 1
                    stats["requests"] += 1
                    budget["in_flight"] += 1
                    try:
                        response = await client.get(url + path, params=params, headers=headers)
                    finally:
                        budget["in_flight"] -= 1
                    remaining, reset = (
                        response.headers.get("X-RateLimit-Remaining"),
                        response.headers.get("X-RateLimit-Reset"),
                    )
                    if pacer and remaining and reset:
                        left = int(remaining) - budget["in_flight"]
                        if budget["left"] is None or float(reset) > budget["reset"] + 0.5:
                            budget["left"], budget["reset"] = left, float(reset)
                        else:
                            budget["left"] = min(budget["left"], left)
                if response.status_code == 429:
                    stats["429"] += 1
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                response.raise_for_status()
                return orjson.loads(response.content)

        started, cpu = time.perf_counter(), time.process_time()
        path = f"/v2/namespaces/{ORG}/repositories"
        first = await get(path, {"page": 1, "page_size": PAGE, "ordering": "name"})
        pages = math.ceil(first["count"] / PAGE)
        rest = await asyncio.gather(
            *(get(path, {"page": p, "page_size": PAGE, "ordering": "name"}) for p in range(2, pages + 1))
        )
        names = [repo["name"] for page in (first, *rest) for repo in page["results"]]

        async def tags(name: str) -> int:
            tag_path = f"/v2/namespaces/{ORG}/repositories/{name}/tags"
            one = await get(tag_path, {"page": 1, "page_size": PAGE})
            more = await asyncio.gather(
                *(
                    get(tag_path, {"page": p, "page_size": PAGE})
                    for p in range(2, math.ceil(one["count"] / PAGE) + 1)
                )
            )
            return len(one["results"]) + sum(len(page["results"]) for page in more)

        counts = await asyncio.gather(*(tags(name) for name in names))
        stats.update(
            seconds=time.perf_counter() - started,
            cpu=time.process_time() - cpu,
            tags=sum(counts),
            repositories=len(names),
        )
        return stats


def plain_fetch(url: str, pacer: bool = False) -> dict[str, Any]:
    return asyncio.run(_plain(url, pacer))


async def _raw(url: str) -> dict[str, Any]:
    """8 keep-alive connections over asyncio streams, HTTP/1.1 by hand, orjson; a tag listing is queued
    as soon as its repository's page arrives, its later pages as soon as its first one does."""
    import collections

    import orjson

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80

    async def request(reader: Any, writer: Any, head: str, body: bytes = b"") -> tuple[int, bytes]:
        writer.write(head.encode() + body)
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        length = next(
            int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
        )
        return int(lines[0].split()[1]), await reader.readexactly(length)

    reader, writer = await asyncio.open_connection(host, port)
    body = orjson.dumps({"identifier": ORG, "secret": TOKEN})
    _, answer = await request(
        reader,
        writer,
        f"POST /v2/auth/token HTTP/1.1\r\nHost: {host}\r\nContent-Type: "
        f"application/json\r\nContent-Length: {len(body)}\r\n\r\n",
        body,
    )
    auth = f"Authorization: Bearer {orjson.loads(answer)['access_token']}\r\n"
    writer.close()
    started, cpu = time.perf_counter(), time.process_time()
    jobs: collections.deque[tuple[str, str, int]] = collections.deque([("list", "", 1)])
    state = {"pending": 1, "tags": 0, "requests": 0, "repositories": 0}
    wake = asyncio.Event()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                if not jobs:
                    if state["pending"] == 0:
                        return
                    wake.clear()
                    await wake.wait()
                    continue
                kind, name, page = jobs.popleft()
                path = (
                    f"/v2/namespaces/{ORG}/repositories?page={page}&page_size={PAGE}&ordering=name"
                    if kind == "list"
                    else f"/v2/namespaces/{ORG}/repositories/{name}/tags?page={page}&page_size={PAGE}"
                )
                state["requests"] += 1
                status, content = await request(
                    reader, writer, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n"
                )
                assert status == 200, (status, path)
                data = orjson.loads(content)
                if kind == "list":
                    if page == 1:
                        jobs.extend(("list", "", p) for p in range(2, math.ceil(data["count"] / PAGE) + 1))
                        state["pending"] += math.ceil(data["count"] / PAGE) - 1
                    jobs.extend(("tags", repo["name"], 1) for repo in data["results"])
                    state["pending"] += len(data["results"])
                    state["repositories"] += len(data["results"])
                else:
                    state["tags"] += len(data["results"])
                    if page == 1:
                        more = math.ceil(data["count"] / PAGE) - 1
                        jobs.extendleft(("tags", name, p) for p in range(2, more + 2))
                        state["pending"] += more
                state["pending"] -= 1
                wake.set()
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu, **state}


def raw_fetch(url: str) -> dict[str, Any]:
    return asyncio.run(_raw(url))


# -- 1. fetch ------------------------------------------------------------------------------------------------


def fetch_part(n: int, repeats: int) -> tuple[list[list[Any]], dict[str, Any], list[str]]:
    from dockerhub_export.session import open_session

    results: dict[str, list[dict[str, Any]]] = {
        "project": [],
        "plain httpx, semaphore 8": [],
        "raw asyncio": [],
    }
    with (
        TagHubProcess(n, 30, mixed=True, latency=LATENCY, token=TOKEN) as hub,
        open_session(settings(hub.url)) as auth,
    ):
        assert hub.proc is not None
        hub.call("warm")
        project_fetch(hub.url, auth)  # warm-up
        for _ in range(repeats):
            for who, run in (
                ("project", lambda: project_fetch(hub.url, auth)),
                ("plain httpx, semaphore 8", lambda: plain_fetch(hub.url)),
                ("raw asyncio", lambda: raw_fetch(hub.url)),
            ):
                hub.reset()
                hub_cpu = cpu_seconds(hub.proc.pid)
                result = run()
                result["hub_cpu"] = cpu_seconds(hub.proc.pid) - hub_cpu
                stats = hub.stats()
                rows = stats["requests"]
                assert result["tags"] == hub.tags, (who, result["tags"], hub.tags)
                assert all(r[5] == 200 for r in rows), Counter(r[5] for r in rows)
                tag_rows = [r for r in rows if r[0] == "tags"]
                list_rows = [r for r in rows if r[0] == "list"]
                result["stage_gap"] = min(r[3] for r in tag_rows) - max(r[4] for r in list_rows)
                result["list_span"] = server_span(list_rows)
                result.update(
                    requests=len(rows),
                    tag_requests=len(tag_rows),
                    hub_max_in_flight=stats["max_in_flight"],
                    peak=peak_in_flight(rows),
                    peak_tags=peak_in_flight(tag_rows),
                    server_span=server_span(rows),
                    mean_in_flight=sum(r[4] - r[3] for r in rows) / server_span(rows),
                )
                results[who].append(result)
                print(
                    f"  {who}: {result['seconds']:.2f} s for {len(rows)} requests "
                    f"({result['seconds'] / (len(rows) * LATENCY / CONCURRENCY):.3f} × floor)",
                    flush=True,
                )
    rows_out = []
    for who, runs in results.items():
        requests = runs[0]["requests"]
        floor = requests * LATENCY / CONCURRENCY
        seconds = median([r["seconds"] for r in runs])
        in_flight = max(r["hub_max_in_flight"] for r in runs)
        peak = max(r["peak"] for r in runs)
        ratio = seconds / floor
        target = (
            (
                f"{verdict(ratio <= TARGET_RATIO and in_flight <= CONCURRENCY and peak <= CONCURRENCY)} "
                f"≤ {TARGET_RATIO} × floor, ≤ {CONCURRENCY} in flight"
            )
            if who == "project"
            else ""
        )
        rows_out.append(
            [
                who,
                requests,
                floor,
                seconds,
                ratio,
                f"{in_flight} / {peak}",
                median([r["mean_in_flight"] for r in runs]),
                median([r["cpu"] for r in runs]),
                median([r["hub_cpu"] for r in runs]),
                target,
            ]
        )
    project = median([r["seconds"] for r in results["project"]])
    plain = median([r["seconds"] for r in results["plain httpx, semaphore 8"]])
    rows_out.append(["project / plain httpx", "", "", project / plain, "", "", "", "", "", ""])
    runs = results["project"]
    pages = math.ceil(n / PAGE)
    notes = [
        f"fetch, project: the repository pages take {median([r['list_span'] for r in runs]):.2f} s on the "
        f"server (page 1, then the rest: {pages} pages in 1 + {math.ceil((pages - 1) / CONCURRENCY)} "
        f"round trips), then {median([r['stage_gap'] for r in runs]):.3f} s pass between the last repository "
        "page answered and the first tag request (fetch_tags, on the same session); "
        f"plain httpx: {median([r['stage_gap'] for r in results['plain httpx, semaphore 8']]):.3f} s"
    ]
    return rows_out, {"repositories": n, "tags": runs[0]["tags"], "runs": results}, notes


# -- 2. the announced budget ---------------------------------------------------------------------------------


def budget_floor(requests: int, per_window: int, window: float) -> float:
    """The least time ``requests`` take under a fixed window of ``per_window``: every full window waited
    out, then the last one's requests in ⌈r/c⌉ round trips."""
    windows = math.ceil(requests / per_window)
    last = requests - (windows - 1) * per_window
    return (windows - 1) * window + math.ceil(last / CONCURRENCY) * LATENCY


def quota_part(n: int, per_window: int, window: float) -> tuple[list[list[Any]], dict[str, Any]]:
    from dockerhub_export.session import open_session

    rows_out: list[list[Any]] = []
    raw: dict[str, Any] = {}
    with (
        TagHubProcess(n, 30, mixed=True, latency=LATENCY, token=TOKEN) as hub,
        open_session(settings(hub.url)) as auth,
    ):
        hub.call("warm")
        for who, run in (
            ("project", lambda: project_fetch(hub.url, auth)),
            ("plain httpx + header pacer", lambda: plain_fetch(hub.url, pacer=True)),
        ):
            hub.faults(quota=0)
            hub.reset()
            hub.faults(quota=per_window, quota_window=window)
            result = run()
            stats = hub.stats()
            hub.faults(quota=0)
            rows = stats["requests"]
            assert result["tags"] == hub.tags
            answered = sum(1 for r in rows if r[5] == 200)
            rejected = stats["quota_rejections"]
            floor = budget_floor(answered, per_window, window)
            ratio = result["seconds"] / floor
            # Budget windows used, from the server's clock: the first request's answer opened the first one.
            t0 = min(r[4] for r in rows)
            windows = Counter(int((r[4] - t0) // window) for r in rows if r[5] == 200)
            target = (
                (
                    f"{verdict(ratio <= TARGET_RATIO and rejected <= MAX_429)} ≤ {TARGET_RATIO} × floor, "
                    f"≤ {MAX_429} × 429"
                )
                if who == "project"
                else ""
            )
            rows_out.append(
                [
                    who,
                    answered,
                    rejected,
                    f"{per_window} / {window:g} s",
                    floor,
                    result["seconds"],
                    ratio,
                    " ".join(str(windows[i]) for i in sorted(windows)),
                    stats["max_in_flight"],
                    target,
                ]
            )
            raw[who] = {
                **result,
                "answered": answered,
                "429": rejected,
                "floor": floor,
                "per_window": dict(windows),
            }
            print(f"  {who}: {result['seconds']:.1f} s, {rejected} × 429, floor {floor:.1f} s", flush=True)
    return rows_out, raw


# -- 3. incremental nights -----------------------------------------------------------------------------------


def night_cmd(work: Path, day: date, *extra: str) -> list[str]:
    return [
        CLI,
        "run",
        "--org",
        ORG,
        "--tags",
        "--concurrency",
        str(CONCURRENCY),
        "--no-prefect",
        "--output-dir",
        str(work),
        "--snapshot-date",
        day.isoformat(),
        *extra,
    ]


def requests_by_kind(rows: list[list[Any]]) -> Counter[str]:
    return Counter(r[0] for r in rows)


def nights_part(n: int, k: int) -> tuple[list[list[Any]], dict[str, Any], list[str]]:
    work = Path(tempfile.mkdtemp(prefix="bench-tags-nights-"))
    rows_out: list[list[Any]] = []
    notes: list[str] = []
    raw: dict[str, Any] = {}
    try:
        with TagHubProcess(n, 30, mixed=True, latency=LATENCY, token=TOKEN) as hub:
            hub.call("warm")
            env = hub_env(hub.url)
            changed: dict[str, str] = {}
            for index, (label, day) in enumerate(
                (
                    ("first night", NIGHT),
                    ("quiet night", NIGHT + timedelta(days=1)),
                    (f"night after {k} changes", NIGHT + timedelta(days=2)),
                )
            ):
                if index == 2:
                    changed = hub.call("change", k=k, seed=3)["changed"]
                    hub.call("warm")
                hub.reset()
                result = require_ok(run_timed(night_cmd(work, day), env=env, cwd=work), f"{label}")
                stats = hub.stats()
                rows = stats["requests"]
                kinds = requests_by_kind(rows)
                listed = sorted({r[1] for r in rows if r[0] == "tags"})
                if index == 0:
                    ok = len(listed) == n
                    expect = f"all {n}"
                elif index == 1:
                    ok = not listed
                    expect = "none"
                else:
                    ok = listed == sorted(changed)
                    expect = f"exactly the {k} changed"
                    extra = sorted(set(listed) - set(changed))
                    missed = sorted(set(changed) - set(listed))
                    notes.append(
                        f"changed on the Hub: {dict(Counter(changed.values()))}; tag requests for "
                        f"{len(listed)} repositories, {len(extra)} unchanged among them {extra[:5]}, "
                        f"{len(missed)} changed ones missed {missed[:5]}"
                    )
                rows_out.append(
                    [
                        label,
                        len(rows),
                        kinds["list"],
                        kinds["tags"],
                        len(listed),
                        kinds["audit"],
                        result.seconds,
                        result.maxrss_mib * 1.048576,
                        f"{verdict(ok)} tag requests for {expect}",
                    ]
                )
                raw[label] = {
                    "seconds": result.seconds,
                    "requests": dict(kinds),
                    "repositories_listed": len(listed),
                    "maxrss_mib": result.maxrss_mib,
                }
                print(f"  {label}: {result.seconds:.1f} s, {dict(kinds)}", flush=True)
            raw["changed"] = changed
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows_out, raw, notes


# -- 4. memory -----------------------------------------------------------------------------------------------


def memory_part(n: int, per_repo: int) -> tuple[list[list[Any]], dict[str, Any], list[str]]:
    work = Path(tempfile.mkdtemp(prefix="bench-tags-memory-"))
    rows_out: list[list[Any]] = []
    raw: dict[str, Any] = {}
    notes: list[str] = []
    try:
        with TagHubProcess(n, per_repo, latency=0.02, token=TOKEN) as hub:
            started = time.perf_counter()
            hub.call("warm")
            print(
                f"  hub: {hub.tags:,} tags, pages encoded in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            env = hub_env(hub.url)
            for label, day in (("first night", NIGHT), ("quiet second night", NIGHT + timedelta(days=1))):
                hub.reset()
                result = require_ok(run_timed(night_cmd(work, day), env=env, cwd=work), label)
                rows = hub.stats()["requests"]
                mb = result.maxrss_mib * 1.048576
                target = f"{verdict(mb <= MEMORY_MB)} ≤ {MEMORY_MB} MB" if hub.tags >= 150_000 else ""
                rows_out.append(
                    [
                        f"run --tags, {label}",
                        hub.tags,
                        requests_by_kind(rows)["tags"],
                        result.maxrss_mib,
                        mb,
                        result.seconds,
                        target,
                    ]
                )
                raw[label] = {"maxrss_mib": result.maxrss_mib, "seconds": result.seconds}
                print(f"  {label}: {mb:.0f} MB, {result.seconds:.1f} s", flush=True)
            floor = require_ok(
                run_timed([PY, "-c", "import pandas, httpx, sqlalchemy"], env=clean_env()), "imports"
            )
            rows_out.append(
                [
                    "baseline: python -c 'import pandas, httpx, sqlalchemy'",
                    "",
                    "",
                    floor.maxrss_mib,
                    floor.maxrss_mib * 1.048576,
                    floor.seconds,
                    "",
                ]
            )
            raw["imports_mib"] = floor.maxrss_mib
            # Where the time and the memory go: the same two nights through `pipeline.export` in a process
            # of their own, each stage timed with the process's RSS and peak after it.
            staged = work / "staged"
            for label, day in (("first night", NIGHT), ("quiet second night", NIGHT + timedelta(days=1))):
                result = require_ok(
                    run_timed([PY, "-c", STAGED, hub.url, ORG, TOKEN, str(staged), day.isoformat()], env=env),
                    f"staged {label}",
                )
                raw[f"stages, {label}"] = json.loads(result.stdout)
                notes.append(
                    f"{label}, stage by stage (s, RSS/peak MB after it): " + stages(json.loads(result.stdout))
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows_out, raw, notes


STAGED = r"""
import json, sys, time
from datetime import date
t0 = time.perf_counter()
from dockerhub_export.pipeline import RunOptions, export
from dockerhub_export.settings import Settings

def memory():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return [int(fields[key].split()[0]) * 1024 / 1e6 for key in ("VmRSS", "VmHWM")]

stages = [["imports", time.perf_counter() - t0, *memory()]]
def call(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    stages.append([function.__qualname__, time.perf_counter() - started, *memory()])
    return result

url, org, token, folder, day = sys.argv[1:6]
settings = Settings.load(None, org=org, token=token, api_url=url, export_dir=folder, concurrency=8)
started = time.perf_counter()
export(settings, RunOptions(snapshot_date=date.fromisoformat(day), include_tags=True), call=call)
stages.append(["export, all", time.perf_counter() - started, *memory()])
print(json.dumps(stages))
"""


def stages(rows: list[list[Any]]) -> str:
    """The stages that took ≥ 0.3 s or raised the peak by ≥ 10 MB, and the total."""
    shown, peak = [], 0.0
    for name, seconds, rss, hwm in rows:
        if seconds >= 0.3 or hwm - peak >= 10 or name == "export, all":
            shown.append(f"{name} {seconds:.2f} s ({rss:.0f}/{hwm:.0f})")
        peak = max(peak, hwm)
    return ", ".join(shown)


# -- 5. queries over a year ----------------------------------------------------------------------------------

RAW_INVENTORY = r"""
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
org = sys.argv[2]
night = con.execute("SELECT max(snapshot_date) FROM tag_nights WHERE namespace = ?", (org,)).fetchone()[0]
rows = con.execute(
    "SELECT repository, tag, digest, full_size, tag_last_pulled, tag_last_pushed FROM tags "
    "WHERE namespace = ? AND valid_from <= ? AND valid_to IS NULL UNION ALL "
    "SELECT repository, tag, digest, full_size, tag_last_pulled, tag_last_pushed FROM tags "
    "WHERE namespace = ? AND valid_from <= ? AND valid_to > ?", (org, night, org, night, night)
).fetchall()
print(len(rows))
"""


def queries_part(
    nights: int, repos: int, per_repo: int, repeats: int, rev: Any = None
) -> tuple[list[list[Any]], dict[str, Any], list[str]]:
    """With ``rev`` (--compare REV), the four query commands also run on REV's code, each right after the
    current code's run, on the same file: ``raw["compare"]`` holds those pairs."""
    from tagdata import same_history

    from dockerhub_export import store

    work = Path(tempfile.mkdtemp(prefix="bench-tags-queries-"))
    notes: list[str] = []
    raw: dict[str, Any] = {}
    rows_out: list[list[Any]] = []
    try:
        # The year is written in bulk (the store's own bulk path, see tagdata.BulkTagHistory): night by night
        # through write_tag_night it takes ~11 minutes here (see nightly_write). First the proof, small.
        small = [store.open_engine(f"sqlite:///{work / name}") for name in ("store.db", "bulk.db")]
        try:
            checked = [
                tag_year(engine, ORG, NIGHT + timedelta(days=29), 30, 100, per_repo, bulk=bulk)
                for engine, bulk in zip(small, (False, True), strict=True)
            ]
            same = same_history(small[0], small[1], ORG)
        finally:
            for engine in small:
                engine.dispose()
        notes.append(
            f"bulk history vs write_tag_night night by night (30 nights × 100 repositories): {same}; "
            f"{checked[0]['seconds']:.1f} s vs {checked[1]['seconds']:.1f} s"
        )
        path = work / "snapshots.db"
        url = f"sqlite:///{path}"
        engine = store.open_engine(url)
        end = NIGHT + timedelta(days=nights - 1)
        try:
            built = tag_year(
                engine,
                ORG,
                end,
                nights,
                repos,
                per_repo,
                bulk=True,
                progress=lambda line: print(line, flush=True),
            )
        finally:
            engine.dispose()
        versions = _count(path, "SELECT count(*) FROM tags")
        raw["build"] = {**built, "versions": versions, "db_mib": path.stat().st_size / 2**20}
        print(
            f"  built {nights} tag nights of {repos:,} × {per_repo} tags in {built['seconds']:.1f} s: "
            f"{versions:,} tag versions, {path.stat().st_size / 2**20:.0f} MiB",
            flush=True,
        )
        rows_out.append(
            [
                f"build: {nights} nights in bulk ({built['rows_written']:,} rows listed, {versions:,} "
                "versions)",
                built["seconds"],
                "",
                "",
                "",
                "",
            ]
        )
        env = clean_env()
        common_args = ["--org", ORG, "--database-url", url]
        plot = work / "storage.png"
        commands = [
            ("stale --org acme --days 90", [CLI, "stale", "--days", "90", *common_args], True),
            ("storage --org acme", [CLI, "storage", *common_args], True),
            (
                "stale --days 90 --format json",
                [CLI, "stale", "--days", "90", "--format", "json", *common_args],
                False,
            ),
            ("storage --format json", [CLI, "storage", "--format", "json", *common_args], False),
            (
                f"storage --since {built['first']} --until {end} --plot",
                [
                    CLI,
                    "storage",
                    *common_args,
                    "--since",
                    str(built["first"]),
                    "--until",
                    str(end),
                    "--plot",
                    str(plot),
                ],
                False,
            ),
            (
                "baseline: raw sqlite3 read of the night's inventory (python -c)",
                [PY, "-c", RAW_INVENTORY, str(path), ORG],
                False,
            ),
        ]
        timings: dict[str, list[float]] = {}
        old: dict[str, list[float]] = {label: [] for label, _, _ in commands[:4]} if rev else {}
        wanted: dict[str, int] = {}
        outputs: dict[str, str] = {}
        for (
            label,
            cmd,
            _,
        ) in commands:  # the first run warms the page cache; a slow command counts it, runs twice
            first = require_ok(run_timed(cmd, env=env, cwd=work), label)
            slow = first.seconds * repeats >= 30
            timings[label], wanted[label] = ([first.seconds], 2) if slow else ([], repeats)
        for _ in range(repeats):  # interleaved
            for label, cmd, _ in commands:
                if len(timings[label]) >= wanted[label]:
                    continue
                result = require_ok(run_timed(cmd, env=env, cwd=work), label)
                timings[label].append(result.seconds)
                outputs[label] = result.stdout
                if label in old:
                    before = require_ok(run_timed(cmd, env=rev.env(env), cwd=work), f"{label} on {rev.label}")
                    old[label].append(before.seconds)
        floor = median(timings[commands[-1][0]])
        for label, _, targeted in commands:
            seconds = median(timings[label])
            rows_out.append(
                [
                    label,
                    seconds,
                    len(timings[label]),
                    len(outputs[label].splitlines()),
                    seconds / floor,
                    f"{verdict(seconds <= QUERY_S)} ≤ {QUERY_S:g} s" if targeted and nights >= 365 else "",
                ]
            )
        raw["timings"] = timings
        if rev:
            raw["compare"] = {
                label: {"current": timings[label], rev.rev: values} for label, values in old.items()
            }
        notes.append(
            f"inventory of the last night: {outputs[commands[-1][0]].strip()} tags; "
            "`storage --since/--until` only choose the nights of --plot (without --plot they change nothing)"
        )
        notes.append(_profile_stale(url))
        notes += nightly_write(url)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows_out, raw, notes


def _count(path: Path, sql: str) -> int:
    import sqlite3

    with sqlite3.connect(path) as connection:
        return int(connection.execute(sql).fetchone()[0])


def _profile_stale(url: str) -> str:
    """Where `stale`'s time goes, in this process: imports aside, the inventory read, the report, the JSON,
    and rich's table per row (measured on the first 2,000 stale rows)."""
    import io
    import json

    from rich.console import Console
    from rich.table import Table

    from dockerhub_export import store
    from dockerhub_export.tag_queries import INVENTORY, stale

    started = time.perf_counter()
    engine = store.open_engine(url, create=False)
    night = store.newest_tag_night(engine, ORG)
    assert night is not None
    opened = time.perf_counter()
    rows = store.tag_inventory(engine, ORG, night.snapshot_date, INVENTORY)
    read = time.perf_counter()
    report = stale(rows, night.snapshot_date, 90)
    reported = time.perf_counter()
    json.dumps(report.to_json_dict())
    dumped = time.perf_counter()
    sample = report.tags[:2000]
    grid = Table(title="stale", title_justify="left")
    for heading in ("repository", "tag", "size", "last pulled", "last pushed"):
        grid.add_column(heading, justify="right" if heading == "size" else "left")
    for row in sample:
        grid.add_row(
            row["repository"],
            row["tag"],
            str(row["full_size"]),
            row["tag_last_pulled"] or "never",
            row["tag_last_pushed"] or "—",
        )
    drawing = time.perf_counter()
    Console(file=io.StringIO(), width=80).print(grid)
    drawn = time.perf_counter()
    engine.dispose()
    per_row = (drawn - drawing) / max(1, len(sample))
    return (
        f"stale --days 90 in this process: open + newest night {opened - started:.2f} s, "
        f"inventory of {len(rows):,} "
        f"rows {read - opened:.2f} s, report {reported - read:.2f} s ({len(report.tags):,} stale tags), json "
        f"{dumped - reported:.2f} s; rich's table {per_row * 1000:.2f} ms a row (2,000 rows: "
        f"{drawn - drawing:.2f} s), i.e. ~{per_row * len(report.tags):.0f} s for all {len(report.tags):,}"
    )


def nightly_write(url: str, nights: int = 2) -> list[str]:
    """What `store.write_tag_night` costs a night after the year (300 repositories listed, a third of their
    tags pulled), and its slowest statements; then the same after the planner got statistics (ANALYZE)."""
    import random
    import sqlite3
    from datetime import datetime

    from sqlalchemy import event

    from dockerhub_export import store

    engine = store.open_engine(url)
    statements: list[tuple[float, str]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(
            (time.perf_counter() - conn.info["bench_started"], " ".join(statement.split())[:70])
        )

    notes = []
    try:
        rnd = random.Random(5)
        newest = store.newest_tag_night(engine, ORG)
        assert newest is not None
        night = newest.snapshot_date
        rows = store.tag_inventory(engine, ORG, night)
        repos = sorted({row[0] for row in rows})
        names = ("repository", "tag", *store.TAG_COLUMNS)
        pulled = names.index("tag_last_pulled")
        for phase in ("after the year", "after ANALYZE"):
            if phase == "after ANALYZE":
                with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
                    connection.execute("ANALYZE")
            for _ in range(nights):
                night += timedelta(days=1)
                fetched = set(rnd.sample(repos, min(300, len(repos))))
                columns: dict[str, list[Any]] = {name: [] for name in names}
                for row in rows:
                    if row[0] in fetched:
                        values = list(row)
                        if rnd.random() < 1 / 3:
                            values[pulled] = f"{night.isoformat()}T01:00:00.{rnd.randrange(10**6)}Z"
                        for name, value in zip(names, values, strict=True):
                            columns[name].append(value)
                statements.clear()
                started = time.perf_counter()
                store.write_tag_night(
                    engine,
                    ORG,
                    night,
                    columns,
                    sorted(fetched),
                    repos,
                    started_at=datetime(night.year, night.month, night.day, 2),
                )
                seconds = time.perf_counter() - started
                slowest = sorted(statements, reverse=True)[:2]
                notes.append(
                    f"write_tag_night {phase} ({night}, {len(columns['tag']):,} tags of {len(fetched)} "
                    f"repositories): {seconds:.2f} s; slowest statements: "
                    + "; ".join(f"{s:.2f} s {text}…" for s, text in slowest)
                )
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            plan = connection.execute(
                "EXPLAIN QUERY PLAN SELECT repository, digest, max(full_size), count(*) FROM tags "
                "WHERE namespace = 'acme' AND valid_to IS NULL GROUP BY repository, digest"
            ).fetchall()
        notes.append(f"its totals query's plan after ANALYZE: {[row[3] for row in plan]}")
    finally:
        engine.dispose()
    return notes


# -- main ----------------------------------------------------------------------------------------------------

PARTS = ("fetch", "quota", "nights", "memory", "queries")


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument(
            "--only", default=",".join(PARTS), help=f"comma-separated parts of {', '.join(PARTS)}"
        )
        parser.add_argument(
            "--concurrency", type=int, default=CONCURRENCY, help="requests in flight (default: %(default)s)"
        )

    global CONCURRENCY
    args = common.parse_args(__doc__.splitlines()[0], extra)
    CONCURRENCY = args.concurrency
    only = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = sorted(set(only) - set(PARTS))
    if unknown:
        raise SystemExit(f"unknown parts: {', '.join(unknown)}")
    if args.compare and only != ["queries"]:
        raise SystemExit("--compare REV measures the queries part only: add --only queries")
    print(common.machine(), flush=True)
    compared = None
    quick = args.quick
    raw: dict[str, Any] = {"quick": quick}
    tables: list[tuple[str, list[str], list[list[Any]]]] = []
    notes: list[str] = []
    if "fetch" in only:
        n = 300 if quick else 1_000
        print(f"\n# fetch: {n:,} repositories", flush=True)
        rows, raw["fetch"], extra_notes = fetch_part(n, 1 if quick else 3)
        notes += extra_notes
        tables.append(
            (
                f"Fetch: repositories + tags of {n:,} repositories ({raw['fetch']['tags']:,} tags), "
                f"{LATENCY * 1000:.0f} ms a request, concurrency {CONCURRENCY} "
                f"(median of {1 if quick else 3})",
                [
                    "client",
                    "requests",
                    "floor s",
                    "seconds",
                    "× floor",
                    "max in flight (hub / records)",
                    "mean in flight",
                    "client CPU s",
                    "hub CPU s",
                    "target",
                ],
                rows,
            )
        )
    if "quota" in only:
        n, per_window, window = (300, 100, 5.0) if quick else (1_000, 300, 10.0)
        print(f"\n# quota: {n:,} repositories, {per_window} requests per {window:g} s", flush=True)
        rows, raw["quota"] = quota_part(n, per_window, window)
        tables.append(
            (
                f"Announced budget: {n:,} repositories, {per_window} requests per {window:g} s window "
                "(X-RateLimit-*), 60 ms",
                [
                    "client",
                    "requests answered",
                    "429s",
                    "budget",
                    "floor s",
                    "seconds",
                    "× floor",
                    "requests per window",
                    "max in flight",
                    "target",
                ],
                rows,
            )
        )
    if "nights" in only:
        n, k = (300, 9) if quick else (1_000, 20)
        print(f"\n# nights: {n:,} repositories, {k} changed before the third night", flush=True)
        rows, raw["nights"], extra_notes = nights_part(n, k)
        notes += extra_notes
        tables.append(
            (
                f"Incremental nights: `dockerhub-export run --tags --concurrency 8 --no-prefect`, {n:,} "
                "repositories, 60 ms, SQLite",
                [
                    "night",
                    "requests",
                    "repository pages",
                    "tag requests",
                    "repositories listed",
                    "audit requests",
                    "seconds",
                    "peak RSS MB",
                    "target",
                ],
                rows,
            )
        )
    if "memory" in only:
        n, per_repo = (500, 100) if quick else (1_500, 100)
        print(f"\n# memory: {n:,} repositories × {per_repo} tags", flush=True)
        rows, raw["memory"], extra_notes = memory_part(n, per_repo)
        notes += extra_notes
        tables.append(
            (
                f"Memory: `dockerhub-export run --tags --concurrency 8 --no-prefect`, "
                f"{n:,} × {per_repo} tags, "
                "20 ms, default SQLite (ru_maxrss)",
                ["process", "tags", "tag requests", "peak RSS MiB", "peak RSS MB", "seconds", "target"],
                rows,
            )
        )
    if "queries" in only:
        nights, repos, per_repo, repeats = (60, 500, 30, 3) if quick else (365, 2_000, 30, 5)
        print(f"\n# queries: {nights} nights of {repos:,} × {per_repo} tags", flush=True)
        with common.revision(args.compare) as rev:
            rows, raw["queries"], extra_notes = queries_part(nights, repos, per_repo, repeats, rev)
            compared = rev
        notes += extra_notes
        tables.append(
            (
                f"Queries over {nights} nights of tag history ({repos:,} repositories × {per_repo} tags, 5 % "
                f"changing a night), whole commands, SQLite (median of {repeats})",
                ["command", "seconds", "runs", "output lines", "× raw read", "target"],
                rows,
            )
        )
    print(f"\n{common.machine()}")
    for title, headers, rows in tables:
        table(title, headers, rows)
    if notes:
        print()
        for note in notes:
            print(note)
    if compared is not None:
        pairs = raw["queries"]["compare"]
        common.compare_table(
            compared,
            "Query commands",
            [(label, "s", pair["current"], pair[args.compare]) for label, pair in pairs.items()],
        )
    path = common.save("tags", raw)
    print(f"\nraw figures: {path}")


if __name__ == "__main__":
    main()
