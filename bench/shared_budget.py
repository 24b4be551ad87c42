"""Two nightly jobs on one host spend one announced budget (issue 10's pacing): 429s and time.

Docker Hub counts its API budget per address (about 600 requests a minute): two `run --tags` jobs
started together from one host, or two orgs of an `export-organizations` run, spend the same budget,
and each sees only what the answers announce. Here two `dockerhub-export run --tags --no-prefect`
processes (each with its own output folder and SQLite database) start together against one fake Hub
that announces a fixed window; one process alone is the baseline. With ``--compare REV`` the pair also
runs on REV's code, alternating with the current code.

    python bench/shared_budget.py [--quick] [--compare REV] [--concurrency N]

The target: the pair completes with far fewer 429s than a blind pair; the time stays near the floor
(every full window waited out), since a 429 only pauses until the reset the budget would wait for anyway.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import common
from common import CLI, ORG, TOKEN, Revision, hub_env, median, run_timed, table
from tagdata import TagHubProcess

LATENCY = 0.02
CONCURRENCY = 8


def floor(requests: int, per_window: int, window: float) -> float:
    """Every full window waited out, then the last one's requests (no latency: a lower bound)."""
    return (math.ceil(requests / per_window) - 1) * window


def run_jobs(hub: TagHubProcess, code: Revision, jobs: int, per_window: int, window: float) -> dict[str, Any]:
    hub.faults(quota=0)
    hub.reset()
    hub.faults(quota=per_window, quota_window=window)
    work = Path(tempfile.mkdtemp(prefix="bench-shared-"))
    results: list[Any] = [None] * jobs

    def job(i: int) -> None:
        cmd = [CLI, "run", "--tags", "--no-prefect", "--concurrency", str(CONCURRENCY)]
        cmd += ["--output-dir", str(work / f"job{i}")]
        results[i] = run_timed(cmd, env=code.env(hub_env(hub.url)), cwd=work)

    try:
        threads = [threading.Thread(target=job, args=(i,)) for i in range(jobs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stats = hub.stats()
        hub.faults(quota=0)
        for i, result in enumerate(results):
            if result.returncode != 0:
                raise RuntimeError(f"job {i} on {code.label} failed: {result.stderr[-2000:]}")
            (csv,) = (work / f"job{i}" / ORG).glob("tags-*.csv")
            lines = csv.read_text().count("\n") - 1
            if lines != hub.tags:
                raise RuntimeError(f"job {i} on {code.label} wrote {lines} tags, the Hub has {hub.tags}")
        answered = sum(1 for r in stats["requests"] if r[5] == 200)
        return {
            "answered": answered,
            "429": stats["quota_rejections"],
            "seconds": max(result.seconds for result in results),
            "floor": floor(answered, per_window, window),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument(
            "--concurrency",
            type=int,
            default=CONCURRENCY,
            help="each job's --concurrency (default: %(default)s)",
        )

    global CONCURRENCY
    args = common.parse_args(__doc__.splitlines()[0], extra)
    CONCURRENCY = args.concurrency
    # Many windows, as a first night with tags has at ~600 requests a minute.
    repos, per_window, window, repeats = (150, 20, 1.0, 2) if args.quick else (400, 40, 1.0, 3)
    print(common.machine(), flush=True)
    raw: dict[str, Any] = {}
    rows: list[list[Any]] = []
    with common.revision(args.compare) as rev, TagHubProcess(repos, 10, latency=LATENCY, token=TOKEN) as hub:
        hub.call("warm")
        codes = [common.CURRENT] + ([rev] if rev else [])
        for jobs in (1, 2):
            for code in codes if jobs == 2 else codes[:1]:
                runs = []
                for _ in range(repeats):
                    runs.append(run_jobs(hub, code, jobs, per_window, window))
                    print(f"  {jobs} job(s) on {code.label}: {runs[-1]}", flush=True)
                raw[f"{jobs}-{code.label}"] = runs
                rows.append(
                    [
                        f"{jobs} job{'s' if jobs > 1 else ''}, {code.label} code",
                        runs[0]["answered"],
                        " / ".join(str(run["429"]) for run in runs),
                        f"{per_window} / {window:g} s",
                        runs[0]["floor"],
                        median([run["seconds"] for run in runs]),
                    ]
                )
    table(
        f"Jobs sharing one announced budget: `run --tags --no-prefect --concurrency {CONCURRENCY}`, "
        f"{repos} repositories, {LATENCY * 1000:g} ms, {hub.tags:,} tags per job",
        ["jobs", "requests answered", "429s (each run)", "budget", "floor s", "seconds (median)"],
        rows,
    )
    print(f"\nraw figures: {common.save('shared_budget', raw)}")


if __name__ == "__main__":
    main()
