"""Run the benchmarks: every scenario of the harness (bench/harness/).

    python bench/run_all.py [--smoke | --quick] [--only NAME,...] [--compare REV] [--repeat N] [--list]

``--smoke`` runs every scenario at its smallest size once (the test suite does, tests/test_bench.py).
"""

from __future__ import annotations

import importlib
import sys

from harness import SCENARIO_MODULES, runner


def main() -> int:
    for name in SCENARIO_MODULES:
        importlib.import_module(f"harness.{name}")
    return runner.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
