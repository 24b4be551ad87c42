"""A year of nightly history with tags, written straight through the store (no Hub, no run): the store the
`report` command is timed on (`bench/harness/report_page.py`).

    python bench/harness/reportyear.py --repos 10000 --nights 365 --tags 10 --database-url sqlite:///PATH

First `accessyear.build`: the org moved night by night as `tests/hubhistory.py` moves the fake Hub's
(repositories created, deleted, made public or private, pulls growing; members, teams, permissions and
tokens changing), each night's snapshot, audit events and access night stored as a run stores them. Then
a tag history over the same nights for the first night's repositories, ``--tags`` tags each, 5 % of the
tags changing a night (pushes, pulls; a third of the repositories taking 80 % of the activity, as
`tagyear.tag_nights` moves them), written in bulk through the store's own path (`tagyear.BulkTagHistory`).

Prints one JSON line: the nights' first and last dates, the last night's repositories, the seconds the
build took.
"""

from __future__ import annotations

import argparse
import calendar
import json
import random
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

# Run as a script: bench/ for `harness`, tests/ for the fake Hub's history.
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2] / "tests")]

import hubhistory  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from harness import accessyear, tagyear  # noqa: E402

ORG = accessyear.ORG
CHANGE_SHARE = 0.05  # of the tags, a night


def tag_nights(
    names: Sequence[str], start: date, nights: int, per_repo: int, *, seed: int = 7
) -> Iterator[tagyear.Night]:
    """`tagyear.tag_nights` for the given repositories from ``start``: (night, present, listed, tags)."""
    rnd = random.Random(seed)
    start_epoch = float(calendar.timegm(start.timetuple()))
    hot = list(names[: len(names) // 3])
    state = {name: tagyear.first_tags(rnd, ORG, name, per_repo, start_epoch) for name in names}
    versions = dict.fromkeys(names, per_repo - 1)
    chosen = max(1, int(CHANGE_SHARE * len(names) * per_repo) // 10)
    for index in range(nights):
        fetched: Sequence[str] = names
        if index:
            picked: set[str] = set()
            while len(picked) < chosen:
                picked.add(rnd.choice(hot) if rnd.random() < 0.8 else rnd.choice(names))
            fetched = sorted(picked)
            now = start_epoch + index * 86400 + 3600
            for name in fetched:
                versions[name] = tagyear.change(rnd, f"{ORG}/{name}", state[name], versions[name], 10, now)
        yield (
            start + timedelta(days=index),
            list(names),
            list(fetched),
            tagyear.listed_columns(state, fetched),
        )


def first_names(engine: sa.Engine, night: date) -> list[str]:
    from dockerhub_export.store import repository_snapshots as rs

    query = sa.select(rs.c.name).where(rs.c.namespace == ORG, rs.c.snapshot_date == night).order_by(rs.c.name)
    with engine.connect() as connection:
        return list(connection.scalars(query))


def last_count(engine: sa.Engine, night: date) -> int:
    from dockerhub_export.store import snapshots

    query = sa.select(snapshots.c.repositories).where(
        snapshots.c.namespace == ORG, snapshots.c.snapshot_date == night
    )
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def build(url: str, repos: int, nights: int, per_repo: int, seed: int) -> dict[str, Any]:
    from dockerhub_export.store import open_engine

    started = time.perf_counter()
    built = accessyear.build(url, repos, nights, hubhistory.MIN_START, seed)
    first, last = date.fromisoformat(built["first"]), date.fromisoformat(built["last"])
    engine = open_engine(url)
    try:
        history = tagyear.BulkTagHistory(ORG)
        tags = 0
        for night, present, fetched, columns in tag_nights(
            first_names(engine, first), first, nights, per_repo
        ):
            history.night(night, present, fetched, columns)
            tags = history.nights[-1]["tags"]
        history.write(engine)
        repositories = last_count(engine, last)
    finally:
        engine.dispose()
    return {
        "first": built["first"],
        "last": built["last"],
        "repositories": repositories,
        "tags": tags,
        "versions": len(history.versions),
        "build_s": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=10_000)
    parser.add_argument("--nights", type=int, default=365)
    parser.add_argument("--tags", type=int, default=10, help="tags per repository")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    print(json.dumps(build(args.database_url, args.repos, args.nights, args.tags, args.seed)), flush=True)


if __name__ == "__main__":
    main()
