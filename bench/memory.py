"""Memory benchmark: peak RSS of a 100,000-repository export, the whole CLI process and the library path.

    python bench/memory.py [--quick] [--compare REV]

One fake Hub (own process, 20 ms per request: memory does not depend on latency) with 100,000
repositories (--quick: 20,000), one running Prefect server. Each measurement is its own process, its
peak RSS read from `wait4`'s ru_maxrss (that process and its waited-for children only):

* `dockerhub-export run --no-db` against the running Prefect server (the whole command);
* with ``--compare REV``: the same command on the code of git revision REV (`git archive` into a
  temporary folder, put first on PYTHONPATH), measured right after it, e.g. ``--compare HEAD``;
* the library path alone: `authenticate` + `fetch_all_pages` + `from_columns` (consuming the
  listing's columns, as the flow does) + `write_csv` in a bare interpreter (no Prefect);
* baselines: the interpreter with the project's heavy imports only (`prefect`, `pandas`, `httpx`:
  the floor of any CLI run), and the raw listing (every page's JSON decoded into one list of dicts,
  httpx + json only: the floor of holding the data at all).

Target: the whole CLI process under 400 MB peak RSS at 100,000 repositories.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import common
from common import CLI, ORG, PY, TOKEN, HubProcess, hub_env, require_ok, run_timed, table, verdict

LATENCY = 0.02
TARGET_MB = 400

LIBRARY = """
import sys
from pathlib import Path
from dockerhub_export import csv_output, hub, transform
from dockerhub_export.settings import Settings
s = Settings.load(None, org=sys.argv[1], token=sys.argv[2], api_url=sys.argv[3], export_dir=sys.argv[4])
auth = hub.authenticate(s)
listing = hub.fetch_all_pages(s, auth, on_page=lambda done, total: None)
frame = transform.from_columns(listing.columns, listing.org, consume=True)
path = csv_output.write_csv(frame, Path(sys.argv[4]) / "lib.csv")
print(len(frame), path)
"""

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


def checkout(rev: str, into: Path) -> Path:
    """The project's files at git revision ``rev`` in ``into`` (for PYTHONPATH: ``src`` and the root)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=common.ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument("--compare", metavar="REV",
                            help="also measure the CLI run on git revision REV (e.g. HEAD), side by side")

    args = common.parse_args(__doc__.splitlines()[0], extra)
    print(common.machine(), flush=True)
    n = 20_000 if args.quick else 100_000
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    rows = []
    raw: dict[str, float] = {}
    try:
        with HubProcess(repos=n, latency=LATENCY) as hub, common.prefect_server() as prefect:
            env = hub_env(hub.url, **prefect)
            # A first run registers the flow on the fresh server; then the measured run.
            require_ok(run_timed([CLI, "run", "--no-db", "--output-dir", str(work / "warm")], env=env, cwd=work),
                       "warm-up run")
            cli = require_ok(run_timed([CLI, "run", "--no-db", "--output-dir", str(work / "cli")], env=env, cwd=work),
                             "dockerhub-export run --no-db")
            if args.compare:
                old = checkout(args.compare, work / "old")
                old_env = {**env, "PYTHONPATH": f"{old / 'src'}:{old}"}
                compared = require_ok(run_timed([CLI, "run", "--no-db", "--output-dir", str(work / "cmp")],
                                                env=old_env, cwd=work), f"run --no-db on {args.compare}")
            lib = require_ok(run_timed([PY, "-c", LIBRARY, ORG, TOKEN, hub.url, str(work / "lib")], env=env, cwd=work),
                             "library path")
            floor = require_ok(run_timed([PY, "-c", IMPORTS], env=env, cwd=work), "imports")
            listing = require_ok(run_timed([PY, "-c", RAW, hub.url, ORG, TOKEN], env=env, cwd=work), "raw listing")
            assert lib.stdout.split()[0] == str(n) and listing.stdout.strip() == str(n)
        raw = {"compare": args.compare, "compared_cli": compared.maxrss_mib if args.compare else None,
               "cli": cli.maxrss_mib, "library": lib.maxrss_mib, "imports": floor.maxrss_mib,
               "raw_listing": listing.maxrss_mib}
        def mb(result: common.Timed) -> float:  # the target is in MB (10^6 bytes); ru_maxrss is KiB
            return result.maxrss_mib * 1.048576

        rows = [
            ["dockerhub-export run --no-db (Prefect server running)", cli.maxrss_mib, mb(cli), mb(cli) / TARGET_MB,
             cli.seconds, f"{verdict(mb(cli) < TARGET_MB)} < {TARGET_MB} MB" if n == 100_000 else ""],
            ["library: authenticate + fetch_all_pages + from_columns + write_csv", lib.maxrss_mib, mb(lib),
             mb(lib) / TARGET_MB, lib.seconds, ""],
            *([[f"the same on {args.compare} (--compare)", compared.maxrss_mib, mb(compared),
                 mb(compared) / TARGET_MB, compared.seconds, ""]] if args.compare else []),
            [f"baseline: python -c '{IMPORTS}'", floor.maxrss_mib, mb(floor), mb(floor) / TARGET_MB, floor.seconds,
             ""],
            ["baseline: raw listing (httpx + json, list of dicts)", listing.maxrss_mib, mb(listing),
             mb(listing) / TARGET_MB, listing.seconds, ""],
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table(
        f"Peak RSS, {n:,} repositories (ru_maxrss of each process)",
        ["process", "peak RSS MiB", "peak RSS MB", f"× {TARGET_MB} MB target", "seconds", "target"],
        rows,
    )
    path = common.save("memory", {"repositories": n, **raw})
    print(f"\nraw figures: {path}")


if __name__ == "__main__":
    main()
