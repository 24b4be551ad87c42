"""Whole-command benchmark: `dockerhub-export run` against a running Prefect server vs. the reference script.

    python bench/run.py [--quick]

One fake Hub (own process, 60 ms per request) with 20,000 repositories (--quick: 5,000), one
`prefect server start` (temporary PREFECT_HOME, free port, analytics off) that every project run
reports to. Interleaved, repeated (3×; --quick 1×):

* reference — `tests/reference/export.sh` (curl + jq, sequential `next`-following) writing repos.csv;
* project   — `dockerhub-export run` with the defaults (concurrency 4, CSV + SQLite snapshot under the
  output dir), each repetition a new --snapshot-date in the same folder (a nightly run, yesterday's
  snapshot present); also `--concurrency 8`.

The first project run (flow registration on a fresh server) is reported apart. The CSVs are checked:
the project's first six columns equal the script's rows (as a set: the script keeps the Hub's order).

Target: the default run ≤ 0.25 × the reference script's time at 20,000 repositories.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

import common
from common import CLI, HubProcess, hub_env, median, reference_script, require_ok, run_timed, table, verdict

LATENCY = 0.06

def six_columns(text: str) -> set[tuple[str, ...]]:
    rows = list(csv.reader(io.StringIO(text)))
    return {tuple(row[:6]) for row in rows[1:]}


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    print(common.machine(), flush=True)
    n = 5_000 if args.quick else 20_000
    repeats = 1 if args.quick else 3
    work = Path(tempfile.mkdtemp(prefix="bench-run-"))
    results: dict[str, list[float]] = {"reference": [], "default": [], "c8": []}
    first_run = float("nan")
    try:
        with HubProcess(repos=n, latency=LATENCY) as hub, common.prefect_server() as prefect:
            env = hub_env(hub.url, **prefect)
            out = work / "exports"
            day = date(2026, 11, 1)

            def project(*extra: str) -> common.Timed:
                nonlocal day
                day += timedelta(days=1)
                cmd = [CLI, "run", "--output-dir", str(out), "--snapshot-date", day.isoformat(), *extra]
                return require_ok(run_timed(cmd, env=env, cwd=work), "dockerhub-export run")

            first_run = project().seconds
            print(f"first project run (fresh Prefect server): {first_run:.2f} s", flush=True)
            for i in range(repeats):
                script_dir = work / f"script-{i}"
                script_dir.mkdir()
                ref = reference_script(hub.url, script_dir)
                results["reference"].append(ref.seconds)
                default = project()
                results["default"].append(default.seconds)
                results["c8"].append(project("--concurrency", "8").seconds)
                print(f"  rep {i + 1}: reference {ref.seconds:.2f} s, default {default.seconds:.2f} s, "
                      f"--concurrency 8 {results['c8'][-1]:.2f} s", flush=True)
                csv_file = Path(default.stdout.strip().splitlines()[-1])
                ours = six_columns(csv_file.read_text(encoding="utf-8"))
                theirs = six_columns((script_dir / "repos.csv").read_text(encoding="utf-8"))
                assert len(ours) == n and ours == theirs, "the project's CSV differs from the reference script's"
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ref = median(results["reference"])
    rows = [["reference script (curl + jq, sequential)", ref, 1.0, ""]]
    labels = {
        "default": "dockerhub-export run (defaults: c=4, CSV + SQLite snapshot)",
        "c8": "dockerhub-export run --concurrency 8",
    }
    for key, label in labels.items():
        if not results[key]:
            continue
        seconds = median(results[key])
        # Ratios per repetition (each project run next to its own reference run), then the median.
        ratio = median([value / results["reference"][i] for i, value in enumerate(results[key])])
        target = f"{verdict(ratio <= 0.25)} ≤ 0.25×" if key == "default" and n == 20_000 else ""
        rows.append([label, seconds, ratio, target])
    rows.append(["(first run on a fresh Prefect server, defaults)", first_run, first_run / ref, ""])
    table(
        f"Whole run, {n:,} repositories, {LATENCY * 1000:.0f} ms per request, Prefect server running "
        f"(median of {repeats})",
        ["command", "seconds (median)", "× reference (median of paired ratios)", "target"],
        rows,
    )
    print("CSV check: the project's six reference columns equal the script's rows: OK")
    path = common.save("run", {"repositories": n, "latency": LATENCY, "first_run": first_run, **results})
    print(f"\nraw figures: {path}")


if __name__ == "__main__":
    main()
