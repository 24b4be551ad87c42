"""Views (issue 11): the BI views over a year of history, queried in plain SQL, SQLite and PostgreSQL.

The setup builds each code's database in a worker process of that code (`store_worker.py views_year`):
a year (365 days) of 10,000 repositories written a day at a time with `store.write_snapshot`, with
changes, churn and three gap days (`repoyear`), and a year of tag history, 500 repositories × 30 tags,
5 % changing a night, written in bulk (`tagyear`); the size is the repository rows. Figures of that
build, once per code: ``build_s`` (the snapshots), ``tag_history_s``.

Then every query as a BI tool runs it: plain SQL through SQLAlchemy `text()`, on an engine of
`sqlalchemy.create_engine` (none of the store's connection settings), one connection kept open, every row
fetched; ``*_first_s`` its first run (the current code's), ``*_s`` the fastest of three runs a repetition:

* ``by_name_s`` / ``by_name_gapped_s`` — `repository_daily` of one repository present every day, and
  of one missing on the gap days; ``by_day_s`` / ``by_day_after_gap_s`` — `repository_daily` of one
  ordinary day, and of the day after a gap (1 % of the repositories take the fallback): ≤ 0.5 s each;
* without a target: ``latest_repositories_s``, ``latest_tags_s`` of the org, ``storage_daily_s`` of a
  night.

Checks: the ``pulls_delta`` of every row of both tracked repositories against the generator's counts,
gaps included. ``views-pg``: the same on PostgreSQL (`databases`), ANALYZEd once written (without
statistics the planner's choice rests on the table sizes it happens to see: a run may plan
`latest_repositories` as a hash join over the whole history, ×15 slower), statement_timeout 120 s.
At the full and quick sizes the current code's query plans go to bench/results/views-plans-<time>.txt
(SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN (ANALYZE, BUFFERS)).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from harness import databases
from harness.core import Figures, Scenario, Setup, SetupFactory, Target, scenario
from harness.tools import BENCH, Code

END = date(2026, 11, 27)
SHAPES = {3_650_000: (365, 10_000, 500), 120_000: (60, 2_000, 200), 1_600: (8, 200, 10)}
FULL, QUICK, SMOKE = sorted(SHAPES, reverse=True)
TARGET_S = 0.5
CANCEL_MS = 120_000
BEST_OF = 3
BY_NAME = "SELECT * FROM repository_daily WHERE namespace = 'acme' AND name = :n"
BY_DAY = "SELECT * FROM repository_daily WHERE namespace = 'acme' AND snapshot_date = :d"


@dataclass(frozen=True)
class Query:
    key: str
    sql: str
    params: dict[str, Any]


def queries(year: dict[str, Any], sqlite: bool) -> list[Query]:
    """The queries on this year's database (SQLite keeps days as ISO text)."""

    def day(value: date) -> Any:
        return value.isoformat() if sqlite else value

    days = [date.fromisoformat(text) for text in year["days"]]
    after_gap = date.fromisoformat(year["gap_days"][1]) + timedelta(days=1)
    tag_night = END - timedelta(days=min(30, len(days) // 2))
    return [
        Query("by_name", BY_NAME, {"n": year["regular"]}),
        Query("by_name_gapped", BY_NAME, {"n": year["gapped"]}),
        Query("by_day", BY_DAY, {"d": day(days[-min(10, len(days))])}),
        Query("by_day_after_gap", BY_DAY, {"d": day(after_gap)}),
        Query("latest_repositories", "SELECT * FROM latest_repositories WHERE namespace = 'acme'", {}),
        Query("latest_tags", "SELECT * FROM latest_tags WHERE namespace = 'acme'", {}),
        Query(
            "storage_daily",
            "SELECT * FROM storage_daily WHERE namespace = 'acme' AND snapshot_date = :d",
            {"d": day(tag_night)},
        ),
    ]


def check(rows: list[Any], year: dict[str, Any], name: str) -> None:
    """pulls_delta of every row against the generator's counts (the repository's own previous day)."""
    counts = year["pulls"][name]
    got = {str(row.snapshot_date): (row.pull_count, row.pulls_delta) for row in rows}
    days = sorted(counts)
    want = {
        day: (counts[day], counts[day] - counts[days[i - 1]] if i else None) for i, day in enumerate(days)
    }
    if got != want:
        wrong = sorted(day for day in want.keys() | got.keys() if got.get(day) != want.get(day))
        raise AssertionError(f"repository_daily of {name}: {len(got)} rows, wrong on {wrong[:3]}")


def run(connection: sa.Connection, query: Query, year: dict[str, Any], times: int = 1) -> float:
    """The query ``times`` times, every row fetched: the fastest run's seconds (a query of a few
    milliseconds is at the mercy of the machine's other processes). Its rows checked where the
    generator knows them."""
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        rows = connection.execute(sa.text(query.sql), query.params).fetchall()
        seconds.append(time.perf_counter() - started)
    if query.sql == BY_NAME:
        check(list(rows), year, query.params["n"])
    return min(seconds)


def plan(connection: sa.Connection, query: Query) -> str:
    sqlite = connection.dialect.name == "sqlite"
    explain = "EXPLAIN QUERY PLAN" if sqlite else "EXPLAIN (ANALYZE, BUFFERS)"
    rows = connection.execute(sa.text(f"{explain} {query.sql}"), query.params)
    lines = [" | ".join(map(str, row)) if sqlite else str(row[0]) for row in rows]
    return f"### {connection.dialect.name}: {query.key}\n{query.sql}   -- {query.params}\n\n" + "\n".join(
        lines
    )


def write_plans(connection: sa.Connection, year: dict[str, Any]) -> None:
    plans = [plan(connection, query) for query in queries(year, connection.dialect.name == "sqlite")]
    path = BENCH / "results" / f"views-plans-{connection.dialect.name}-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(plans) + "\n", encoding="utf-8")
    print(f"  plans: {path}", flush=True)


def build(setup: Setup, code: Code, url: str, stack: contextlib.ExitStack) -> dict[str, Any]:
    """The code's year in its database, then a connection as a BI tool opens it, each query run once."""
    days, n, tag_repos = SHAPES[setup.size]
    year = code.worker("views_year", url, END, days, n, tag_repos, script="store_worker.py")
    engine = sa.create_engine(url)
    stack.callback(engine.dispose)
    connection = stack.enter_context(engine.connect())
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(f"SET statement_timeout = {CANCEL_MS}"))
        connection.execute(sa.text("ANALYZE"))
        connection.commit()
    sqlite = connection.dialect.name == "sqlite"
    first = {f"{q.key}_first_s": run(connection, q, year) for q in queries(year, sqlite)}
    if not code.rev and setup.size != SMOKE:
        write_plans(connection, year)
    figures = {"build_s": year["seconds"], "tag_history_s": year["tag_seconds"]}
    figures.update({} if code.rev else first)  # one run of a few milliseconds: no pair to compare
    return {"year": year, "connection": connection, "once": figures}


def built(postgres: bool) -> SetupFactory:
    @contextlib.contextmanager
    def setup(size: int, codes: list[Code]) -> Iterator[Setup]:
        work = Path(tempfile.mkdtemp(prefix="bench-views-"))
        names = [f"dhe_bench_views_{index}" for index in range(len(codes))]
        drop = databases.dropped_after(*names) if postgres else contextlib.nullcontext()
        try:
            with drop, contextlib.ExitStack() as stack:
                ready = Setup(size, codes, work=work)
                for index, code in enumerate(codes):
                    if postgres:
                        url = databases.fresh_postgres(names[index])
                    else:
                        url = databases.fresh_sqlite(work / f"{index}.db")
                    ready.state[code.label] = build(ready, code, url, stack)
                yield ready
        finally:
            shutil.rmtree(work, ignore_errors=True)

    return setup


def project(setup: Setup, code: Code) -> Figures:
    """Each query, the fastest of `BEST_OF` runs; the build's and the first runs' figures with the first
    repetition only."""
    built_code = setup.state[code.label]
    connection: sa.Connection = built_code["connection"]
    year = built_code["year"]
    figures = {
        f"{q.key}_s": run(connection, q, year, BEST_OF)
        for q in queries(year, connection.dialect.name == "sqlite")
    }
    connection.rollback()
    figures.update(built_code.pop("once", {}))
    return figures


TARGETS = tuple(
    Target(f"{key}_s", TARGET_S, why="a BI tool's query of repository_daily")
    for key in ("by_name", "by_name_gapped", "by_day", "by_day_after_gap")
)


def register(postgres: bool) -> None:
    on_what, suffix = ("PostgreSQL", "-pg") if postgres else ("SQLite", "")
    scenario(
        Scenario(
            name=f"views{suffix}",
            what=f"the BI views over a year of history in plain SQL (size: repository rows), {on_what}",
            sizes=(FULL,),
            quick=(QUICK,),
            smoke=SMOKE,
            project=project,
            setup=built(postgres),
            repeats=lambda size: 5 if size == FULL else 3,
            targets=TARGETS,
            smoke_skip=databases.NO_POSTGRES_IN_SMOKE if postgres else "",
        )
    )


register(postgres=False)
register(postgres=True)
