"""Start-up: whole `dockerhub-export` commands that do little, and whether the query commands import Prefect.

Per run (the scenario's size is the number of runs, after warm-ups), interleaved: the baselines
``python -c pass`` (the interpreter's floor) and ``python -c 'import prefect'`` (a command importing
Prefect eagerly), then on each code `--help`, `history --help`, `trends --help`, `backfill --help`.
On the current code, `history --help` and `trends --help` under ``python -X importtime``: modules named
prefect (``*_imports_prefect``, 0 or 1). Targets: `--help` and `history --help` ≤ 0.5 s; no Prefect.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

from harness.core import Figures, Scenario, Setup, Target, scenario
from harness.tools import CLI, PY, Code, clean_env, run_timed

COMMANDS = {
    "help_s": ["--help"],
    "history_help_s": ["history", "--help"],
    "trends_help_s": ["trends", "--help"],
    "backfill_help_s": ["backfill", "--help"],
}
BASELINES = {"python_pass_s": [PY, "-c", "pass"], "import_prefect_s": [PY, "-c", "import prefect"]}
WARM_UPS = 3


@contextlib.contextmanager
def warmed(size: int, codes: list[Code]) -> Iterator[Setup]:
    for _ in range(min(WARM_UPS, size)):
        for code in codes:
            for args in COMMANDS.values():
                run_timed([CLI, *args], env=code.env(clean_env()))
    yield Setup(size, codes)


def baseline(setup: Setup) -> Figures:
    return {name: run_timed(cmd, env=clean_env()).seconds for name, cmd in BASELINES.items()}


def imports_prefect(code: Code, args: list[str]) -> float:
    cmd = [PY, "-X", "importtime", "-m", "dockerhub_export", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, env=code.env(clean_env()), check=True)
    names = [
        line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    ]
    return float(any(name == "prefect" or name.startswith("prefect.") for name in names))


def project(setup: Setup, code: Code) -> Figures:
    figures = {
        name: run_timed([CLI, *args], env=code.env(clean_env())).seconds for name, args in COMMANDS.items()
    }
    if not code.rev:
        figures["history_imports_prefect"] = imports_prefect(code, COMMANDS["history_help_s"])
        figures["trends_imports_prefect"] = imports_prefect(code, COMMANDS["trends_help_s"])
    return figures


STARTUP = scenario(
    Scenario(
        name="startup",
        what="`dockerhub-export --help` and the query commands' --help as whole commands (size: runs)",
        sizes=(20,),
        quick=(10,),
        smoke=1,
        project=project,
        baseline=baseline,
        setup=warmed,
        repeats=lambda size: size,
        targets=(
            Target("help_s", 0.5, why="a command that does little starts fast"),
            Target("history_help_s", 0.5, why="the query commands import no Prefect"),
            Target("history_imports_prefect", 0, why="no Prefect in the query commands"),
            Target("trends_imports_prefect", 0, why="no Prefect in the query commands"),
        ),
    )
)
