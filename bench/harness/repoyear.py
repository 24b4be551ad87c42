"""A year of repository snapshots for the views bench, written a day at a time with `store.write_snapshot`.

Pull counts grow at each repository's own rate, a few pushes and stars a day, ``churn`` repositories
added and removed a day, and on three days 1 % of the repositories missing (back the next day), so that
`repository_daily`'s fallback (a repository missing from the org's previous snapshot walks back to its
own previous one) runs. Two repositories are tracked (one present every day, one missing on the gap
days): the views' deltas are checked against their counts. It imports the `dockerhub_export` its process
has (the store worker may run it on REV's code), nothing of the harness.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

ORG = "acme"
EPOCH = date(1970, 1, 1)


@dataclass
class Year:
    """What was written, and the truth the checks need (JSON-ready: days as ISO text)."""

    days: list[str]
    gap_days: list[str]
    regular: str = ""  # present every day
    gapped: str = ""  # missing on every gap day
    pulls: dict[str, dict[str, int]] = field(default_factory=dict)  # tracked name -> day -> pull count
    missing: dict[str, int] = field(default_factory=dict)  # day -> repositories missing that day
    rows: int = 0
    seconds: float = 0.0


def stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1_000_000):06d}"


class Repositories:
    """The org's repositories: name -> [private, last_updated text, pulls, stars, pulls a day]."""

    def __init__(self, rnd: random.Random, start: date, n: int) -> None:
        self.rnd, self.start = rnd, start
        self.state: dict[str, list[Any]] = {}
        self.next_id = 0
        for _ in range(n):
            self.add()

    def add(self) -> None:
        rnd = self.rnd
        name = f"repo-{self.next_id:05d}"
        self.next_id += 1
        born = (self.start - EPOCH).days * 86400 - rnd.random() * 3 * 365 * 86400
        rate = int(10 ** (rnd.random() * 4))
        self.state[name] = [
            rnd.random() < 1 / 3,
            stamp(born),
            int(rate * rnd.random() * 500),
            int(rnd.random() * 50),
            rate,
        ]

    def next_day(self, day: date, churn: int, tracked: set[str]) -> None:
        """``churn`` removed (never a tracked one) and added; pulls grow, a few stars and pushes."""
        rnd = self.rnd
        for _ in range(churn):
            del self.state[rnd.choice([name for name in list(self.state)[:50] if name not in tracked])]
        for _ in range(churn):
            self.add()
        midnight = (day - EPOCH).days * 86400
        for values in self.state.values():
            values[2] += values[4] + int(rnd.random() * values[4])
            r = rnd.random()
            if r < 0.01:
                values[3] += 1
            elif r < 0.03:
                values[1] = stamp(midnight + r * 86400 * 30)

    def columns(self, absent: set[str]) -> dict[str, list[Any]]:
        """The present repositories as `store.write_snapshot` takes them."""
        present = sorted(name for name in self.state if name not in absent)
        values = [self.state[name] for name in present]
        return {
            "name": present,
            "is_private": [v[0] for v in values],
            "last_updated": [v[1] for v in values],
            "pull_count": [v[2] for v in values],
            "star_count": [v[3] for v in values],
        }


def repository_year(
    engine: sa.Engine, end: date, days: int, n: int, *, seed: int = 11, churn: int = 2
) -> Year:
    """``days`` snapshots of about ``n`` repositories ending on ``end``, each `store.write_snapshot`."""
    from dockerhub_export import store

    rnd = random.Random(seed)
    start = end - timedelta(days=days - 1)
    dates = [start + timedelta(days=i) for i in range(days)]
    gaps = {dates[days // 4], dates[days // 2], dates[3 * days // 4]}
    org = Repositories(rnd, start, n)
    names = sorted(org.state)
    year = Year([d.isoformat() for d in dates], sorted(d.isoformat() for d in gaps), names[1], names[n // 2])
    tracked = {year.regular, year.gapped}
    year.pulls = {name: {} for name in tracked}
    started = time.perf_counter()
    for index, day in enumerate(dates):
        if index:
            org.next_day(day, churn, tracked)
        absent: set[str] = set()
        if day in gaps:
            pool = [name for name in org.state if name not in tracked]
            absent = set(rnd.sample(pool, max(0, int(0.01 * len(org.state)) - 1))) | {year.gapped}
        year.missing[day.isoformat()] = len(absent)
        year.rows += store.write_snapshot(engine, ORG, day, org.columns(absent))
        for name in tracked - absent:
            year.pulls[name][day.isoformat()] = org.state[name][2]
    year.seconds = time.perf_counter() - started
    return year
