"""Start-up benchmark: whole `dockerhub-export` commands that do little, and what they import.

    python bench/startup.py [--quick] [--compare REV]

Timed with hyperfine (warm-up 3, 20 runs; --quick 10) when it is installed, else by N repeated
subprocess runs (median), all commands in the same run:

* `dockerhub-export --help`, `dockerhub-export history --help`, `dockerhub-export trends --help`;
* baselines: `python -c pass` (the interpreter's floor) and `python -c "import prefect"` (what a
  command would cost if it imported Prefect eagerly).

With ``--compare REV``: the four `dockerhub-export` commands again, each run on the current code then on
REV's (`common.revision`, PYTHONPATH), 20 times interleaved (--quick 10, after 3 warm-ups); current / REV
of the medians' pairs, PASS ≤ 1.10.

Then `python -X importtime` of each command: the query commands must never import Prefect.
Targets: `--help` and `history --help` ≤ 0.5 s as whole commands.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import common
from common import CLI, PY, clean_env, median, run_timed, table, verdict

COMMANDS = {
    "dockerhub-export --help": [CLI, "--help"],
    "dockerhub-export history --help": [CLI, "history", "--help"],
    "dockerhub-export trends --help": [CLI, "trends", "--help"],
    "dockerhub-export backfill --help": [CLI, "backfill", "--help"],
    "python -c pass  (baseline: interpreter)": [PY, "-c", "pass"],
    "python -c 'import prefect'  (baseline: eager Prefect)": [PY, "-c", "import prefect"],
}
TARGETS = {"dockerhub-export --help": 0.5, "dockerhub-export history --help": 0.5}


def available(cmd: list[str]) -> bool:
    result = subprocess.run(cmd, capture_output=True, env=clean_env())
    return result.returncode == 0


def hyperfine(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "hf.json"
        names = list(commands)
        cmd = [
            "hyperfine",
            "--warmup",
            "3",
            "--runs",
            str(runs),
            "--style",
            "none",
            "-N",
            "--export-json",
            str(export),
        ]
        for name in names:
            cmd += ["-n", name, shlex.join(commands[name])]
        subprocess.run(cmd, check=True, env=clean_env(), stdout=subprocess.DEVNULL)
        data = json.loads(export.read_text())
        return {name: result["median"] for name, result in zip(names, data["results"], strict=True)}


def repeated(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(3):  # warm-up
        for cmd in commands.values():
            run_timed(cmd, env=clean_env())
    for _ in range(runs):  # interleaved
        for name, cmd in commands.items():
            times[name].append(run_timed(cmd, env=clean_env()).seconds)
    return {name: median(values) for name, values in times.items()}


def interleaved_compare(
    present: dict[str, list[str]], runs: int, old: common.Revision
) -> dict[str, dict[str, list[float]]]:
    """Each project command on the current code, then on REV's (PYTHONPATH), run after run."""
    commands = {name: cmd for name, cmd in present.items() if cmd[0] == CLI}
    env = clean_env()
    times: dict[str, dict[str, list[float]]] = {name: {"current": [], "old": []} for name in commands}
    for _ in range(3):  # warm-up
        for cmd in commands.values():
            run_timed(cmd, env=env)
            run_timed(cmd, env=old.env(env))
    for _ in range(runs):
        for name, cmd in commands.items():
            times[name]["current"].append(run_timed(cmd, env=env).seconds)
            times[name]["old"].append(run_timed(cmd, env=old.env(env)).seconds)
    return times


def imports(cmd: list[str]) -> tuple[bool, int, float]:
    """(imports prefect?, modules imported, cumulative import seconds) under -X importtime."""
    module = ["-m", "dockerhub_export", *cmd[1:]] if cmd[0] == CLI else cmd[1:]
    result = subprocess.run(
        [PY, "-X", "importtime", *module], capture_output=True, text=True, env=clean_env()
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")][1:]
    names = [line.split("|")[-1].strip() for line in lines]
    total = sum(int(line.split("|")[1]) for line in lines) / 1e6
    return any(name == "prefect" or name.startswith("prefect.") for name in names), len(names), total


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    print(common.machine(), flush=True)
    runs = 10 if args.quick else 20
    present = {name: cmd for name, cmd in COMMANDS.items() if available(cmd)}
    missing = [name for name in COMMANDS if name not in present]
    tool = "hyperfine" if shutil.which("hyperfine") else f"median of {runs} subprocess runs"
    timings = hyperfine(present, runs) if shutil.which("hyperfine") else repeated(present, runs)
    floor = timings.get("python -c pass  (baseline: interpreter)", float("nan"))
    eager = timings.get("python -c 'import prefect'  (baseline: eager Prefect)", float("nan"))
    rows = []
    for name in COMMANDS:
        if name not in present:
            rows.append([name, "-", "-", "-", "-", "-", "command not available yet"])
            continue
        seconds = timings[name]
        prefect, count, total = imports(COMMANDS[name])
        target = TARGETS.get(name)
        if name.startswith("dockerhub-export") and name != "dockerhub-export --help":
            check = "no Prefect: " + verdict(not prefect)
        else:
            check = ""
        if target:
            check = (check + "; " if check else "") + f"≤ {target} s: {verdict(seconds <= target)}"
        rows.append(
            [name, seconds, seconds / floor, seconds / eager, "yes" if prefect else "no", count, check]
        )
    table(
        f"Start-up as whole commands ({tool})",
        [
            "command",
            "seconds",
            "× python -c pass",
            "× import prefect",
            "imports prefect",
            "modules",
            "target",
        ],
        rows,
    )
    if missing:
        print(f"\nnot available yet: {', '.join(missing)}")
    compared: dict[str, dict[str, list[float]]] = {}
    with common.revision(args.compare) as old:
        if old:
            compared = interleaved_compare(present, runs, old)
            common.compare_table(
                old,
                "Start-up as whole commands (interleaved subprocess runs)",
                [(name, "s", values["current"], values["old"]) for name, values in compared.items()],
            )
    path = common.save(
        "startup",
        {"tool": tool, "timings": timings, "missing": missing, "compare": args.compare, "compared": compared},
    )
    print(f"\nraw figures: {path}")


if __name__ == "__main__":
    main()
