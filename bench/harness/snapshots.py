"""Snapshots: `store.upsert_snapshot` vs. a raw driver-level bulk insert of the same rows.

N repositories (`tests/fakehub.make_repos`, framed by `transform.to_frame`), written as the day after an
existing snapshot of the same org (a nightly run: yesterday's rows are there and are read back for the
added / vanished summary). Per repetition:

* baseline — the same rows as driver values, inserted into an identical schema in one transaction (not
  timed: yesterday's rows first): SQLite ``raw_s`` (sqlite3 `executemany`); PostgreSQL ``copy_s``
  (psycopg `COPY`), ``executemany_s`` and ``raw_best_s``, the faster of the two; then ``raw_rewrite_s``,
  the same rows again as `INSERT … ON CONFLICT DO UPDATE`;
* project — ``first_s``: `upsert_snapshot` of the new day (its frame → rows conversion inside the timed
  call) and ``rewrite_s``: the same day again (a rerun: every row an update), in a worker process of the
  code under test (`store_worker.py upsert`; its frames built by its own `to_frame`, not timed).

The rows are what the current code stores: a seed database written by it in the setup, read back.
Targets at 100,000: ``first_s`` ≤ 3 × the raw insert (PostgreSQL: the faster raw path). Scenario
``snapshots`` runs on SQLite, ``snapshots-pg`` on PostgreSQL (`databases`).
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from harness.core import Figures, Scenario, Setup, Target, scenario
from harness.databases import (
    NO_POSTGRES_IN_SMOKE,
    dropped_after,
    dsn,
    fresh_postgres,
    fresh_sqlite,
    store_schema,
)
from harness.tools import ORG, Code

DAY = date(2026, 11, 27)
PREVIOUS = date(2026, 11, 26)
WORKER = "store_worker.py"
PROJECT_DB, RAW_DB = "dhe_bench_project", "dhe_bench_raw"
Rows = tuple[list[str], list[tuple[Any, ...]]]  # column names, rows


def upsert(code: Code, url: str, size: int) -> Figures:
    answer = code.worker("upsert", url, ORG, size, DAY.isoformat(), PREVIOUS.isoformat(), script=WORKER)
    return {"first_s": float(answer["first"]), "rewrite_s": float(answer["rewrite"])}


def read_rows(cursor: Any, day: Any, mark: str) -> Rows:
    cursor.execute(f"SELECT * FROM repository_snapshots WHERE snapshot_date = {mark}", (day,))
    rows = [tuple(row) for row in cursor.fetchall()]
    return [column[0] for column in cursor.description], rows


def upsert_sql(names: Sequence[str], mark: str) -> tuple[str, str]:
    """The raw INSERT of these columns, and the same as an upsert on the snapshot's key."""
    insert = (
        f"INSERT INTO repository_snapshots ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"
    )
    keys = ("namespace", "snapshot_date", "name")
    updates = ", ".join(f"{name} = excluded.{name}" for name in names if name not in keys)
    return insert, f"{insert} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"


# -- SQLite ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_setup(size: int, codes: list[Code]) -> Iterator[Setup]:
    work = Path(tempfile.mkdtemp(prefix="bench-snapshots-"))
    try:
        seed = work / "seed.db"
        upsert(codes[0], fresh_sqlite(seed), size)  # also a warm-up
        with contextlib.closing(sqlite3.connect(seed)) as connection:
            cursor = connection.cursor()
            rows = {day: read_rows(cursor, day.isoformat(), "?") for day in (PREVIOUS, DAY)}
        yield Setup(size, codes, work=work, state={"rows": rows, "count": itertools.count()})
    finally:
        shutil.rmtree(work, ignore_errors=True)


def timed(connection: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> float:
    started = time.perf_counter()
    connection.execute("BEGIN")
    connection.executemany(sql, rows)
    connection.execute("COMMIT")
    return time.perf_counter() - started


def sqlite_raw(setup: Setup) -> Figures:
    """sqlite3 `executemany` of the day's rows into the store's schema, yesterday's rows there."""
    path = setup.work / f"raw-{next(setup.state['count'])}.db"
    store_schema(fresh_sqlite(path))
    names, today = setup.state["rows"][DAY]
    insert, upsert_all = upsert_sql(names, "?")
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536"):
            connection.execute(f"PRAGMA {pragma}")
        timed(connection, insert, setup.state["rows"][PREVIOUS][1])
        figures = {
            "raw_s": timed(connection, insert, today),
            "raw_rewrite_s": timed(connection, upsert_all, today),
        }
    fresh_sqlite(path)
    return figures


def sqlite_project(setup: Setup, code: Code) -> Figures:
    path = setup.work / f"{code.label}-{next(setup.state['count'])}.db"
    figures = upsert(code, fresh_sqlite(path), setup.size)
    fresh_sqlite(path)
    return figures


# -- PostgreSQL ------------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_setup(size: int, codes: list[Code]) -> Iterator[Setup]:
    with dropped_after(PROJECT_DB, RAW_DB):
        url = fresh_postgres(PROJECT_DB)
        upsert(codes[0], url, size)
        with psycopg.connect(dsn(url)) as connection, connection.cursor() as cursor:
            rows = {day: read_rows(cursor, day, "%s") for day in (PREVIOUS, DAY)}
        yield Setup(size, codes, state={"rows": rows})


def copy(connection: psycopg.Connection[Any], names: Sequence[str], rows: list[tuple[Any, ...]]) -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY repository_snapshots ({', '.join(names)}) FROM STDIN".encode()) as stream:
            for row in rows:
                stream.write_row(row)
    connection.commit()
    return time.perf_counter() - started


def executemany(connection: psycopg.Connection[Any], sql: str, rows: list[tuple[Any, ...]]) -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.executemany(sql.encode(), rows)
    connection.commit()
    return time.perf_counter() - started


def postgres_raw(setup: Setup) -> Figures:
    """psycopg `COPY`, then `executemany`, of the day's rows into the store's schema, yesterday's there."""
    url = fresh_postgres(RAW_DB)
    store_schema(url)
    names, today = setup.state["rows"][DAY]
    insert, upsert_all = upsert_sql(names, "%s")
    with psycopg.connect(dsn(url)) as connection:
        copy(connection, names, setup.state["rows"][PREVIOUS][1])
        connection.execute(b"ANALYZE")
        connection.commit()
        figures = {"copy_s": copy(connection, names, today)}
        connection.execute(b"DELETE FROM repository_snapshots WHERE snapshot_date = %s", (DAY,))
        connection.commit()
        figures["executemany_s"] = executemany(connection, insert, today)
        figures["raw_rewrite_s"] = executemany(connection, upsert_all, today)
    figures["raw_best_s"] = min(figures["copy_s"], figures["executemany_s"])
    return figures


def postgres_project(setup: Setup, code: Code) -> Figures:
    return upsert(code, fresh_postgres(PROJECT_DB), setup.size)


def _repeats(size: int) -> int:
    return 3 if size >= 100_000 else 1


SNAPSHOTS = scenario(
    Scenario(
        name="snapshots",
        what="`upsert_snapshot` (new day, then again) vs. raw sqlite3 executemany of the same rows, SQLite",
        sizes=(100_000,),
        quick=(20_000,),
        smoke=500,
        project=sqlite_project,
        baseline=sqlite_raw,
        setup=sqlite_setup,
        repeats=_repeats,
        targets=(Target("first_s", 3, over="raw_s", at=100_000, why="≤ 3 × a raw driver bulk insert"),),
    )
)
SNAPSHOTS_PG = scenario(
    Scenario(
        name="snapshots-pg",
        what="`upsert_snapshot` (new day, then again) vs. raw psycopg COPY and executemany, PostgreSQL",
        sizes=(100_000,),
        quick=(20_000,),
        smoke=500,
        project=postgres_project,
        baseline=postgres_raw,
        setup=postgres_setup,
        repeats=_repeats,
        targets=(Target("first_s", 3, over="raw_best_s", at=100_000, why="≤ 3 × the faster raw path"),),
        smoke_skip=NO_POSTGRES_IN_SMOKE,
    )
)
