"""Memory benchmark: peak RSS of a 100,000-repository export, the whole CLI process and the library path.

    python bench/memory.py [--quick] [--compare REV]

One fake Hub (own process, 20 ms per request: memory does not depend on latency) with 100,000
repositories (--quick: 20,000), one running Prefect server. Each measurement is its own process, its
peak RSS read from `wait4`'s ru_maxrss (that process and its waited-for children only):

* `dockerhub-export run --no-db` against the running Prefect server (the whole command, a flow run);
* the same command with no Prefect server configured (PREFECT_API_URL unset, an empty PREFECT_HOME):
  the current code runs it in-process, without importing Prefect (the README's first command);
* the library path alone: `authenticate` + `fetch_all_pages` + `from_columns` (consuming the
  listing's columns, as the flow does) + `write_csv` in a bare interpreter (no Prefect), as
  `bench/compat.py library` (the same calls on the current API and the one before the reshape);
* with ``--compare REV``: both again on the code of git revision REV (`common.revision`: `git archive`
  into a temporary folder, put first on PYTHONPATH), each right after the current code's, twice
  (--quick: once), e.g. ``--compare 9b1adc3``; the table of current / REV peak RSS (PASS ≤ 1.10);
* baselines: the interpreter with the project's heavy imports only (`prefect`, `pandas`, `httpx`:
  the floor of any CLI run), and the raw listing (every page's JSON decoded into one list of dicts,
  httpx + json only: the floor of holding the data at all).

Target: the whole CLI process under 400 MB peak RSS at 100,000 repositories (flow run and in-process).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import common
from common import CLI, ORG, PY, TOKEN, HubProcess, hub_env, require_ok, run_timed, table, verdict

LATENCY = 0.02
TARGET_MB = 400

IMPORTS = "import prefect, pandas, httpx, sqlalchemy"

RAW = """
import sys, httpx, json
url, org, token = sys.argv[1], sys.argv[2], sys.argv[3]
with httpx.Client(timeout=30) as client:
    jwt = client.post(url + "/v2/users/login", json={"username": org, "password": token}).json()["token"]
    items = []
    nxt = f"{url}/v2/namespaces/{org}/repositories?page_size=100"
    while nxt:
        body = json.loads(client.get(nxt, headers={"Authorization": "Bearer " + jwt}).content)
        items.extend(body["results"])
        nxt = body.get("next")
print(len(items))
"""


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    print(common.machine(), flush=True)
    n = 20_000 if args.quick else 100_000
    repeats = 1 if args.quick else 2
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    rows = []
    raw: dict[str, Any] = {}
    pairs: dict[str, list[common.Timed]] = {"cli": [], "cli_old": [], "lib": [], "lib_old": []}
    try:
        with (
            HubProcess(repos=n, latency=LATENCY) as hub,
            common.prefect_server() as prefect,
            common.revision(args.compare) as old,
        ):
            env = hub_env(hub.url, **prefect)
            # A first run registers the flow on the fresh server; then the measured runs.
            require_ok(
                run_timed([CLI, "run", "--no-db", "--output-dir", str(work / "warm")], env=env, cwd=work),
                "warm-up run",
            )
            if old:
                require_ok(
                    run_timed(
                        [CLI, "run", "--no-db", "--output-dir", str(work / "warm-old")],
                        env=old.env(env),
                        cwd=work,
                    ),
                    f"warm-up run on {old.rev}",
                )
            for i in range(repeats):  # interleaved: current, REV, current, REV, ...
                for code, suffix in ((common.CURRENT, ""), *(((old, "_old"),) if old else ())):
                    cli = require_ok(
                        run_timed(
                            [CLI, "run", "--no-db", "--output-dir", str(work / f"cli{suffix}")],
                            env=code.env(env),
                            cwd=work,
                        ),
                        f"run --no-db on {code.label}",
                    )
                    answer, lib = code.worker(
                        "library", hub.url, ORG, TOKEN, work / f"lib{suffix}-{i}", env=env, cwd=work
                    )
                    assert answer["count"] == n, answer
                    pairs["cli" + suffix].append(cli)
                    pairs["lib" + suffix].append(lib)
                    print(
                        f"  {code.label}: CLI {cli.maxrss_mib:.0f} MiB, library {lib.maxrss_mib:.0f} MiB",
                        flush=True,
                    )
            # The README's first command: no Prefect server configured (no PREFECT_API_URL, an empty
            # PREFECT_HOME), so the current code runs in-process, without Prefect.
            home = work / "prefect-home-empty"
            home.mkdir()
            in_process = require_ok(
                run_timed(
                    [CLI, "run", "--no-db", "--output-dir", str(work / "inproc")],
                    env=hub_env(hub.url, PREFECT_HOME=str(home)),
                    cwd=work,
                ),
                "run --no-db without a Prefect server (in-process)",
            )
            assert "running in-process" in in_process.stderr, in_process.stderr[-2000:]
            floor = require_ok(run_timed([PY, "-c", IMPORTS], env=env, cwd=work), "imports")
            listing = require_ok(
                run_timed([PY, "-c", RAW, hub.url, ORG, TOKEN], env=env, cwd=work), "raw listing"
            )
            assert listing.stdout.strip() == str(n)
        cli = max(pairs["cli"], key=lambda t: t.maxrss_mib)
        lib = max(pairs["lib"], key=lambda t: t.maxrss_mib)
        raw = {
            "compare": args.compare,
            **{key: [t.maxrss_mib for t in values] for key, values in pairs.items()},
            "in_process": in_process.maxrss_mib,
            "imports": floor.maxrss_mib,
            "raw_listing": listing.maxrss_mib,
        }

        def mb(result: common.Timed) -> float:  # the target is in MB (10^6 bytes); ru_maxrss is KiB
            return result.maxrss_mib * 1.048576

        rows = [
            [
                "dockerhub-export run --no-db (Prefect server running)",
                cli.maxrss_mib,
                mb(cli),
                mb(cli) / TARGET_MB,
                cli.seconds,
                f"{verdict(mb(cli) < TARGET_MB)} < {TARGET_MB} MB" if n == 100_000 else "",
            ],
            [
                "dockerhub-export run --no-db, no Prefect server configured (in-process)",
                in_process.maxrss_mib,
                mb(in_process),
                mb(in_process) / TARGET_MB,
                in_process.seconds,
                f"{verdict(mb(in_process) < TARGET_MB)} < {TARGET_MB} MB" if n == 100_000 else "",
            ],
            [
                "library: authenticate + fetch_all_pages + from_columns + write_csv",
                lib.maxrss_mib,
                mb(lib),
                mb(lib) / TARGET_MB,
                lib.seconds,
                "",
            ],
            [
                f"baseline: python -c '{IMPORTS}'",
                floor.maxrss_mib,
                mb(floor),
                mb(floor) / TARGET_MB,
                floor.seconds,
                "",
            ],
            [
                "baseline: raw listing (httpx + json, list of dicts)",
                listing.maxrss_mib,
                mb(listing),
                mb(listing) / TARGET_MB,
                listing.seconds,
                "",
            ],
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table(
        f"Peak RSS, {n:,} repositories (ru_maxrss of each process; the highest of {repeats})",
        ["process", "peak RSS MiB", "peak RSS MB", f"× {TARGET_MB} MB target", "seconds", "target"],
        rows,
    )
    if old:

        def rss(key: str) -> list[float]:
            return [t.maxrss_mib for t in pairs[key]]

        def secs(key: str) -> list[float]:
            return [t.seconds for t in pairs[key]]

        common.compare_table(
            old,
            f"Peak RSS, {n:,} repositories",
            [
                ("dockerhub-export run --no-db (flow run), peak RSS", "MiB", rss("cli"), rss("cli_old")),
                ("library path, peak RSS", "MiB", rss("lib"), rss("lib_old")),
                (
                    "dockerhub-export run --no-db (flow run), wall time (20 ms latency)",
                    "s",
                    secs("cli"),
                    secs("cli_old"),
                ),
            ],
        )
    path = common.save("memory", {"repositories": n, **raw})
    print(f"\nraw figures: {path}")


if __name__ == "__main__":
    main()
