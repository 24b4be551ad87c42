"""Fetch benchmark: the project's concurrent listing vs. a sequential `next`-following client.

    python bench/fetch.py [--quick] [--gc] [--compare REV]

Against the fake Hub (own process, 60 ms injected latency per request) at 1,000 / 20,000 / 100,000
repositories (--quick: 1,000 / 20,000), in one run:

* project  — `hub.authenticate` + `fetch.fetch_all_pages` with concurrency 8 (the library path the flow's
  fetch task calls); the timed span is `fetch_all_pages` alone (login excluded on both sides);
* baseline — what the reference doc's script does: log in, then GET ``?page_size=100`` and follow
  ``next`` one page at a time (httpx, keep-alive; no jq, so the baseline is the protocol, not bash);
* limit    — the physical floor (1 + ⌈(P−1)/c⌉)·L;
* naive c=8 — a bare httpx client with 8 pages in flight and no coordination, no retries, no checks:
  what this HTTP stack and this (2-core, shared) machine achieve, i.e. the practical floor.

Target: the project's span ≤ 1.3 × limit at 20,000 repositories, and FakeHub.max_in_flight ≤ c.

Then two 429 scenarios at 20,000 repositories (see `rate_limit_scenarios`): a Hub that answers 429
(Retry-After: 1) to every 70th request, and a Hub with a fixed-window quota of 40 requests per second.
The project is compared with a naive concurrent client that retries each 429 on its own.
With ``--compare REV``: `fetch_all_pages` at every size again, timed inside a worker process
(`bench/compat.py fetch`) on the current code and on REV's (`common.revision`), interleaved (5 pairs;
100,000: 2), reported as current / REV (PASS ≤ 1.10).
With --gc, a diagnostic: the same fetch with Python's cyclic GC on vs. paused as `fetch_all_pages` does.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import common
import compat
from common import ORG, TOKEN, HubProcess, limit_span, median, span, table, verdict

LATENCY = 0.06
CONCURRENCY = 8
PAGE = 100


def settings(url: str, concurrency: int = CONCURRENCY) -> Any:
    return compat.settings(url, ORG, TOKEN, concurrency, max_attempts=6)


def project_fetch(url: str, concurrency: int = CONCURRENCY) -> tuple[float, Any]:
    from dockerhub_export import hub

    s = settings(url, concurrency)
    auth = hub.authenticate(s)
    started = time.perf_counter()
    listing = compat.fetch_all_pages(s, auth, on_page=lambda done, total: None)
    return time.perf_counter() - started, listing


def sequential_fetch(url: str) -> tuple[float, int]:
    """The reference script's protocol: legacy login, then follow `next` one page at a time."""
    import httpx

    with httpx.Client(timeout=30) as client:
        token = client.post(f"{url}/v2/users/login", json={"username": ORG, "password": TOKEN}).json()[
            "token"
        ]
        headers = {"Authorization": f"Bearer {token}"}
        next_url: str | None = f"{url}/v2/namespaces/{ORG}/repositories?page_size={PAGE}"
        count = 0
        started = time.perf_counter()
        while next_url:
            body = client.get(next_url, headers=headers).json()
            count += len(body["results"])
            next_url = body.get("next")
        return time.perf_counter() - started, count


async def _naive(url: str, concurrency: int) -> dict[str, Any]:
    """A concurrent client without coordination: c pages in flight, each 429 retried on its own after
    the Retry-After it got (the usual per-request retry decorator)."""
    import httpx

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency + 2)) as client:
        token = (
            await client.post(f"{url}/v2/users/login", json={"username": ORG, "password": TOKEN})
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        gate = asyncio.Semaphore(concurrency)
        stats = {"requests": 0, "rate_limited": 0, "repositories": 0}
        list_url = f"{url}/v2/namespaces/{ORG}/repositories"

        async def page(number: int) -> dict[str, Any]:
            while True:
                async with gate:
                    stats["requests"] += 1
                    response = await client.get(
                        list_url,
                        params={"page": number, "page_size": PAGE, "ordering": "name"},
                        headers=headers,
                    )
                if response.status_code == 429:
                    stats["rate_limited"] += 1
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                response.raise_for_status()
                return response.json()

        started = time.perf_counter()
        first = await page(1)
        pages = -(-first["count"] // PAGE)
        rest = await asyncio.gather(*(page(n) for n in range(2, pages + 1)))
        stats["repositories"] = len(first["results"]) + sum(len(p["results"]) for p in rest)
        stats["seconds"] = time.perf_counter() - started
        return stats


def naive_fetch(url: str, concurrency: int = CONCURRENCY) -> dict[str, Any]:
    return asyncio.run(_naive(url, concurrency))


# -- in-flight analysis from the server's own records ------------------------------------------------


def max_in_flight(rows: list[list[Any]], t0: float, t1: float) -> int:
    """Most list requests in flight at any instant of [t0, t1), from (started, ended) records."""
    events: list[tuple[float, int]] = []
    for _page, started, ended, _status in rows:
        if ended <= t0 or started >= t1:
            continue
        events.append((max(started, t0), 1))
        events.append((ended, -1))
    events.sort(key=lambda e: (e[0], e[1]))
    level = peak = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    return peak


def started_between(rows: list[list[Any]], t0: float, t1: float) -> int:
    return sum(1 for r in rows if t0 < r[1] < t1)


# -- scenarios ----------------------------------------------------------------------------------------


def compared_fetch(
    sizes: list[int], repeats: dict[int, int], old: common.Revision
) -> tuple[list[tuple[str, str, list[float], list[float]]], dict[str, Any]]:
    """`fetch_all_pages` (c=8) timed in a worker process on the current code and on REV's, interleaved."""
    rows: list[tuple[str, str, list[float], list[float]]] = []
    raw: dict[str, Any] = {}
    for n in sizes:
        times: dict[str, list[float]] = {"current": [], "old": []}
        with HubProcess(repos=n, latency=LATENCY) as hub:
            project_fetch(hub.url)  # the Hub's sorted view, built on the first ordered request
            for _ in range(repeats.get(n, 1)):
                for key, code in (("current", common.CURRENT), ("old", old)):
                    answer, _ = code.worker("fetch", hub.url, ORG, TOKEN, CONCURRENCY)
                    assert answer["count"] == n, answer
                    times[key].append(answer["seconds"])
        print(
            f"  {n:,} repositories: current {median(times['current']):.2f} s, {old.rev} "
            f"{median(times['old']):.2f} s",
            flush=True,
        )
        rows.append(
            (
                f"fetch_all_pages, {n:,} repositories (c={CONCURRENCY}, {LATENCY * 1000:.0f} ms)",
                "s",
                times["current"],
                times["old"],
            )
        )
        raw[str(n)] = times
    return rows, raw


def throughput(sizes: list[int], repeats: dict[int, int]) -> tuple[list[list[Any]], dict[str, Any]]:
    rows: list[list[Any]] = []
    raw: dict[str, Any] = {}
    for n in sizes:
        pages = -(-n // PAGE)
        floor = limit_span(pages, CONCURRENCY, LATENCY)
        project_times: list[float] = []
        server_spans: list[float] = []
        baseline_times: list[float] = []
        naive_times: list[float] = []
        in_flight = 0
        with HubProcess(repos=n, latency=LATENCY) as hub:
            # Warm-up: the Hub builds its sorted view of the namespace on the first ordered request.
            project_fetch(hub.url)
            for _ in range(repeats.get(n, 1)):  # interleaved: project, baseline, project, baseline, ...
                hub.reset()
                seconds, listing = project_fetch(hub.url)
                stats = hub.stats()
                assert len(listing.keys) == n, (len(listing.keys), n)
                project_times.append(seconds)
                server_spans.append(span(stats))
                in_flight = max(in_flight, stats["max_in_flight"])
                seconds, count = sequential_fetch(hub.url)
                assert count == n
                baseline_times.append(seconds)
                naive = naive_fetch(hub.url)
                assert naive["repositories"] == n
                naive_times.append(naive["seconds"])
        project, baseline = median(project_times), median(baseline_times)
        ratio = project / floor
        target = "≤ 1.3× limit, ≤ 8 in flight" if n == 20_000 else ""
        rows.append(
            [
                f"{n:,}",
                pages,
                floor,
                project,
                median(server_spans),
                ratio,
                in_flight,
                median(naive_times),
                project / median(naive_times),
                baseline,
                baseline / project,
                (verdict(ratio <= 1.3 and in_flight <= CONCURRENCY) + " " + target) if target else "",
            ]
        )
        raw[str(n)] = {
            "pages": pages,
            "limit": floor,
            "project": project_times,
            "server_span": server_spans,
            "baseline": baseline_times,
            "naive_c8": naive_times,
            "max_in_flight": in_flight,
        }
        print(
            f"  {n:,} repositories: project {project:.2f} s, limit {floor:.2f} s, "
            f"sequential {baseline:.2f} s",
            flush=True,
        )
    return rows, raw


def timeline(rows: list[list[Any]], step: float = 0.1) -> str:
    """Max list requests in flight per ``step`` seconds, one character each; "!" marks a 429 answered."""
    start = min(r[1] for r in rows)
    end = max(r[2] for r in rows)
    marks = {int((r[2] - start) / step) for r in rows if r[3] == 429}
    out = []
    for i in range(int((end - start) / step) + 1):
        t0 = start + i * step
        out.append("!" if i in marks else str(min(9, max_in_flight(rows, t0, t0 + step))))
    return "".join(out)


REACTION = 0.1  # seconds a client may take to notice a 429 (requests already handed to the socket)


def burst_429(n: int) -> tuple[list[list[Any]], dict[str, Any], list[str]]:
    """Every 70th list request answers 429 with Retry-After: 1 (the FakeHub fault)."""
    every, pause = 70, 1.0
    rows: list[list[Any]] = []
    raw: dict[str, Any] = {}
    lines: list[str] = []
    with HubProcess(repos=n, latency=LATENCY) as hub:
        project_fetch(hub.url)  # warm-up
        for who in ("project", "naive"):
            hub.reset()
            hub.faults(rate_limit_every=every, retry_after=pause)
            seconds = timed_fetch(who, hub.url, n)
            hub.faults(rate_limit_every=0)
            stats = hub.stats()
            requests = stats["list_requests"]
            limited = sorted((r for r in requests if r[3] == 429), key=lambda r: r[2])
            sent_paused = before = during = after = 0
            for r in limited:
                t429 = r[2]
                sent_paused += started_between(requests, t429 + REACTION, t429 + pause)
                before = max(before, max_in_flight(requests, t429 - 0.3, t429))
                # Once the requests already in flight have drained (REACTION + one round trip).
                during = max(during, max_in_flight(requests, t429 + REACTION + LATENCY + 0.02, t429 + pause))
                after = max(after, max_in_flight(requests, t429 + pause, t429 + pause + LATENCY))
            end = max(r[2] for r in requests)
            last = limited[-1][2] + pause if limited else min(r[1] for r in requests)
            restored = max_in_flight(requests, last + 0.5, end) if end > last + 0.5 else float("nan")
            pages = -(-n // PAGE)
            rows.append(
                [
                    who,
                    pages,
                    len(requests),
                    len(limited),
                    sent_paused,
                    before,
                    during,
                    after,
                    restored,
                    seconds,
                ]
            )
            line = timeline(requests)
            lines.append(f"{who:8} {line}")
            raw[who] = {
                "seconds": seconds,
                "requests": len(requests),
                "429": len(limited),
                "sent_while_paused": sent_paused,
                "in_flight_before": before,
                "in_flight_paused": during,
                "in_flight_first_round_after": after,
                "in_flight_restored": restored,
                "timeline": line,
            }
    return rows, raw, lines


def timed_fetch(who: str, url: str, n: int) -> float:
    """Seconds for the project's fetch or the naive client's, after checking it got all n repositories."""
    if who == "project":
        seconds, listing = project_fetch(url)
        assert len(listing.keys) == n
        return seconds
    result = naive_fetch(url)
    assert result["repositories"] == n
    return float(result["seconds"])


def quota_429(n: int) -> tuple[list[list[Any]], dict[str, Any]]:
    """A fixed-window quota: 40 list requests per 1 s window, then 429 until the window resets."""
    per_window, window = 40, 1.0
    rows: list[list[Any]] = []
    raw: dict[str, Any] = {}
    pages = -(-n // PAGE)
    floor = max(limit_span(pages, CONCURRENCY, LATENCY), (pages - 1) // per_window * window)
    with HubProcess(repos=n, latency=LATENCY) as hub:
        project_fetch(hub.url)  # warm-up
        for who in ("project", "naive"):
            hub.reset()
            hub.quota(per_window, window)
            seconds = timed_fetch(who, hub.url, n)
            hub.quota(0)
            stats = hub.stats()
            requests = stats["list_requests"]
            limited = sum(1 for r in requests if r[3] == 429)
            rows.append(
                [who, pages, len(requests), limited, limited / pages, stats["max_in_flight"], seconds, floor]
            )
            raw[who] = {"seconds": seconds, "requests": len(requests), "429": limited}
    return rows, raw


def fetch_gc_on(url: str, concurrency: int = CONCURRENCY) -> tuple[float, Any]:
    """`fetch_all_pages` minus its GC pause: the same client and listing, the cyclic GC left on."""
    from dockerhub_export import hub

    s = settings(url, concurrency)
    auth = hub.authenticate(s)

    async def run() -> Any:
        return await compat.list_repositories(s, auth, ORG, on_page=lambda done, total: None)

    started = time.perf_counter()
    listing = asyncio.run(run())
    return time.perf_counter() - started, listing


def gc_diagnostic(n: int, repeats: int = 2) -> list[list[Any]]:
    """The fetch with the cyclic GC on vs. paused (as `fetch_all_pages` does since 66f095b): the listing
    is acyclic JSON, yet each full collection walks every dict parsed so far, stalling the event loop."""
    import gc

    pauses: list[float] = []
    started = [0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        elif info.get("generation") == 2:
            pauses.append(time.perf_counter() - started[0])

    times: dict[str, list[float]] = {"on": [], "project": []}
    full: dict[str, list[float]] = {"on": [], "project": []}
    gc.callbacks.append(callback)
    try:
        with HubProcess(repos=n, latency=LATENCY) as hub:
            project_fetch(hub.url)
            for _ in range(repeats):
                for mode in ("on", "project"):
                    gc.collect()
                    pauses.clear()
                    seconds, listing = (fetch_gc_on if mode == "on" else project_fetch)(hub.url)
                    assert len(listing.keys) == n
                    del listing
                    times[mode].append(seconds)
                    full[mode].append(sum(pauses))
    finally:
        gc.callbacks.remove(callback)
    floor = limit_span(-(-n // PAGE), CONCURRENCY, LATENCY)
    return [
        [
            f"{n:,}",
            "list_repositories, GC on",
            median(times["on"]),
            median(times["on"]) / floor,
            median(full["on"]),
        ],
        [
            f"{n:,}",
            "fetch_all_pages (GC paused during the fetch)",
            median(times["project"]),
            median(times["project"]) / floor,
            median(full["project"]),
        ],
    ]


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument(
            "--gc",
            action="store_true",
            help="also compare the fetch with the cyclic GC on and paused (diagnostic)",
        )

    args = common.parse_args(__doc__.splitlines()[0], extra)
    print(common.machine(), flush=True)
    compat.preload()  # no import inside a timed fetch
    sizes = [1_000, 20_000] if args.quick else [1_000, 20_000, 100_000]
    repeats = {1_000: 3, 20_000: 2 if args.quick else 3, 100_000: 1}
    rows, raw = throughput(sizes, repeats)
    table(
        f"Fetch: project (c={CONCURRENCY}) vs sequential next-following, {LATENCY * 1000:.0f} ms per request",
        [
            "repositories",
            "pages P",
            "limit s",
            "project s",
            "server span s",
            "project/limit",
            "max in flight",
            "naive c=8 s",
            "project/naive",
            "sequential s",
            "sequential/project",
            "target",
        ],
        rows,
    )
    burst_rows, burst_raw, lines = burst_429(20_000)
    table(
        "429 burst at 20,000 repositories: every 70th request answers 429, Retry-After 1 s (c=8, 60 ms)",
        [
            "client",
            "pages",
            "requests",
            "429s",
            f"sent ≥{REACTION * 1000:.0f} ms into a pause",
            "in flight before",
            "in flight while paused",
            "first round after",
            "in flight later",
            "seconds",
        ],
        burst_rows,
    )
    print("\nrequests in flight per 100 ms (server-side; ! = a 429 answered):")
    for line in lines:
        print("  " + line)
    quota_rows, quota_raw = quota_429(20_000)
    table(
        "429 quota at 20,000 repositories: 40 requests per 1 s window, 429 + Retry-After until it resets",
        ["client", "pages", "requests", "429s", "429s per page", "max in flight", "seconds", "floor s"],
        quota_rows,
    )
    if args.gc:
        table(
            "Diagnostic: the fetch with Python's cyclic GC on vs. paused (c=8, 60 ms)",
            ["repositories", "client", "project s", "project/limit", "gen-2 GC pauses s"],
            gc_diagnostic(20_000 if args.quick else 100_000),
        )
    compare_raw: dict[str, Any] = {}
    with common.revision(args.compare) as old:
        if old:
            print(
                f"\nside by side with {old.rev}: each fetch in its own worker process "
                "(bench/compat.py fetch)",
                flush=True,
            )
            compare_repeats = {1_000: 5, 20_000: 3 if args.quick else 5, 100_000: 2}
            compare_rows, compare_raw = compared_fetch(sizes, compare_repeats, old)
            common.compare_table(old, "Fetch", compare_rows)
    path = common.save(
        "fetch",
        {
            "throughput": raw,
            "burst_429": burst_raw,
            "quota_429": quota_raw,
            "compare": args.compare,
            "compared": compare_raw,
        },
    )
    print(f"\nraw figures: {path}")


if __name__ == "__main__":
    main()
