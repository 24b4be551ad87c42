"""The history benches' year: daily CSVs in the reference script's format, their truth, the raw baselines.

`generated(size)` writes ``days`` files ``repos-YYYY-MM-DD.csv`` of ``n`` repositories (`SHAPES`; the
size is their rows) once per process, shared by the scenarios: the reference script's format (jq @csv:
``"acme","repo-00001",false,"2025-...Z",123,4`` under the quoted six-column header), with every pull
count growing at its own rate, stars now and then, a few pushes a day moving ``last_updated``, two
repositories added and two removed a day, two flipping visibility. The generator keeps the truth, which
`check_trends` and `check_history` hold the commands' JSON to. The raw baselines are scripts run as
``python -c`` (a loader, a query), each its own process like the commands.
"""

from __future__ import annotations

import atexit
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ORG = "acme"
END = date(2026, 11, 27)
HEADER = '"namespace","name","is_private","last_updated","pull_count","star_count"\n'
SHAPES = {3_650_000: (365, 10_000), 120_000: (60, 2_000), 1_400: (7, 200)}  # rows: (days, repositories)


@dataclass
class Truth:
    days: list[date]
    rows: int = 0
    first: dict[str, tuple[bool, int, int]] = field(default_factory=dict)  # name -> (private, pulls, stars)
    last: dict[str, tuple[bool, int, int]] = field(default_factory=dict)
    tracked: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # name -> [(day, pulls)]


def stamp(epoch: float) -> str:
    whole = int(epoch)
    fraction = f"{int((epoch - whole) * 1_000_000):06d}".rstrip("0")
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


class Org:
    """The repositories: name -> [private, last_updated, pulls, stars, pulls a day]; ``names`` in no order."""

    def __init__(self, rnd: random.Random, start: date, n: int) -> None:
        self.rnd, self.start = rnd, start
        self.names: list[str] = []
        self.state: dict[str, list[Any]] = {}
        self.added = 0
        for _ in range(n):
            self.add()

    def add(self) -> None:
        rnd = self.rnd
        name = f"repo-{self.added:05d}"
        self.added += 1
        self.names.append(name)
        born = time.mktime(self.start.timetuple()) - rnd.random() * 3 * 365 * 86400
        rate = int(10 ** (rnd.random() * 4))  # 1 .. 10,000 pulls a day
        values = [
            rnd.random() < 1 / 3,
            stamp(born),
            int(rate * rnd.random() * 500),
            int(rnd.random() * 50),
            rate,
        ]
        self.state[name] = values

    def next_day(self, day: date, tracked: set[str], churn: int = 2, flips: int = 2) -> None:
        rnd = self.rnd
        for _ in range(churn):  # removals (never a tracked one), then additions
            victim = rnd.randrange(len(self.names))
            while self.names[victim] in tracked:
                victim = rnd.randrange(len(self.names))
            del self.state[self.names[victim]]
            self.names[victim] = self.names[-1]
            self.names.pop()
        for _ in range(churn):
            self.add()
        for _ in range(flips):
            flipped = self.state[self.names[rnd.randrange(len(self.names))]]
            flipped[0] = not flipped[0]
        midnight = time.mktime(day.timetuple()) - time.timezone
        for values in self.state.values():
            values[2] += values[4] + int(rnd.random() * values[4])  # pulls only grow
            r = rnd.random()
            if r < 0.01:
                values[3] += 1
            elif r < 0.03:  # a push today
                values[1] = stamp(midnight + r * 86400 * 30)

    def write(self, path: Path) -> None:
        with open(path, "w", encoding="utf-8", newline="") as out:
            out.write(HEADER)
            out.writelines(
                f'"{ORG}","{name}",{"true" if v[0] else "false"},"{v[1]}",{v[2]},{v[3]}\n'
                for name, v in sorted(self.state.items())
            )

    def summary(self) -> dict[str, tuple[bool, int, int]]:
        return {name: (v[0], v[2], v[3]) for name, v in self.state.items()}


def generate(directory: Path, days: int, n: int, *, seed: int = 11) -> Truth:
    """Write ``days`` CSVs of ``n`` repositories into ``directory``; return the truth."""
    directory.mkdir(parents=True, exist_ok=True)
    start = END - timedelta(days=days - 1)
    org = Org(random.Random(seed), start, n)
    tracked = {org.names[1], org.names[n // 2], org.names[-1]}
    truth = Truth(days=[start + timedelta(days=i) for i in range(days)])
    truth.tracked = {name: [] for name in tracked}
    for index, day in enumerate(truth.days):
        if index:
            org.next_day(day, tracked)
        org.write(directory / f"repos-{day.isoformat()}.csv")
        truth.rows += len(org.state)
        for name in tracked:
            truth.tracked[name].append((day.isoformat(), org.state[name][2]))
        if index == 0:
            truth.first = org.summary()
    truth.last = org.summary()
    return truth


_GENERATED: dict[int, tuple[Path, Truth]] = {}


def generated(size: int) -> tuple[Path, Truth]:
    """The CSVs of this size (`SHAPES`), generated once per process into a folder removed at exit."""
    if size not in _GENERATED:
        folder = Path(tempfile.mkdtemp(prefix="bench-history-csv-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        started = time.perf_counter()
        _GENERATED[size] = folder, generate(folder, *SHAPES[size])
        print(f"  generated {size:,} rows of CSV in {time.perf_counter() - started:.1f} s", flush=True)
    return _GENERATED[size]


def check_trends(report: dict[str, Any], truth: Truth) -> None:
    """Deltas of the five biggest movers, added / removed / visibility flips vs. the generator's truth."""
    rows = {row["name"]: row for row in report.get("repositories", [])}
    both = [name for name in truth.last if name in truth.first]
    movers = sorted(both, key=lambda name: truth.last[name][1] - truth.first[name][1], reverse=True)[:5]
    problems = []
    for name in movers:
        for key, i in (("pulls_delta", 1), ("stars_delta", 2)):
            want = truth.last[name][i] - truth.first[name][i]
            if rows.get(name, {}).get(key) != want:
                problems.append(f"{name}: {key} {rows.get(name, {}).get(key)} != {want}")
    flipped = sorted(name for name in both if truth.first[name][0] != truth.last[name][0])
    expected = {
        "added": sorted(set(truth.last) - set(truth.first)),
        "removed": sorted(set(truth.first) - set(truth.last)),
        "visibility_changed": flipped,
    }
    for key, names in expected.items():
        got = sorted(entry["name"] for entry in report.get(key, []))
        if got != names:
            problems.append(f"{key}: {len(got)} names != {len(names)}")
    if problems:
        raise AssertionError("trends differs from the generator's truth: " + "; ".join(problems[:5]))


def check_history(records: list[dict[str, Any]], name: str, truth: Truth) -> None:
    got = [(str(r.get("snapshot_date")), r.get("pull_count")) for r in records]
    if got != truth.tracked[name]:
        raise AssertionError(
            f"history of {name}: {len(got)} days, first {got[:1]} != {truth.tracked[name][:1]}"
        )


RAW_SQLITE_LOAD = r"""
import csv, sqlite3, sys
from pathlib import Path
db, org, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
con = sqlite3.connect(db, isolation_level=None)
con.execute("PRAGMA journal_mode=WAL")
con.execute("PRAGMA synchronous=NORMAL")
con.execute("PRAGMA cache_size=-65536")
sql = ("INSERT INTO repository_snapshots (namespace, snapshot_date, name, write_id, is_private, "
       "last_updated, pull_count, star_count) VALUES (?, ?, ?, 1, ?, ?, ?, ?)")
def ts(v):
    if not v: return None
    frac = v[20:-1] if len(v) > 20 else ""
    return f"{v[:10]} {v[11:19]}.{frac.ljust(6, '0')[:6]}"
total = 0
for path in sorted(folder.glob("repos-*.csv")):
    day = path.stem[6:]
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle); next(reader)
        rows = [(org, day, r[1], 1 if r[2] == "true" else 0, ts(r[3]), int(r[4]), int(r[5])) for r in reader]
    con.execute("BEGIN")
    con.execute("INSERT INTO snapshots (namespace, snapshot_date, write_id, repositories, private, "
                "written_at) VALUES (?, ?, 1, ?, ?, '2026-11-27 00:00:00.000000')",
                (org, day, len(rows), sum(r[3] for r in rows)))
    con.executemany(sql, rows)
    con.execute("COMMIT")
    total += len(rows)
print(total)
"""

RAW_POSTGRES_LOAD = r"""
import csv, sys, psycopg
from datetime import date
from pathlib import Path
dsn, org, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
total = 0
with psycopg.connect(dsn) as con:
    for path in sorted(folder.glob("repos-*.csv")):
        day = date.fromisoformat(path.stem[6:])
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle); next(reader)
            rows = [(org, day, r[1], 1, r[2] == "true", r[3][:-1] or None, int(r[4]), int(r[5]))
                    for r in reader]
        con.execute("INSERT INTO snapshots (namespace, snapshot_date, write_id, repositories, private, "
                    "written_at) VALUES (%s, %s, 1, %s, %s, now())",
                    (org, day, len(rows), sum(r[4] for r in rows)))
        with con.cursor().copy("COPY repository_snapshots (namespace, snapshot_date, name, write_id, "
                               "is_private, last_updated, pull_count, star_count) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        con.commit()
        total += len(rows)
print(total)
"""

# The same two-day comparison `trends` answers: both ends side by side, plus the repositories gone by the end.
TRENDS_SQL = """
SELECT e.name, s.pull_count, e.pull_count, e.pull_count - s.pull_count, s.star_count, e.star_count,
       s.is_private, e.is_private
FROM repository_snapshots e LEFT JOIN repository_snapshots s
  ON s.namespace = e.namespace AND s.snapshot_date = {first} AND s.name = e.name
WHERE e.namespace = {org} AND e.snapshot_date = {last}
UNION ALL
SELECT s.name, s.pull_count, NULL, NULL, s.star_count, NULL, s.is_private, NULL
FROM repository_snapshots s
WHERE s.namespace = {org} AND s.snapshot_date = {first} AND NOT EXISTS (
  SELECT 1 FROM repository_snapshots e2
  WHERE e2.namespace = {org} AND e2.snapshot_date = {last} AND e2.name = s.name)
ORDER BY 4 DESC
"""

RAW_QUERY = r"""
import json, sys
kind, driver, url, org, arg = sys.argv[1:6]
if driver == "sqlite":
    import sqlite3
    con = sqlite3.connect(url); p = "?"
else:
    import psycopg
    con = psycopg.connect(url); p = "%s"
cur = con.cursor()
if kind == "history":
    cur.execute(f"SELECT snapshot_date, pull_count, star_count, is_private, last_updated "
                f"FROM repository_snapshots WHERE namespace = {p} AND name = {p} ORDER BY snapshot_date",
                (org, arg))
else:
    cur.execute(f"SELECT min(snapshot_date), max(snapshot_date) FROM snapshots WHERE namespace = {p}", (org,))
    first, last = cur.fetchone()
    sql = arg.format(first=p, last=p, org=p)
    cur.execute(sql, (first, org, last, org, first, org, last))
rows = cur.fetchall()
def plain(v):
    return str(v) if v is not None and not isinstance(v, (int, float, str, bool)) else v
json.dump([[plain(v) for v in r] for r in rows], sys.stdout)
"""
