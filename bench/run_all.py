"""Run the benchmarks: every scenario of the harness (bench/harness/), then the benches not yet on it.

    python bench/run_all.py [--smoke | --quick] [--only NAME,...] [--compare REV] [--repeat N] [--list]

``--smoke`` runs every scenario at its smallest size once (the test suite does, tests/test_bench.py).
The benches not yet on the harness (`LEGACY`) run as their own scripts after the scenarios, only in a
full or ``--quick`` run without ``--only``; each names why it is not moved yet in bench/README.md.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from harness import SCENARIO_MODULES, runner

HERE = Path(__file__).resolve().parent
# script and arguments; the code before the tag inventory has no tags to compare (no --compare for those)
LEGACY: dict[str, tuple[str, list[str], bool]] = {
    "snapshots": ("snapshots.py", [], True),
    "history": ("history.py", ["--backend", "sqlite"], True),
    "history-pg": ("history.py", ["--backend", "postgres"], True),
    "tags": ("tags.py", [], False),
    "views": ("views.py", [], False),
    "shared_budget": ("shared_budget.py", [], False),
}


def legacy(argv: list[str]) -> list[str]:
    """Run the benches not yet on the harness in turn; the names of those that crashed."""
    options = runner.parse(argv)
    crashed = []
    for name, (script, fixed, compare) in LEGACY.items():
        args = [*fixed, *(["--quick"] if options.quick else [])]
        args += ["--compare", options.compare] if options.compare and compare else []
        print(f"\n# {name} (not yet on the harness): python bench/{script} {' '.join(args)}", flush=True)
        if subprocess.call([sys.executable, str(HERE / script), *args]):
            crashed.append(name)
    return crashed


def main() -> int:
    for name in SCENARIO_MODULES:
        importlib.import_module(f"harness.{name}")
    argv = sys.argv[1:]
    code = runner.main(argv)
    options = runner.parse(argv)
    if options.smoke or options.only or options.list:
        return code
    crashed = legacy(argv)
    if crashed:
        print(f"benchmarks that crashed: {', '.join(crashed)}", flush=True)
    return code or (1 if crashed else 0)


if __name__ == "__main__":
    sys.exit(main())
