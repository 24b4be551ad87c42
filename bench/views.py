"""Views benchmark (issue 11): the BI views over a year of history, in plain SQL, SQLite and PostgreSQL.

    python bench/views.py [--quick] [--backend sqlite|postgres|both] [--postgres URL]

A year (365 snapshot days) of 10,000 repositories (--quick: 60 days × 2,000) is written with the store's
bulk entry `store.write_snapshot`, one day at a time (the path `backfill` uses), with realistic changes:
pull counts grow at each repository's own rate, a few pushes and stars a day, two repositories added
and two removed a day, and on three days 1 % of the repositories missing (back the next day), so that
`repository_daily`'s fallback (a repository missing from the org's previous snapshot walks back to its
own previous one) runs. Beside it a year of tag history for `latest_tags` and `storage_daily`: 500
repositories × 30 tags, 5 % of the tags changing a night (--quick 200 × 30), the rows
`store.write_tag_night` writes night by night, computed and written in bulk (`tagdata.BulkTagHistory`;
bench/tags.py checks both give the same tables).

Then every query as a BI tool runs it: plain SQL through SQLAlchemy `text()`, on an engine made with
`sqlalchemy.create_engine` (none of the store's connection settings), one connection kept open; the
first run and the median of the repeats (fetching every row):

* `SELECT * FROM repository_daily WHERE namespace = 'acme' AND name = :n`, for a repository present
  every day and for one missing on the gap days (target ≤ 0.5 s);
* `SELECT * FROM repository_daily WHERE namespace = 'acme' AND snapshot_date = :d`, for an ordinary day
  and for the day after a gap (100 repositories take the fallback) (target ≤ 0.5 s);
* without a target: `latest_repositories` of the org, `latest_tags` of the org, `storage_daily` of
  one night.

PostgreSQL: the same before and after a manual ANALYZE (whether autovacuum had analyzed the tables is
printed). Every query's plan (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN (ANALYZE, BUFFERS)) goes
to bench/results/views-plans-<time>.txt. The rows are checked: the delta of the tracked repositories
against the generator's own counts, including across a gap.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import common
from common import ORG, median, table, verdict
from tagdata import tag_year

END = date(2026, 11, 27)
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCRATCH = "dhe_bench_views"
TARGET_S = 0.5


# -- the year ------------------------------------------------------------------------------------------------


@dataclass
class Year:
    days: list[date]
    rows: int = 0
    gap_days: list[date] = field(default_factory=list)
    regular: str = ""  # present every day
    gapped: str = ""  # missing on every gap day
    pulls: dict[str, dict[date, int]] = field(default_factory=dict)  # the tracked repositories' counts
    missing: dict[date, int] = field(default_factory=dict)
    seconds: float = 0.0


def _text(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1_000_000):06d}"


def repository_year(
    engine: Any,
    days: int,
    n: int,
    *,
    seed: int = 11,
    churn: int = 2,
    gap_fraction: float = 0.01,
    progress: Any = None,
) -> Year:
    """``days`` snapshots of about ``n`` repositories ending on END, written with `store.write_snapshot`."""
    from dockerhub_export import store

    rnd = random.Random(seed)
    start = END - timedelta(days=days - 1)
    year = Year(days=[start + timedelta(days=i) for i in range(days)])
    year.gap_days = [year.days[days // 4], year.days[days // 2], year.days[3 * days // 4]]
    state: dict[str, list[Any]] = {}  # name -> [private, last_updated text, pulls, stars, rate]
    next_id = 0

    def add() -> None:
        nonlocal next_id
        name = f"repo-{next_id:05d}"
        next_id += 1
        born = (start - date(1970, 1, 1)).days * 86400 - rnd.random() * 3 * 365 * 86400
        rate = int(10 ** (rnd.random() * 4))
        state[name] = [
            rnd.random() < 1 / 3,
            _text(born),
            int(rate * rnd.random() * 500),
            int(rnd.random() * 50),
            rate,
        ]

    for _ in range(n):
        add()
    names = sorted(state)
    year.regular, year.gapped = names[1], names[n // 2]
    tracked = {year.regular, year.gapped}
    year.pulls = {name: {} for name in tracked}
    started = time.perf_counter()
    for index, day in enumerate(year.days):
        if index:
            for _ in range(churn):
                victim = rnd.choice([name for name in list(state)[:50] if name not in tracked])
                del state[victim]
            for _ in range(churn):
                add()
            midnight = (day - date(1970, 1, 1)).days * 86400
            for values in state.values():
                values[2] += values[4] + int(rnd.random() * values[4])
                r = rnd.random()
                if r < 0.01:
                    values[3] += 1
                elif r < 0.03:
                    values[1] = _text(midnight + r * 86400 * 30)
        absent: set[str] = set()
        if day in year.gap_days:
            pool = [name for name in state if name not in tracked]
            absent = set(rnd.sample(pool, int(gap_fraction * len(state)) - 1)) | {year.gapped}
        year.missing[day] = len(absent)
        present = sorted(name for name in state if name not in absent)
        columns = {
            "name": present,
            "is_private": [state[name][0] for name in present],
            "last_updated": [state[name][1] for name in present],
            "pull_count": [state[name][2] for name in present],
            "star_count": [state[name][3] for name in present],
        }
        year.rows += store.write_snapshot(engine, ORG, day, columns)
        for name in tracked:
            if name not in absent:
                year.pulls[name][day] = state[name][2]
        if progress and (index + 1) % 60 == 0:
            progress(f"  day {index + 1}/{days} ({time.perf_counter() - started:.0f} s)")
    year.seconds = time.perf_counter() - started
    return year


# -- PostgreSQL scratch databases ----------------------------------------------------------------------------


def _admin_dsn(server_url: str) -> str:
    import sqlalchemy as sa

    url = sa.make_url(server_url).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


def pg_create(server_url: str, database: str) -> str:
    import psycopg
    import sqlalchemy as sa

    with psycopg.connect(_admin_dsn(server_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')
    url = sa.make_url(server_url).set(drivername="postgresql+psycopg", database=database)
    return url.render_as_string(hide_password=False)


def pg_drop(server_url: str, database: str) -> None:
    import psycopg

    try:
        with psycopg.connect(_admin_dsn(server_url), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    except psycopg.Error as exc:
        print(f"could not drop {database}: {exc}")


# -- the queries ---------------------------------------------------------------------------------------------

BY_NAME = "SELECT * FROM repository_daily WHERE namespace = 'acme' AND name = :n"
BY_DAY = "SELECT * FROM repository_daily WHERE namespace = 'acme' AND snapshot_date = :d"
LATEST_REPOSITORIES = "SELECT * FROM latest_repositories WHERE namespace = 'acme'"
LATEST_TAGS = "SELECT * FROM latest_tags WHERE namespace = 'acme'"
STORAGE_DAY = "SELECT * FROM storage_daily WHERE namespace = 'acme' AND snapshot_date = :d"


def queries(year: Year, tag_night: date, dialect: str) -> list[tuple[str, str, dict[str, Any], bool]]:
    def day(value: date) -> Any:
        return value.isoformat() if dialect == "sqlite" else value  # SQLite keeps days as ISO text

    after_gap = year.gap_days[1] + timedelta(days=1)
    ordinary = year.days[-10]
    return [
        (f"repository_daily, one repository ({year.regular}: every day)", BY_NAME, {"n": year.regular}, True),
        (
            f"repository_daily, one repository ({year.gapped}: missing on {len(year.gap_days)} days)",
            BY_NAME,
            {"n": year.gapped},
            True,
        ),
        (f"repository_daily, one day ({ordinary})", BY_DAY, {"d": day(ordinary)}, True),
        (
            f"repository_daily, one day after a gap ({after_gap}: {year.missing[year.gap_days[1]]} back)",
            BY_DAY,
            {"d": day(after_gap)},
            True,
        ),
        ("latest_repositories of the org", LATEST_REPOSITORIES, {}, False),
        ("latest_tags of the org", LATEST_TAGS, {}, False),
        (f"storage_daily, one night ({tag_night})", STORAGE_DAY, {"d": day(tag_night)}, False),
    ]


def measure(
    url: str,
    year: Year,
    tag_night: date,
    repeats: int,
    label: str,
    plans: list[str],
    slow: float = 5.0,
    cancel: float = 120.0,
) -> tuple[list[list[Any]], dict[str, Any], list[str]]:
    """Each query: the first run and the median of ``repeats`` more (none when the first took over ``slow``
    seconds: its figure is the first run), on one open connection; their plans into ``plans`` (a slow
    query's plan is PostgreSQL's estimate, not run again); the checks. PostgreSQL cancels a query after
    ``cancel`` seconds (statement_timeout)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    rows_out: list[list[Any]] = []
    raw: dict[str, Any] = {}
    notes: list[str] = []
    try:
        with engine.connect() as connection:
            dialect = connection.dialect.name
            if dialect == "postgresql":
                connection.execute(sa.text(f"SET statement_timeout = {int(cancel * 1000)}"))
            for name, sql, params, targeted in queries(year, tag_night, dialect):
                started = time.perf_counter()
                try:
                    result = connection.execute(sa.text(sql), params).fetchall()
                except sa.exc.OperationalError as exc:  # statement_timeout
                    connection.rollback()
                    connection.execute(sa.text(f"SET statement_timeout = {int(cancel * 1000)}"))
                    first = time.perf_counter() - started
                    rows_out.append(
                        [
                            label,
                            name,
                            "-",
                            f"> {cancel:.0f} (cancelled)",
                            "-",
                            f"FAIL ≤ {TARGET_S} s" if targeted else "",
                        ]
                    )
                    raw[name] = {"first": first, "cancelled": str(exc).splitlines()[0]}
                    print(f"  {label}: {name}: cancelled after {first:.0f} s", flush=True)
                    plans.append(_plan(connection, label, name, sql, params, run=False))
                    continue
                first = time.perf_counter() - started
                times = []
                for _ in range(repeats if first <= slow else 0):
                    started = time.perf_counter()
                    result = connection.execute(sa.text(sql), params).fetchall()
                    times.append(time.perf_counter() - started)
                seconds = median(times) if times else first
                rows_out.append(
                    [
                        label,
                        name,
                        len(result),
                        first,
                        seconds if times else "-",
                        f"{verdict(seconds <= TARGET_S)} ≤ {TARGET_S} s" if targeted else "",
                    ]
                )
                raw[name] = {"first": first, "times": times, "rows": len(result)}
                print(
                    f"  {label}: {name}: {len(result):,} rows, first {first:.3f} s, median {seconds:.3f} s",
                    flush=True,
                )
                plans.append(_plan(connection, label, name, sql, params, run=first <= slow))
                if sql == BY_NAME:
                    notes.append(f"{label} {params['n']}: {check(result, year, params['n'])}")
            connection.rollback()
    finally:
        engine.dispose()
    return rows_out, raw, notes


def _plan(connection: Any, label: str, name: str, sql: str, params: dict[str, Any], run: bool = True) -> str:
    import sqlalchemy as sa

    if connection.dialect.name == "sqlite":
        lines = [
            " | ".join(str(v) for v in row)
            for row in connection.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}"), params)
        ]
    else:
        explain = "EXPLAIN (ANALYZE, BUFFERS)" if run else "EXPLAIN"
        lines = [row[0] for row in connection.execute(sa.text(f"{explain} {sql}"), params)]
    shown = ", ".join(f"{key}={value}" for key, value in params.items())
    note = (
        ""
        if run or connection.dialect.name == "sqlite"
        else "   (slow: the planner's estimate, not run again)"
    )
    return (
        f"### {label}: {name}\n{sql}"
        + (f"   -- {shown}" if shown else "")
        + note
        + "\n\n"
        + "\n".join(lines)
        + "\n"
    )


def check(result: list[Any], year: Year, name: str) -> str:
    """pulls_delta of every row against the generator's counts (the repository's own previous day)."""
    counts = year.pulls[name]
    got = {_day(row.snapshot_date): (row.pull_count, row.pulls_delta) for row in result}
    problems = []
    previous = None
    for day in sorted(counts):
        want = None if previous is None else counts[day] - counts[previous]
        if got.get(day) != (counts[day], want):
            problems.append(f"{day}: {got.get(day)} != {(counts[day], want)}")
        previous = day
    if len(got) != len(counts):
        problems.append(f"{len(got)} rows != {len(counts)} days present")
    return (
        f"MISMATCH {problems[:3]}"
        if problems
        else f"OK: {len(got)} days, every pulls_delta right (gaps included)"
    )


def _day(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _autoanalyzed(url: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT relname, last_autoanalyze IS NOT NULL, current_setting('autovacuum') "
                    "FROM pg_stat_user_tables WHERE relname IN "
                    "('repository_snapshots', 'snapshots', 'tags', 'tag_nights') ORDER BY relname"
                )
            ).all()
            connection.execute(sa.text("ANALYZE"))
            connection.commit()
    finally:
        engine.dispose()
    analyzed = ", ".join(f"{row[0]} {'yes' if row[1] else 'no'}" for row in rows)
    return f"autovacuum={rows[0][2] if rows else '?'}; auto-analyzed before the queries: {analyzed}"


def build(url: str, days: int, n: int, tag_repos: int, label: str) -> tuple[Year, dict[str, Any]]:
    from dockerhub_export import store

    engine = store.open_engine(url)
    try:
        year = repository_year(engine, days, n, progress=lambda line: print(f"  {label}{line}", flush=True))
        print(
            f"  {label}: {year.rows:,} repository rows in {year.seconds:.1f} s "
            f"({year.rows / year.seconds:,.0f} rows/s)",
            flush=True,
        )
        tags = tag_year(
            engine,
            ORG,
            END,
            days,
            tag_repos,
            30,
            bulk=True,
            progress=lambda line: print(f"  {label} tags{line}", flush=True),
        )
        print(f"  {label}: {days} tag nights in {tags['seconds']:.1f} s", flush=True)
    finally:
        engine.dispose()
    return year, tags


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument(
            "--postgres", default=DEFAULT_PG, help="SQLAlchemy URL of a PostgreSQL server to use"
        )
        parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")

    args = common.parse_args(__doc__.splitlines()[0], extra)
    if args.compare:
        raise SystemExit("--compare: the code before the tag inventory has no tags to compare: run without")
    print(common.machine(), flush=True)
    days, n, tag_repos, repeats = (60, 2_000, 200, 3) if args.quick else (365, 10_000, 500, 5)
    work = Path(tempfile.mkdtemp(prefix="bench-views-"))
    rows: list[list[Any]] = []
    builds: list[list[Any]] = []
    notes: list[str] = []
    plans: list[str] = [f"# Plans of the views' queries ({common.machine()})\n"]
    raw: dict[str, Any] = {"days": days, "repositories": n, "tag_repositories": tag_repos}
    tag_night = END - timedelta(days=30)
    try:
        if args.backend in ("sqlite", "both"):
            url = f"sqlite:///{work / 'views.db'}"
            year, tags = build(url, days, n, tag_repos, "SQLite")
            builds.append(
                [
                    "SQLite",
                    year.rows,
                    year.seconds,
                    year.rows / year.seconds,
                    tags["seconds"],
                    (work / "views.db").stat().st_size / 2**20,
                ]
            )
            lines, raw["sqlite"], extra_notes = measure(url, year, tag_night, repeats, "SQLite", plans)
            rows += lines
            notes += extra_notes
            (work / "views.db").unlink()
        if args.backend in ("postgres", "both"):
            url = pg_create(args.postgres, SCRATCH)
            try:
                year, tags = build(url, days, n, tag_repos, "PostgreSQL")
                builds.append(
                    ["PostgreSQL", year.rows, year.seconds, year.rows / year.seconds, tags["seconds"], ""]
                )
                lines, raw["postgres"], extra_notes = measure(
                    url, year, tag_night, repeats, "PostgreSQL", plans
                )
                rows += lines
                notes += extra_notes
                notes.append(
                    "PostgreSQL: " + _autoanalyzed(url) + "; the 'after ANALYZE' rows ran a manual ANALYZE"
                )
                lines, raw["postgres_analyzed"], _ = measure(
                    url, year, tag_night, repeats, "PostgreSQL, after ANALYZE", plans
                )
                rows += lines
            finally:
                pg_drop(args.postgres, SCRATCH)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{common.machine()}")
    table(
        f"Build: {days} days × ~{n:,} repositories (store.write_snapshot a day), {days} tag nights of "
        f"{tag_repos} repositories × 30 tags (what store.write_tag_night writes night by night, in bulk: "
        "bench/tagdata.py)",
        ["database", "repository rows", "seconds", "rows/s", "tag nights s", "file MiB"],
        builds,
    )
    table(
        f"Views in plain SQL (SQLAlchemy text(), one open connection; median of {repeats} after the first "
        "run, none after a first run over 5 s)",
        ["database", "query", "rows", "first s", "median s", "target"],
        rows,
    )
    print()
    for note in notes:
        print(note)
    path = common.save("views", raw)
    plan_path = common.RESULTS / f"views-plans-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    plan_path.write_text("\n".join(plans))
    print(f"\nraw figures: {path}\nplans: {plan_path}")


if __name__ == "__main__":
    main()
