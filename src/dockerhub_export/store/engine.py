"""Engines for the snapshot database: URLs, drivers, SQLite's pragmas, read and write transactions.

SQLite is the embedded default; PostgreSQL and MariaDB/MySQL are supported servers. `connect` makes an
engine without looking at the schema; `migrations.open_engine` is what callers use.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc

from ..errors import ConfigError, StoreError
from .translate import first_line, no_snapshots, redact, translate

if TYPE_CHECKING:
    from ..settings import Settings

BUSY_TIMEOUT_S = 60  # a concurrent SQLite writer holds the lock for seconds at most
CONNECT_TIMEOUT_S = 10
WRITE = "dockerhub_export_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)
_DEFAULT_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}


def database_url(settings: "Settings") -> str:
    """``SNAPSHOT_DATABASE_URL`` / ``--database-url`` if set, else ``snapshots.db`` in the export folder."""
    if settings.snapshot_database_url is not None:
        return settings.snapshot_database_url.get_secret_value().strip()
    path = (Path(settings.export_dir).expanduser() / "snapshots.db").resolve()
    return f"sqlite:///{path}"


def _parse_url(url: str) -> sa.URL:
    try:
        parsed = sa.make_url(url)
    except (sa_exc.ArgumentError, ValueError, TypeError):
        raise ConfigError(
            "invalid snapshot database URL (--database-url / SNAPSHOT_DATABASE_URL): expected e.g. "
            "sqlite:////path/snapshots.db, postgresql+psycopg://user@host/db or mysql+pymysql://user@host/db"
        ) from None
    # The optional dependencies are psycopg 3 and PyMySQL, not SQLAlchemy's defaults (psycopg2, mysqlclient).
    driver = _DEFAULT_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def _sqlite_path(url: sa.URL) -> Path | None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def connect(url: str, *, create: bool = True) -> sa.Engine:
    """An engine for ``url``, the schema not yet checked.

    ``create=False`` is for read-only commands: a SQLite file that does not exist yet is a `StoreError`
    telling the user to run an export first, and is not created.
    """
    parsed = _parse_url(url)
    shown = redact(parsed)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "mysql", "mariadb"):
        raise ConfigError(f"unsupported snapshot database {shown}: use SQLite, PostgreSQL or MariaDB/MySQL")
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        path = _sqlite_path(parsed)
        if path is not None:
            if not create and not path.is_file():
                raise no_snapshots(shown)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create {path.parent} for {shown}: {exc.strerror}") from None
        else:
            kwargs["poolclass"] = sa.pool.StaticPool  # one shared in-memory database, not one per connection
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    elif backend == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    elif backend in ("mysql", "mariadb"):
        # READ COMMITTED: no gap locks, so writers of different days never wait on each other.
        kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
        kwargs["isolation_level"] = "READ COMMITTED"
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (sa_exc.NoSuchModuleError, ModuleNotFoundError) as exc:
        raise StoreError(
            f"cannot use {shown}: the database driver is not installed ({exc}); install "
            "dockerhub-export[postgres] or dockerhub-export[mysql]"
        ) from None
    except sa_exc.ArgumentError as exc:
        raise ConfigError(f"invalid snapshot database URL {shown}: {first_line(exc)}") from None
    if backend == "sqlite":
        _sqlite_setup(engine)
    return engine


def _wal(cursor: Any) -> None:
    """WAL journal: readers never wait for the nightly writer.

    Switching a new file to WAL fails at once ("database is locked", SQLite's busy handler is not
    called for it) while another connection is creating the schema: try again until the busy timeout.
    """
    import sqlite3

    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_setup(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver must not BEGIN on its own: see _begin
        cursor = dbapi_connection.cursor()
        _wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; fsync at checkpoints only
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB, not 2: a day of a large org is tens of MB
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        # A deferred transaction that later writes cannot wait for another writer (SQLite fails it
        # at once with "database is locked"); writers take the lock up front and queue on busy_timeout.
        immediate = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def writing(engine: sa.Engine, action: str) -> Iterator[sa.Connection]:
    """One write transaction, committed on success; errors translated."""
    with translate(engine, action):
        with engine.connect() as connection:
            connection.execution_options(**{WRITE: True})
            with connection.begin():
                yield connection


@contextmanager
def reading(engine: sa.Engine, action: str) -> Iterator[sa.Connection]:
    """A read-only connection; errors translated. Used by `reports` too."""
    with translate(engine, action):
        with engine.connect() as connection:
            yield connection


def analyze(engine: sa.Engine) -> None:
    """Refresh the query planner's statistics after a bulk load.

    A backfilled year is exactly what autovacuum may not have looked at yet: without statistics
    PostgreSQL picked a nested-loop join and `trends` took ten times as long (docs/benchmarks.md).
    """
    statements = {
        "postgresql": ["ANALYZE repository_snapshots", "ANALYZE snapshots"],
        "mysql": ["ANALYZE TABLE repository_snapshots, snapshots"],
        "mariadb": ["ANALYZE TABLE repository_snapshots, snapshots"],
        "sqlite": ["PRAGMA optimize"],
    }.get(engine.dialect.name, [])
    with writing(engine, "refresh the database statistics") as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


def keep_private(engine: sa.Engine) -> None:
    """Make a SQLite database file (and its WAL and shared-memory files) readable by its owner only,
    before it receives personal data (members' emails): SQLite gives the files it creates later the
    database file's mode. A server database's access is the server's business."""
    path = _sqlite_path(engine.url) if engine.dialect.name == "sqlite" else None
    if path is None:
        return
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            part.chmod(0o600)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StoreError(f"cannot make {part} private (mode 0600): {exc.strerror}") from None


def absent_sqlite_file(url: str) -> Path | None:
    """The SQLite file ``url`` names if it does not exist yet (what opening it would create), else None."""
    parsed = _parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    path = _sqlite_path(parsed)
    return None if path is None or path.exists() else path
