"""Scratch databases of the store benches: SQLite files, and PostgreSQL databases on one server.

PostgreSQL: the server of ``DOCKERHUB_EXPORT_TEST_POSTGRES_URL`` (the tests' variable; default
postgresql+psycopg://postgres@127.0.0.1:5432/test). Only its server is used: each bench creates its own
``dhe_bench_*`` databases on it and drops them when done.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import sqlalchemy as sa

POSTGRES = os.environ.get(
    "DOCKERHUB_EXPORT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NO_POSTGRES_IN_SMOKE = (
    "a PostgreSQL server, and the smoke's minute (its SQLite twin runs in the smoke); try it with "
    "`--quick --only NAME`"
)


def dsn(url: str) -> str:
    """A SQLAlchemy URL as psycopg's connection string."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_url(database: str) -> str:
    """The SQLAlchemy URL of ``database`` on the server."""
    url = sa.make_url(POSTGRES).set(drivername="postgresql+psycopg", database=database)
    return url.render_as_string(hide_password=False)


def _admin(*statements: str) -> None:
    with psycopg.connect(dsn(postgres_url("postgres")), autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement.encode())


def fresh_postgres(database: str) -> str:
    """``database`` dropped if it was there and created empty: its SQLAlchemy URL."""
    _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)', f'CREATE DATABASE "{database}"')
    return postgres_url(database)


@contextlib.contextmanager
def dropped_after(*databases: str) -> Iterator[None]:
    """Drop these scratch databases when the block ends (best effort)."""
    try:
        yield
    finally:
        with contextlib.suppress(psycopg.Error):
            _admin(*(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)' for database in databases))


def fresh_sqlite(path: Path) -> str:
    """The SQLite file ``path`` removed (with its WAL files): its SQLAlchemy URL."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def store_schema(url: str) -> None:
    """The store's schema (tables, indexes, views) in the empty database at ``url``, by the current code."""
    from dockerhub_export import store

    store.open_engine(url).dispose()


def analyze(url: str) -> None:
    """ANALYZE a PostgreSQL database: the planner's statistics."""
    with psycopg.connect(dsn(url), autocommit=True) as connection:
        connection.execute(b"ANALYZE")
