"""Snapshot upsert benchmark: `store.upsert_snapshot` vs. a raw driver-level bulk insert of the same rows.

    python bench/snapshots.py [--quick] [--postgres URL] [--no-postgres] [--compare REV]

One 100,000-repository frame (--quick: 20,000; `tests/fakehub.make_repos` → `transform.to_frame`),
written as the day after an existing snapshot of the same org (a nightly run: yesterday's rows are
there and are read back for the added/vanished summary). Interleaved, repeated (3×; --quick 1×):

* project  — `store.upsert_snapshot(engine, org, day, frame)` on an engine from `store.open_engine`;
  the frame → rows conversion is inside the timed call;
* baseline — the same rows, already converted to driver values (not timed), inserted into an identical
  schema (created by `open_engine`, same indexes) in one transaction: SQLite `executemany`,
  PostgreSQL `COPY ... FROM STDIN` and `executemany` (psycopg 3);
* rewrite  — the same day written again (a rerun: every row is an ON CONFLICT update), for the record.

With ``--compare REV`` (first, before the rows above): the project's new day and rewrite again, each
repetition in a worker process (`bench/compat.py upsert`, its frames built by its own `to_frame`, not
timed) on the current code and on REV's (`common.revision`), interleaved; current / REV, PASS ≤ 1.10.

Target: project ≤ 3 × raw on SQLite and on PostgreSQL (vs. the fastest raw path).
PostgreSQL uses two scratch databases (dhe_bench_project, dhe_bench_raw) created on the server given
by --postgres (default postgresql+psycopg://postgres@127.0.0.1:5432/test: only its server is used).
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import common
import compat
from common import ORG, median, table, verdict

DAY = date(2026, 11, 27)
PREVIOUS = date(2026, 11, 26)
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def frames(n: int) -> tuple[Any, Any]:
    from fakehub import make_repos

    today = make_repos(ORG, n, seed=1)
    yesterday = make_repos(ORG, n, seed=0)
    return compat.to_frame(today, ORG), compat.to_frame(yesterday, ORG)


def driver_rows(frame: Any, day: date, *, sqlite: bool) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The rows the store writes, as plain driver values (SQLAlchemy's SQLite formats for SQLite)."""
    import pandas as pd

    from dockerhub_export import store

    KINDS = compat.kinds()
    columns: dict[str, list[Any]] = {"name": frame["name"].astype(object).tolist()}
    for name in store.DATA_COLUMNS:  # the store's value rules: NULL for unknown, naive UTC datetimes
        series = frame[name]
        if KINDS[name] == "timestamp":
            parsed = pd.to_datetime(series, utc=True, format="ISO8601", errors="coerce").dt.tz_localize(None)
            columns[name] = [None if v is pd.NaT else v for v in parsed.dt.to_pydatetime().tolist()]
        else:
            columns[name] = series.astype(object).where(series.notna(), None).tolist()
    names = ["namespace", "snapshot_date", "name", "write_id", *store.DATA_COLUMNS]
    count = len(columns["name"])
    values = {"namespace": [ORG] * count, "snapshot_date": [day] * count, "write_id": [1] * count, **columns}
    if sqlite:
        for name, items in values.items():
            if items and any(isinstance(v, (datetime, date, bool)) for v in items[:1000]):
                values[name] = [_sqlite_value(v) for v in items]
    return names, list(zip(*(values[name] for name in names), strict=True))


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


# -- SQLite --------------------------------------------------------------------------------------------


def _time_day_and_rewrite(engine: Any, today: Any) -> tuple[float, float]:
    """Seconds to write a new day's snapshot, then to write the same day again (a re-run)."""
    from dockerhub_export import store

    started = time.perf_counter()
    store.upsert_snapshot(engine, ORG, DAY, today)
    first = time.perf_counter() - started
    started = time.perf_counter()
    store.upsert_snapshot(engine, ORG, DAY, today)
    rewrite = time.perf_counter() - started
    engine.dispose()
    return first, rewrite


def sqlite_project(path: Path, today: Any, yesterday: Any) -> tuple[float, float]:
    from dockerhub_export import store

    engine = store.open_engine(f"sqlite:///{path}")
    store.upsert_snapshot(engine, ORG, PREVIOUS, yesterday)
    return _time_day_and_rewrite(engine, today)


def sqlite_raw(
    path: Path, today_rows: tuple[list[str], list[tuple]], yesterday_rows: tuple[list[str], list[tuple]]
) -> tuple[float, float]:
    from dockerhub_export import store

    store.open_engine(f"sqlite:///{path}").dispose()  # the same schema and indexes
    names, rows = today_rows
    insert = f"INSERT INTO repository_snapshots ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    upsert = (
        insert
        + " ON CONFLICT (namespace, snapshot_date, name) DO UPDATE SET "
        + ", ".join(f"{n} = excluded.{n}" for n in names[3:])
    )
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA cache_size=-65536")
    connection.execute("BEGIN")
    connection.executemany(insert, yesterday_rows[1])
    connection.execute("COMMIT")
    started = time.perf_counter()
    connection.execute("BEGIN")
    connection.executemany(insert, rows)
    connection.execute("COMMIT")
    first = time.perf_counter() - started
    started = time.perf_counter()
    connection.execute("BEGIN")
    connection.executemany(upsert, rows)
    connection.execute("COMMIT")
    rewrite = time.perf_counter() - started
    connection.close()
    return first, rewrite


# -- PostgreSQL -------------------------------------------------------------------------------------------


def pg_reset(server_url: str, database: str) -> str:
    import psycopg
    import sqlalchemy as sa

    url = sa.make_url(server_url)
    dsn = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')
    return url.set(drivername="postgresql+psycopg", database=database).render_as_string(hide_password=False)


def pg_drop(server_url: str, *databases: str) -> None:
    """Drop the scratch databases again (best effort)."""
    import psycopg
    import sqlalchemy as sa

    dsn = (
        sa.make_url(server_url)
        .set(drivername="postgresql", database="postgres")
        .render_as_string(hide_password=False)
    )
    try:
        with psycopg.connect(dsn, autocommit=True) as connection:
            for database in databases:
                connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    except psycopg.Error as exc:
        print(f"could not drop the scratch databases: {exc}")


def pg_project(server_url: str, today: Any, yesterday: Any) -> tuple[float, float]:
    from dockerhub_export import store

    engine = store.open_engine(pg_reset(server_url, "dhe_bench_project"))
    store.upsert_snapshot(engine, ORG, PREVIOUS, yesterday)
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
    return _time_day_and_rewrite(engine, today)


def pg_raw(
    server_url: str, today_rows: tuple[list[str], list[tuple]], yesterday_rows: tuple[list[str], list[tuple]]
) -> dict[str, float]:
    import psycopg
    import sqlalchemy as sa

    from dockerhub_export import store

    url = pg_reset(server_url, "dhe_bench_raw")
    store.open_engine(url).dispose()
    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    names, rows = today_rows
    cols = ", ".join(names)
    insert = f"INSERT INTO repository_snapshots ({cols}) VALUES ({', '.join(['%s'] * len(names))})"
    upsert = (
        insert
        + " ON CONFLICT (namespace, snapshot_date, name) DO UPDATE SET "
        + ", ".join(f"{n} = excluded.{n}" for n in names[3:])
    )
    out: dict[str, float] = {}
    with psycopg.connect(dsn) as connection:
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY repository_snapshots ({cols}) FROM STDIN") as copy,
        ):
            for row in yesterday_rows[1]:
                copy.write_row(row)
        connection.commit()
        connection.execute("ANALYZE")
        connection.commit()
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY repository_snapshots ({cols}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        connection.commit()
        out["copy"] = time.perf_counter() - started
        connection.execute("DELETE FROM repository_snapshots WHERE snapshot_date = %s", (DAY,))
        connection.commit()
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.executemany(insert, rows)
        connection.commit()
        out["executemany"] = time.perf_counter() - started
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.executemany(upsert, rows)
        connection.commit()
        out["upsert"] = time.perf_counter() - started
    return out


def compare(args: Any, n: int, repeats: int, work: Path) -> dict[str, list[float]]:
    """`upsert_snapshot` of the same day after yesterday's, then again, on the current code and on REV's,
    each in a worker process (`bench/compat.py upsert`: its own frames by its own `to_frame`, not timed),
    interleaved: current, REV, current, REV, ..."""
    out: dict[str, list[float]] = {}
    with common.revision(args.compare) as old:
        assert old is not None
        print(f"side by side with {old.rev} ({old.sha}): upsert_snapshot in worker processes", flush=True)
        for i in range(repeats):
            for suffix, code in (("", common.CURRENT), ("_old", old)):
                db = work / f"compare{suffix}-{i}.db"
                answer, _ = code.worker(
                    "upsert", f"sqlite:///{db}", ORG, n, DAY.isoformat(), PREVIOUS.isoformat()
                )
                out.setdefault(f"sqlite_first{suffix}", []).append(answer["first"])
                out.setdefault(f"sqlite_rewrite{suffix}", []).append(answer["rewrite"])
                line = (
                    f"  {code.label} rep {i + 1}: SQLite {answer['first']:.2f} s / {answer['rewrite']:.2f} s"
                )
                if not args.no_postgres:
                    url = pg_reset(args.postgres, "dhe_bench_project")
                    answer, _ = code.worker("upsert", url, ORG, n, DAY.isoformat(), PREVIOUS.isoformat())
                    out.setdefault(f"pg_first{suffix}", []).append(answer["first"])
                    out.setdefault(f"pg_rewrite{suffix}", []).append(answer["rewrite"])
                    line += f", PostgreSQL {answer['first']:.2f} s / {answer['rewrite']:.2f} s"
                print(line + " (new day / rewrite)", flush=True)
    return out


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument(
            "--postgres", default=DEFAULT_PG, help="SQLAlchemy URL of a PostgreSQL server to use"
        )
        parser.add_argument("--no-postgres", action="store_true")

    args = common.parse_args(__doc__.splitlines()[0], extra)
    print(common.machine(), flush=True)
    n = 20_000 if args.quick else 100_000
    repeats = 1 if args.quick else 3
    today, yesterday = frames(n)
    sqlite_today, sqlite_yesterday = (
        driver_rows(today, DAY, sqlite=True),
        driver_rows(yesterday, PREVIOUS, sqlite=True),
    )
    pg_today, pg_yesterday = (
        driver_rows(today, DAY, sqlite=False),
        driver_rows(yesterday, PREVIOUS, sqlite=False),
    )
    res: dict[str, list[float]] = {
        key: []
        for key in (
            "sqlite_project",
            "sqlite_project_rewrite",
            "sqlite_raw",
            "sqlite_raw_rewrite",
            "pg_project",
            "pg_project_rewrite",
            "pg_copy",
            "pg_executemany",
            "pg_raw_rewrite",
        )
    }
    work = Path(tempfile.mkdtemp(prefix="bench-snapshots-"))
    compared: dict[str, list[float]] = {}
    try:
        if args.compare:
            compared = compare(args, n, repeats, work)
        for i in range(repeats):
            first, rewrite = sqlite_project(work / f"project-{i}.db", today, yesterday)
            res["sqlite_project"].append(first)
            res["sqlite_project_rewrite"].append(rewrite)
            first, rewrite = sqlite_raw(work / f"raw-{i}.db", sqlite_today, sqlite_yesterday)
            res["sqlite_raw"].append(first)
            res["sqlite_raw_rewrite"].append(rewrite)
            print(
                f"  sqlite rep {i + 1}: project {res['sqlite_project'][-1]:.2f} s, raw {first:.2f} s",
                flush=True,
            )
            if not args.no_postgres:
                first, rewrite = pg_project(args.postgres, today, yesterday)
                res["pg_project"].append(first)
                res["pg_project_rewrite"].append(rewrite)
                raw = pg_raw(args.postgres, pg_today, pg_yesterday)
                res["pg_copy"].append(raw["copy"])
                res["pg_executemany"].append(raw["executemany"])
                res["pg_raw_rewrite"].append(raw["upsert"])
                print(
                    f"  postgres rep {i + 1}: project {first:.2f} s, COPY {raw['copy']:.2f} s, "
                    f"executemany {raw['executemany']:.2f} s",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.no_postgres:
            pg_drop(args.postgres, "dhe_bench_project", "dhe_bench_raw")

    m = {key: median(values) for key, values in res.items()}

    def ratio(key: str, *bases: str) -> float:
        """Median over repetitions of project / baseline measured side by side (noise cancels out)."""
        return median([value / min(res[b][i] for b in bases) for i, value in enumerate(res[key])])

    rows = [
        [
            "SQLite",
            "project upsert_snapshot (new day)",
            m["sqlite_project"],
            n / m["sqlite_project"],
            ratio("sqlite_project", "sqlite_raw"),
            f"{verdict(ratio('sqlite_project', 'sqlite_raw') <= 3)} ≤ 3×",
        ],
        ["SQLite", "raw sqlite3 executemany (baseline)", m["sqlite_raw"], n / m["sqlite_raw"], 1.0, ""],
        [
            "SQLite",
            "project, same day again (rewrite)",
            m["sqlite_project_rewrite"],
            n / m["sqlite_project_rewrite"],
            ratio("sqlite_project_rewrite", "sqlite_raw_rewrite"),
            "vs raw ON CONFLICT",
        ],
        [
            "SQLite",
            "raw executemany ON CONFLICT DO UPDATE",
            m["sqlite_raw_rewrite"],
            n / m["sqlite_raw_rewrite"],
            1.0,
            "",
        ],
    ]
    if not args.no_postgres:
        best = min(m["pg_copy"], m["pg_executemany"])
        pg_ratio = ratio("pg_project", "pg_copy", "pg_executemany")
        rows += [
            [
                "PostgreSQL",
                "project upsert_snapshot (new day)",
                m["pg_project"],
                n / m["pg_project"],
                pg_ratio,
                f"{verdict(pg_ratio <= 3)} ≤ 3× fastest raw",
            ],
            [
                "PostgreSQL",
                "raw psycopg COPY (baseline)",
                m["pg_copy"],
                n / m["pg_copy"],
                m["pg_copy"] / best,
                "",
            ],
            [
                "PostgreSQL",
                "raw psycopg executemany (baseline)",
                m["pg_executemany"],
                n / m["pg_executemany"],
                m["pg_executemany"] / best,
                "",
            ],
            [
                "PostgreSQL",
                "project, same day again (rewrite)",
                m["pg_project_rewrite"],
                n / m["pg_project_rewrite"],
                ratio("pg_project_rewrite", "pg_raw_rewrite"),
                "vs raw ON CONFLICT",
            ],
            [
                "PostgreSQL",
                "raw executemany ON CONFLICT DO UPDATE",
                m["pg_raw_rewrite"],
                n / m["pg_raw_rewrite"],
                1.0,
                "",
            ],
        ]
    table(
        f"Snapshot upsert of {n:,} repositories (yesterday's snapshot present; median of {repeats})",
        ["database", "write", "seconds", "rows/s", "× baseline (median of paired ratios)", "target"],
        rows,
    )
    if args.compare:
        with common.revision(args.compare) as old:
            assert old is not None
            common.compare_table(
                old,
                f"Snapshot upsert of {n:,} repositories (worker processes)",
                [
                    (
                        f"{db} upsert_snapshot, {what}",
                        "s",
                        compared[f"{key}_{field}"],
                        compared[f"{key}_{field}_old"],
                    )
                    for key, db in (
                        ("sqlite", "SQLite"),
                        *((("pg", "PostgreSQL"),) if not args.no_postgres else ()),
                    )
                    for field, what in (("first", "new day"), ("rewrite", "same day again"))
                ],
            )
    path = common.save("snapshots", {"repositories": n, **res, "compare": args.compare, "compared": compared})
    print(f"\nraw figures: {path}")


if __name__ == "__main__":
    main()
