"""Database fixtures (a pytest plugin: ``pytest_plugins = ["dbs"]`` in conftest.py).

``db_url`` runs a test once per backend, each time on a fresh, empty database:

* SQLite: a file under the test's tmp_path;
* PostgreSQL and MariaDB/MySQL: a uniquely named database created on the server given by
  ``DOCKERHUB_EXPORT_TEST_POSTGRES_URL`` / ``DOCKERHUB_EXPORT_TEST_MYSQL_URL`` and dropped afterwards.

Without those variables the server runs are skipped with the reason shown; when ``CI`` is set they
fail instead, so that a CI job cannot silently test SQLite only.

Also plain helpers to build snapshot frames: ``frame(repo("web", pulls=10), ...)``.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

ORG = "acme"
SERVER_ENV = {
    "postgresql": "DOCKERHUB_EXPORT_TEST_POSTGRES_URL",
    "mysql": "DOCKERHUB_EXPORT_TEST_MYSQL_URL",
}
# Read when the plugin loads; conftest.py must leave these two variables alone.
SERVER_URLS = {backend: os.environ.get(variable) for backend, variable in SERVER_ENV.items()}

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]


def server_url(backend: str) -> str:
    """The admin URL of a test server, or skip (fail under CI) when it is not configured."""
    url = SERVER_URLS[backend]
    if not url:
        variable = SERVER_ENV[backend]
        name = "PostgreSQL" if backend == "postgresql" else "MariaDB/MySQL"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {variable} is not: the {name} tests must run in CI")
        pytest.skip(f"set {variable} to run {name} tests")
    return url


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """Create a uniquely named database on the server of ``admin_url``; yield its URL; drop it."""
    import sqlalchemy as sa

    name = f"dhx_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    postgres = admin.dialect.name == "postgresql"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            # FORCE: a test that failed midway may still hold a connection (PostgreSQL 13+).
            connection.exec_driver_sql(
                f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if postgres else "")
            )
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A fresh, empty database on each backend (no schema yet)."""
    backend = request.param
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'snapshots.db'}"
        return
    with fresh_database(server_url(backend)) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    """A fresh SQLite database URL, for tests about behaviour that does not depend on the backend."""
    return f"sqlite:///{tmp_path / 'snapshots.db'}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Any]:
    """An engine on ``db_url`` with the schema at the newest revision."""
    from dockerhub_export import store

    engine = store.open_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Any]:
    from dockerhub_export import store

    engine = store.open_engine(sqlite_url)
    yield engine
    engine.dispose()


# --------------------------------------------------------------------------------------------------
# Frames


def repo(
    name: str,
    *,
    pulls: int | None = 0,
    stars: int | None = 0,
    private: bool | None = False,
    **fields: Any,
) -> dict[str, Any]:
    """One API-shaped repository record."""
    return {"name": name, "pull_count": pulls, "star_count": stars, "is_private": private, **fields}


def frame(*repos: dict[str, Any], org: str = ORG) -> Any:
    """A snapshot frame built the way the flow builds it."""
    from dockerhub_export import transform
    from dockerhub_export.resources import REPOSITORIES

    return transform.to_frame([{"namespace": org, **record} for record in repos], REPOSITORIES.schema, org)


def stored_rows(engine: Any, org: str, day: Any) -> dict[str, dict[str, Any]]:
    """The stored rows of one (org, day), by name."""
    import sqlalchemy as sa

    from dockerhub_export import store

    rs = store.repository_snapshots
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(rs).where(rs.c.namespace == org, rs.c.snapshot_date == day).order_by(rs.c.name)
        ).mappings()
        return {row["name"]: dict(row) for row in rows}
