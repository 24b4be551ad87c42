"""Whole-command benchmark: `dockerhub-export run` (in-process and as a flow run) vs. the reference script.

    python bench/run.py [--quick] [--compare REV]

One fake Hub (own process, 60 ms per request) with 20,000 repositories (--quick: 5,000), one
`prefect server start` (temporary PREFECT_HOME, free port, analytics off). Interleaved, repeated
(3×; --quick 1×), each repetition in this order:

* reference  — `tests/reference/export.sh` (curl + jq, sequential `next`-following) writing repos.csv;
* in-process — the README's first command, `dockerhub-export run` with NO Prefect server configured:
  PREFECT_API_URL unset and a throw-away, empty PREFECT_HOME (no profile), so the CLI runs the export
  in its own process without importing Prefect (checked: its stderr says so); defaults (c = 4, CSV +
  the default SQLite snapshot under the output dir);
* flow run   — the same command with PREFECT_API_URL pointing at the running server (a Prefect flow
  run), defaults; then `--concurrency 8`;
* with ``--compare REV``: right after each flow run, the same command on REV's code (`common.revision`)
  against the same server (REV before the reshape has no in-process mode: without a server it starts a
  temporary one), at defaults and `--concurrency 8`; and once, after the repetitions, REV's code with
  no server configured (fresh PREFECT_HOME: the temporary server Prefect starts, REV's first command),
  then again with the same PREFECT_HOME (its server database exists: a second run), followed by the
  current in-process run.

Each variant writes to its own output folder (its own SQLite database), each run a new --snapshot-date
(a nightly run, yesterday's snapshot present). The first flow run of each code (flow registration on a
fresh server) is reported apart. The CSVs are checked: the first six columns of the in-process run's and
the flow run's equal the script's rows (as a set: the script keeps the Hub's order), and with
--compare the in-process, flow-run and REV CSVs are byte-identical.

Targets: the in-process run (the README's first command) ≤ 0.25 × the reference script's time at 20,000
repositories (issue 9); the flow run ≤ 0.25 × too (issue 2); with --compare, current / REV ≤ 1.10 for the
flow runs (issue 9).
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import common
from common import CLI, HubProcess, hub_env, median, reference_script, require_ok, run_timed, table, verdict

LATENCY = 0.06
IN_PROCESS_MARK = "running in-process"


def six_columns(text: str) -> set[tuple[str, ...]]:
    rows = list(csv.reader(io.StringIO(text)))
    return {tuple(row[:6]) for row in rows[1:]}


def csv_of(result: common.Timed) -> Path:
    return Path(result.stdout.strip().splitlines()[-1])


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    print(common.machine(), flush=True)
    n = 5_000 if args.quick else 20_000
    repeats = 1 if args.quick else 3
    work = Path(tempfile.mkdtemp(prefix="bench-run-"))
    keys = ["reference", "in_process", "default", "c8"] + (["old_default", "old_c8"] if args.compare else [])
    results: dict[str, list[float]] = {key: [] for key in keys}
    first: dict[str, float] = {}
    old_no_server = old_no_server_again = in_process_again = float("nan")
    checks: list[str] = []
    days: dict[str, date] = {}
    try:
        with (
            HubProcess(repos=n, latency=LATENCY) as hub,
            common.prefect_server() as prefect,
            common.revision(args.compare) as old,
        ):
            flow_env = hub_env(hub.url, **prefect)

            def no_server_env(name: str) -> dict[str, str]:
                home = work / f"prefect-home-{name}"  # empty: no profile, so no server configured
                home.mkdir()
                return hub_env(hub.url, PREFECT_HOME=str(home))

            def project(
                variant: str, code: common.Revision, env: dict[str, str], *extra: str
            ) -> common.Timed:
                folder = variant.removesuffix("_c8")
                day = days[folder] = days.get(folder, date(2026, 11, 1)) + timedelta(days=1)
                cmd = [
                    CLI,
                    "run",
                    "--output-dir",
                    str(work / f"out-{folder}"),
                    "--snapshot-date",
                    day.isoformat(),
                    *extra,
                ]
                return require_ok(
                    run_timed(cmd, env=code.env(env), cwd=work),
                    f"dockerhub-export run ({variant}, {code.label})",
                )

            in_process_env = no_server_env("current")
            first["default"] = project("flow", common.CURRENT, flow_env).seconds
            print(f"first flow run (fresh Prefect server): {first['default']:.2f} s", flush=True)
            if old:
                first["old_default"] = project("old", old, flow_env).seconds
                print(f"first flow run on {old.rev} (same server): {first['old_default']:.2f} s", flush=True)
            for i in range(repeats):
                script_dir = work / f"script-{i}"
                script_dir.mkdir()
                ref = reference_script(hub.url, script_dir)
                results["reference"].append(ref.seconds)
                inproc = project("inproc", common.CURRENT, in_process_env)
                if IN_PROCESS_MARK not in inproc.stderr:
                    raise RuntimeError(
                        f"the run without a server did not run in-process:\n{inproc.stderr[-2000:]}"
                    )
                results["in_process"].append(inproc.seconds)
                default = project("flow", common.CURRENT, flow_env)
                results["default"].append(default.seconds)
                if IN_PROCESS_MARK in default.stderr:
                    raise RuntimeError("the run with PREFECT_API_URL set ran in-process")
                if old:
                    old_default = project("old", old, flow_env)
                    results["old_default"].append(old_default.seconds)
                results["c8"].append(
                    project("flow_c8", common.CURRENT, flow_env, "--concurrency", "8").seconds
                )
                if old:
                    results["old_c8"].append(project("old_c8", old, flow_env, "--concurrency", "8").seconds)
                print(
                    f"  rep {i + 1}: "
                    + ", ".join(f"{key} {values[-1]:.2f} s" for key, values in results.items()),
                    flush=True,
                )
                theirs = six_columns((script_dir / "repos.csv").read_text(encoding="utf-8"))
                for label, result in (("in-process", inproc), ("flow run", default)):
                    ours = six_columns(csv_of(result).read_text(encoding="utf-8"))
                    assert len(ours) == n and ours == theirs, (
                        f"the {label} CSV differs from the reference script's"
                    )
                if old:
                    texts = {csv_of(r).read_bytes() for r in (inproc, default, old_default)}
                    assert len(texts) == 1, (
                        f"the CSVs of the in-process run, the flow run and {old.rev} differ"
                    )
            checks.append(
                "the six reference columns of the in-process and flow-run CSVs equal the script's rows: OK"
            )
            if old:
                checks.append(f"in-process, flow-run and {old.rev} CSVs byte-identical: OK")
                home_env = no_server_env("old")
                result = project("old_noserver", old, home_env)
                old_no_server = result.seconds
                assert csv_of(result).read_bytes() == csv_of(inproc).read_bytes()
                print(
                    f"{old.rev} without a server (temporary Prefect server, fresh PREFECT_HOME): "
                    f"{old_no_server:.2f} s",
                    flush=True,
                )
                # Once more with the same PREFECT_HOME: the temporary server's database now exists
                # (a user's second run), then the current code in-process right beside it.
                old_no_server_again = project("old_noserver", old, home_env).seconds
                in_process_again = project("inproc", common.CURRENT, in_process_env).seconds
                print(
                    f"{old.rev} without a server, second run (same PREFECT_HOME): "
                    f"{old_no_server_again:.2f} s; "
                    f"current in-process right after: {in_process_again:.2f} s",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ref = median(results["reference"])

    def vs_reference(key: str) -> float:
        # Ratios per repetition (each project run next to its own reference run), then the median.
        return common.paired_ratio(results[key], results["reference"])

    full = n == 20_000
    rows: list[list[Any]] = [["reference script (curl + jq, sequential)", ref, 1.0, ""]]
    labels = {
        "in_process": (
            "dockerhub-export run, no Prefect server configured (in-process; README's first command)",
            f"{verdict(vs_reference('in_process') <= 0.25)} ≤ 0.25×" if full else "",
        ),
        "default": (
            "dockerhub-export run, Prefect server running (flow run; c=4, CSV + SQLite snapshot)",
            f"{verdict(vs_reference('default') <= 0.25)} ≤ 0.25×" if full else "",
        ),
        "c8": ("dockerhub-export run --concurrency 8, flow run", ""),
    }
    if old:
        labels["old_default"] = (f"the same flow run on {old.rev}", "")
        labels["old_c8"] = (f"--concurrency 8, flow run on {old.rev}", "")
    for key, (label, target) in labels.items():
        rows.append([label, median(results[key]), vs_reference(key), target])
    rows.append(
        ["(first flow run on a fresh Prefect server, defaults)", first["default"], first["default"] / ref, ""]
    )
    if old:
        rows.append(
            [
                f"(first flow run on {old.rev}, same server)",
                first["old_default"],
                first["old_default"] / ref,
                "",
            ]
        )
        rows.append(
            [
                f"{old.rev}, no Prefect server configured (temporary server, fresh PREFECT_HOME; once)",
                old_no_server,
                old_no_server / ref,
                "",
            ]
        )
        rows.append(
            [
                f"{old.rev}, no server configured, second run (same PREFECT_HOME; once)",
                old_no_server_again,
                old_no_server_again / ref,
                "",
            ]
        )
    table(
        f"Whole run, {n:,} repositories, {LATENCY * 1000:.0f} ms per request (median of {repeats})",
        ["command", "seconds (median)", "× reference (median of paired ratios)", "target"],
        rows,
    )
    if old:
        common.compare_table(
            old,
            f"Whole run, {n:,} repositories, {LATENCY * 1000:.0f} ms",
            [
                ("run, flow run (defaults)", "s", results["default"], results["old_default"]),
                ("run --concurrency 8, flow run", "s", results["c8"], results["old_c8"]),
            ],
        )
        ratio = median(results["in_process"]) / old_no_server
        table(
            f"The README's first command (no Prefect server configured): current vs {old.rev}",
            [
                "figure",
                "current (in-process)",
                f"{old.rev} (temporary server)",
                "current / old",
                "current × reference",
                f"{old.rev} × reference",
            ],
            [
                [
                    "dockerhub-export run, no server configured (REV: fresh PREFECT_HOME)",
                    median(results["in_process"]),
                    old_no_server,
                    ratio,
                    vs_reference("in_process"),
                    old_no_server / ref,
                ],
                [
                    "the same, REV's second run (same PREFECT_HOME), current run right after",
                    in_process_again,
                    old_no_server_again,
                    in_process_again / old_no_server_again,
                    in_process_again / ref,
                    old_no_server_again / ref,
                ],
            ],
        )
    for check in checks:
        print(check)
    path = common.save(
        "run",
        {
            "repositories": n,
            "latency": LATENCY,
            "compare": args.compare,
            "first": first,
            "old_no_server": old_no_server,
            "old_no_server_again": old_no_server_again,
            "in_process_again": in_process_again,
            **results,
        },
    )
    print(f"\nraw figures: {path}")


if __name__ == "__main__":
    main()
