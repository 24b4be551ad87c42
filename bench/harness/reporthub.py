"""The report-run bench's Hub: `tests/fakehub.py` serving one org night after night as `tests/hubhistory.py`
moves it (what ``fakehub.py --tags T --access --day N`` serves), in its own process, steered over
stdin/stdout like `hubserver.py` (`hubchild`):

    python bench/harness/reporthub.py --repos N --tags T [--latency S]

On start (day 0) it prints ``{"url": ...}``; then one JSON command a line, one answer line each:

    {"cmd": "day", "day": D}  -> the org moved on to day D (later than the one served): its repositories,
                                 tags, access and audit log as hubhistory changes them; answers
                                 {"night": the day's date}
    {"cmd": "quit"}
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

# Run as a script (`tools.HubProcess`): bench/ for `harness`, tests/ for the fake Hub.
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2] / "tests")]

import hubhistory  # noqa: E402
from fakehub import FakeHub, Faults  # noqa: E402

from harness.hubchild import answer_commands  # noqa: E402

START = hubhistory.MIN_START


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--org", default="acme")
    parser.add_argument("--token", default="bench-oat-acme")
    parser.add_argument("--repos", type=int, required=True)
    parser.add_argument("--tags", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    hub = FakeHub(credentials={args.token: (args.org, "all")}, faults=Faults(latency=args.latency))
    hubhistory.build(hub, args.org, args.repos, tags=args.tags, seed=args.seed, start=START, access=True)
    served = [0]

    def handle(name: str, command: dict[str, Any]) -> dict[str, Any] | None:
        if name != "day":
            return None
        for day in range(served[0] + 1, int(command["day"]) + 1):  # hubhistory.build's own loop
            hubhistory._Day(hub, args.org, args.seed, day, START).run()
            hubhistory._AccessDay(hub, args.org, args.seed, day, START).run()
        served[0] = max(served[0], int(command["day"]))
        return {"night": night(served[0]).isoformat()}

    hub.start()
    answer_commands(hub, {"url": hub.url, "night": night(0).isoformat()}, handle)


def night(day: int) -> date:
    return hubhistory.night_of(START, day)


if __name__ == "__main__":
    main()
