"""Write the golden data files: ``data/<name>.txt`` for every output of `scenarios.collect`.

Run it on the code whose behaviour is to be pinned (the pre-refactor commit), from the repository root::

    DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false .venv/bin/python tests/golden/make.py

It starts a Prefect server (``prefect_test_harness``, ~20 s), runs every scenario in a temporary folder,
replaces ``data/`` with the new files and prints a summary. ``--check`` compares instead of writing
(the same comparison as ``pytest tests/golden``); ``--keep DIR`` runs in DIR (must be empty or absent)
and leaves it there for inspection.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]  # tests/: the `golden` package and fakehub

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")

from golden.scenarios import collect  # noqa: E402
from golden.test_golden import DATA, compare, data_file, read_golden  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with data/ instead of writing it")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args(argv)

    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    started = time.monotonic()
    with prefect_test_harness(server_startup_timeout=120):
        api_url = PREFECT_API_URL.value()
        print(f"Prefect server at {api_url} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
        if args.keep:
            outputs = collect(args.keep.resolve(), api_url)
        else:
            with tempfile.TemporaryDirectory(prefix="golden-") as work:
                outputs = collect(Path(work), api_url)
    print(f"{len(outputs)} outputs in {time.monotonic() - started:.0f} s", file=sys.stderr)

    if args.check:
        problems = compare(outputs)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} differences", file=sys.stderr)
        return 1 if problems else 0
    if DATA.exists():
        shutil.rmtree(DATA)
    DATA.mkdir()
    (DATA / ".gitattributes").write_text(
        "# Golden files are compared byte for byte: no end-of-line conversion.\n* -text\n"
    )
    for name, text in outputs.items():
        with open(data_file(name), "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    assert read_golden() == outputs
    print(f"wrote {len(outputs)} files to {DATA}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
