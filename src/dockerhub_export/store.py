"""Daily snapshots of an organization's repositories in SQL, and a log of every run.

SQLite is the embedded default; PostgreSQL and MariaDB/MySQL are supported servers. The schema is
managed by the Alembic revisions shipped in ``migrations/`` and upgraded automatically when an engine
is opened. Tables:

    snapshots             one header row per (namespace, snapshot_date): the write that owns the
                          day, its counts, and the run that wrote it
    repository_snapshots  one row per repository and day, every field of `transform.SCHEMA`
    export_runs           the run log: started, finished, outcome, counts, warnings, error

Every SQLAlchemy or driver failure leaves this module as a `StoreError` whose message shows the URL
with its password hidden (`redact`); nothing above this module sees ``sqlalchemy.exc``.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mysql

from .errors import ConfigError, HistoryGuardError, StoreError

if TYPE_CHECKING:
    import pandas as pd
    from alembic.config import Config

    from .settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "RUN_STATUSES",
    "analyze",
    "SnapshotSummary",
    "check_history",
    "current_revision",
    "database_url",
    "finish_run",
    "head_revision",
    "open_engine",
    "redact",
    "start_run",
    "timestamp_texts",
    "upgrade_database",
    "upsert_snapshot",
    "write_snapshot",
]

VERSION_TABLE = "dockerhub_export_version"  # not "alembic_version": the database may be shared
SCHEMA_REVISION = "0002"  # the newest revision in migrations/versions (test_store checks they agree)
MIGRATIONS = Path(__file__).with_name("migrations")
RUN_STATUSES = frozenset({"running", "success", "failed", "refused"})
BUSY_TIMEOUT_S = 60  # a concurrent SQLite writer holds the lock for seconds at most
CONNECT_TIMEOUT_S = 10
CHUNK_ROWS = 5_000  # rows per executemany: bounds the parameter lists held in memory
OLDEST_TIMESTAMP = datetime(1000, 1, 1)  # MySQL's DATETIME floor; older values are Go's zero time
_WRITE = "dockerhub_export_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)
_DEFAULT_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}

# --------------------------------------------------------------------------------------------------
# Tables. Declared here explicitly rather than generated from `transform.SCHEMA`: any change needs an
# Alembic revision anyway, and test_store checks that both agree. The revisions in migrations/versions
# create exactly these tables; test_store compares them with Alembic's autogenerate.

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=_NAMING)

# MariaDB/MySQL compare strings case-insensitively by default; Hub names are case-sensitive keys.
KEY = sa.String(255).with_variant(mysql.VARCHAR(255, collation="utf8mb4_bin"), "mysql", "mariadb")

# Naive UTC: SQLite and MySQL have no zone-aware type; MySQL needs fsp=6 to keep microseconds.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

export_runs = sa.Table(
    "export_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("namespace", KEY, nullable=False),
    sa.Column("snapshot_date", sa.Date, nullable=False),
    sa.Column("started_at", TIMESTAMP, nullable=False),
    sa.Column("finished_at", TIMESTAMP),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("repositories", sa.Integer),
    sa.Column("private", sa.Integer),
    sa.Column("api_count", sa.Integer),
    sa.Column("csv_path", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("warnings", sa.Text),  # JSON array of strings; added by revision 0002
    sa.Index("ix_export_runs_namespace_snapshot_date", "namespace", "snapshot_date"),  # revision 0002
)

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("namespace", KEY, primary_key=True),
    sa.Column("snapshot_date", sa.Date, primary_key=True),
    # Bumped by every write of the day: rows carrying another value are leftovers of an earlier write.
    sa.Column("write_id", sa.Integer, nullable=False),
    sa.Column("repositories", sa.Integer, nullable=False),
    sa.Column("private", sa.Integer, nullable=False),
    sa.Column("api_count", sa.Integer),
    sa.Column("written_at", TIMESTAMP, nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("export_runs.id", ondelete="SET NULL")),
)

# Primary key (namespace, snapshot_date, name), and deliberately no other index. A day of one org is one
# contiguous key range: the upsert, the stale-row delete and trends each scan one or two such ranges,
# and a new day's rows append at the end of the key order (InnoDB clusters on it too). One repository's
# history is read through the small `snapshots` table: one primary-key seek per day (365 a year, a few
# ms). A (namespace, name, snapshot_date) index would serve history too, but every new day then touches
# one index leaf per repository all over the index: at a year of a 10,000-repository org that made each
# day's write 6x slower and the SQLite WAL 40 MB a day (measured), for no query we need it for.
repository_snapshots = sa.Table(
    "repository_snapshots",
    metadata,
    sa.Column("namespace", KEY, primary_key=True),
    sa.Column("snapshot_date", sa.Date, primary_key=True),
    sa.Column("name", KEY, primary_key=True),
    sa.Column("write_id", sa.Integer, nullable=False),
    sa.Column("is_private", sa.Boolean),
    sa.Column("last_updated", TIMESTAMP),
    sa.Column("pull_count", sa.BigInteger),  # counts stay NULL when unknown: unknown is not 0
    sa.Column("star_count", sa.BigInteger),
    sa.Column("repository_type", sa.Text),
    sa.Column("status", sa.Integer),
    sa.Column("status_description", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("date_registered", TIMESTAMP),
    sa.Column("last_modified", TIMESTAMP),
    sa.Column("storage_size", sa.BigInteger),
    sa.Column("affiliation", sa.Text),
    sa.Column("media_types", sa.Text),  # lists as text, ';'-separated like the CSV
    sa.Column("content_types", sa.Text),
    sa.Column("categories", sa.Text),
)

KEY_COLUMNS = ("namespace", "snapshot_date", "name")
DATA_COLUMNS: tuple[str, ...] = tuple(
    column.name for column in repository_snapshots.columns if column.name not in (*KEY_COLUMNS, "write_id")
)


# --------------------------------------------------------------------------------------------------
# URLs and engines


def database_url(settings: Settings) -> str:
    """``SNAPSHOT_DATABASE_URL`` / ``--database-url`` if set, else ``snapshots.db`` in the export folder."""
    if settings.snapshot_database_url is not None:
        return settings.snapshot_database_url.get_secret_value().strip()
    path = (Path(settings.export_dir).expanduser() / "snapshots.db").resolve()
    return f"sqlite:///{path}"


def redact(url: str | sa.URL) -> str:
    """The URL with its password replaced by ``***``: the only form of a URL that may be shown."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (sa_exc.ArgumentError, ValueError, TypeError):
        return "<unparseable database URL>"


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


def open_engine(url: str, *, upgrade: bool = True, create: bool = True) -> sa.Engine:
    """An engine for the snapshot database, its schema at the newest revision when ``upgrade``.

    ``create=False`` is for read-only commands: a database that does not exist yet (or holds no
    schema) is a `StoreError` telling the user to run an export first, and is not created.
    """
    parsed = _parse_url(url)
    shown = redact(parsed)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "mysql", "mariadb"):
        raise ConfigError(
            f"unsupported snapshot database {shown}: use SQLite, PostgreSQL or MariaDB/MySQL"
        )
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        path = _sqlite_path(parsed)
        if path is not None:
            if not create and not path.is_file():
                raise StoreError(_no_snapshots(shown))
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
        raise ConfigError(f"invalid snapshot database URL {shown}: {_first_line(exc)}") from None
    if backend == "sqlite":
        _sqlite_setup(engine)
    try:
        with _translate(engine, "open", create=create):
            _check_schema(engine, upgrade=upgrade, create=create)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _sqlite_setup(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver must not BEGIN on its own: see _begin
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the nightly writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; fsync at checkpoints only
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB, not 2: a day of a large org is tens of MB
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        # A deferred transaction that later writes cannot wait for another writer (SQLite fails it
        # at once with "database is locked"); writers take the lock up front and queue on busy_timeout.
        immediate = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def _writing(engine: sa.Engine, action: str) -> Iterator[sa.Connection]:
    """One write transaction, committed on success; errors translated."""
    with _translate(engine, action):
        with engine.connect() as connection:
            connection.execution_options(**{_WRITE: True})
            with connection.begin():
                yield connection


def analyze(engine: sa.Engine) -> None:
    """Refresh the query planner's statistics after a bulk load.

    A backfilled year is exactly what autovacuum may not have looked at yet: without statistics
    PostgreSQL picked a nested-loop join and `trends` took 12.5 s instead of 1.2 s.
    """
    statements = {
        "postgresql": ["ANALYZE repository_snapshots", "ANALYZE snapshots"],
        "mysql": ["ANALYZE TABLE repository_snapshots, snapshots"],
        "mariadb": ["ANALYZE TABLE repository_snapshots, snapshots"],
        "sqlite": ["PRAGMA optimize"],
    }.get(engine.dialect.name, [])
    with _writing(engine, "refresh the database statistics") as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


@contextmanager
def reading(engine: sa.Engine, action: str) -> Iterator[sa.Connection]:
    """A read-only connection; errors translated. Used by `reports` too."""
    with _translate(engine, action):
        with engine.connect() as connection:
            yield connection


# --------------------------------------------------------------------------------------------------
# Errors: translated once, here


def _no_snapshots(shown: str) -> str:
    return f"no snapshots yet at {shown}: run `dockerhub-export run` first"


def _first_line(exc: BaseException) -> str:
    detail = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    text = str(detail).strip() or type(detail).__name__
    return text.splitlines()[0].strip()


def _missing_database(exc: BaseException) -> bool:
    text = _first_line(exc).lower()
    return "does not exist" in text or "unknown database" in text


@contextmanager
def _translate(engine: sa.Engine, action: str, *, create: bool = True) -> Iterator[None]:
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        shown = redact(engine.url)
        if not create and isinstance(exc, sa_exc.OperationalError) and _missing_database(exc):
            raise StoreError(_no_snapshots(shown)) from exc
        detail = _first_line(exc)
        password = engine.url.password
        if password:
            detail = detail.replace(str(password), "***")
        raise StoreError(f"snapshot database {shown}: {action} failed: {detail}{_hint(exc)}") from exc


def _hint(exc: sa_exc.SQLAlchemyError) -> str:
    text = _first_line(exc).lower()
    if "locked" in text or "busy" in text:
        return " (another process holds the database; try again)"
    if isinstance(exc, sa_exc.OperationalError) and _missing_database(exc):
        return " (create the database first, or fix --database-url / SNAPSHOT_DATABASE_URL)"
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return " (is the server running, and are --database-url / SNAPSHOT_DATABASE_URL right?)"
    if isinstance(exc, sa_exc.ProgrammingError):
        return " (is the schema current? try `dockerhub-export db upgrade`)"
    return ""


def _retryable(exc: sa_exc.DBAPIError) -> bool:
    """Deadlock or serialization failure: the server rolled the transaction back, running it again is safe."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in ("40001", "40P01"):  # psycopg
        return True
    args = getattr(orig, "args", ())
    return bool(args) and args[0] in (1213, 1205)  # MySQL deadlock, lock wait timeout


T = TypeVar("T")


def _with_retries(work: Callable[[], T], attempts: int = 3) -> T:
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except StoreError as exc:
            cause = exc.__cause__
            if attempt == attempts or not (isinstance(cause, sa_exc.DBAPIError) and _retryable(cause)):
                raise
            log.warning("snapshot write hit a deadlock, retrying (%d/%d)", attempt, attempts - 1)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------------
# Migrations


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("version_table", VERSION_TABLE)
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


def _current(connection: sa.Connection) -> tuple[bool, tuple[str, ...]]:
    """(schema present, current revisions), read with plain SQL: Alembic is imported only to migrate."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return False, ()
    version = sa.table(VERSION_TABLE, sa.column("version_num"))
    return True, tuple(sorted(connection.execute(sa.select(version.c.version_num)).scalars().all()))


def _known(revisions: Sequence[str]) -> bool:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    known = {revision.revision for revision in script.walk_revisions()}
    return all(revision in known for revision in revisions)


def _newer(shown: str, revisions: Sequence[str]) -> StoreError:
    return StoreError(
        f"snapshot database {shown} is at revision {', '.join(revisions)}, unknown to this version: "
        "it was created by a newer dockerhub-export: upgrade the tool"
    )


@contextmanager
def _migration_lock(connection: sa.Connection) -> Iterator[None]:
    """Two processes opening a fresh database at once: one migrates, the other then finds it current."""
    backend = connection.dialect.name
    if backend == "postgresql":
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(4242424242)")  # ends with the transaction
        yield
    elif backend in ("mysql", "mariadb"):
        connection.exec_driver_sql("SELECT GET_LOCK('dockerhub_export_migrate', 120)")
        try:
            yield
        finally:
            connection.exec_driver_sql("SELECT RELEASE_LOCK('dockerhub_export_migrate')")
    else:
        yield  # SQLite: the BEGIN IMMEDIATE of the write transaction is the lock


def _check_schema(engine: sa.Engine, *, upgrade: bool, create: bool, target: str = "head") -> str | None:
    shown = redact(engine.url)
    with engine.connect() as connection:
        present, current = _current(connection)
    if not present and not create:
        raise StoreError(_no_snapshots(shown))
    if current == (SCHEMA_REVISION,) and target == "head":
        return SCHEMA_REVISION  # the common case, decided without loading Alembic (~0.3 s)
    if current and not _known(current):
        raise _newer(shown, current)
    if not upgrade:
        return current[0] if current else None
    from alembic import command

    with engine.connect() as connection:
        connection.execution_options(**{_WRITE: True})
        with connection.begin(), _migration_lock(connection):
            present, current = _current(connection)  # again, under the lock
            if current and not _known(current):
                raise _newer(shown, current)
            config = _alembic_config()
            config.attributes["connection"] = connection
            log.info("upgrading snapshot database %s from %s to %s", shown, current or "empty", target)
            command.upgrade(config, target)
    with engine.connect() as connection:
        return _current(connection)[1][0]


def upgrade_database(url: str, *, revision: str = "head") -> str:
    """Bring the schema to ``revision`` (creating the database file for SQLite); returns the revision."""
    engine = open_engine(url, upgrade=False)
    try:
        with _translate(engine, "upgrade"):
            result = _check_schema(engine, upgrade=True, create=True, target=revision)
        assert result is not None
        return result
    finally:
        engine.dispose()


def current_revision(url: str) -> tuple[str | None, str]:
    """(the database's revision or None when it has no schema yet, the newest revision we know)."""
    engine = open_engine(url, upgrade=False, create=False)
    try:
        with reading(engine, "read the schema revision") as connection:
            _present, current = _current(connection)
        return (current[0] if current else None), head_revision()
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------
# Run log


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def start_run(engine: sa.Engine, *, org: str, snapshot_date: date) -> int:
    """A run-log row in status ``running``; returns its id for `finish_run`."""
    with _writing(engine, "record the run start") as connection:
        result = connection.execute(
            sa.insert(export_runs).values(
                namespace=org, snapshot_date=snapshot_date, started_at=_utcnow(), status="running"
            )
        )
        run_id = result.inserted_primary_key[0]  # type: ignore[index]
    return int(run_id)


def finish_run(
    engine: sa.Engine,
    run_id: int,
    *,
    status: str,
    repositories: int | None = None,
    private: int | None = None,
    api_count: int | None = None,
    csv_path: str | None = None,
    warnings: Sequence[str] = (),
    error: str | None = None,
) -> None:
    """Close the run-log row; its own transaction, so it also records runs whose upsert failed."""
    if status not in RUN_STATUSES - {"running"}:
        raise ValueError(f"status must be success, failed or refused, not {status!r}")
    with _writing(engine, "record the run outcome") as connection:
        result = connection.execute(
            sa.update(export_runs)
            .where(export_runs.c.id == run_id)
            .values(
                finished_at=_utcnow(),
                status=status,
                repositories=repositories,
                private=private,
                api_count=api_count,
                csv_path=csv_path,
                warnings=json.dumps(list(warnings)) if warnings else None,
                error=error,
            )
        )
        if result.rowcount == 0:
            raise StoreError(f"snapshot database {redact(engine.url)}: no run #{run_id} in the run log")


# --------------------------------------------------------------------------------------------------
# Snapshots


@dataclass
class SnapshotSummary:
    """What one `upsert_snapshot` did; added/vanished are names compared with the previous snapshot."""

    rows: int
    removed: int
    previous_date: date | None
    added: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Previous:
    snapshot_date: date
    repositories: int
    private: int


def _previous(connection: sa.Connection, org: str, snapshot_date: date) -> _Previous | None:
    row = connection.execute(
        sa.select(snapshots.c.snapshot_date, snapshots.c.repositories, snapshots.c.private)
        .where(snapshots.c.namespace == org, snapshots.c.snapshot_date < snapshot_date)
        .order_by(snapshots.c.snapshot_date.desc())
        .limit(1)
    ).first()
    return None if row is None else _Previous(row[0], row[1], row[2])


def _private_count(frame: pd.DataFrame) -> int:
    return int(frame["is_private"].eq(True).sum())


def check_history(
    engine: sa.Engine,
    org: str,
    snapshot_date: date,
    frame: pd.DataFrame,
    *,
    allow_drop: bool = False,
    drop_threshold: float = 0.5,
) -> list[str]:
    """Refuse a snapshot that looks like a broken token or a partial listing rather than a real change.

    Compared with the org's latest snapshot before ``snapshot_date``: private repositories all gone,
    or the count down by more than ``drop_threshold``. Raises `HistoryGuardError`; with
    ``allow_drop`` the findings are returned as warnings instead.
    """
    with reading(engine, "read the previous snapshot") as connection:
        previous = _previous(connection, org, snapshot_date)
    if previous is None:
        return []
    count, private = len(frame), _private_count(frame)
    day = snapshot_date.isoformat()
    before = previous.snapshot_date.isoformat()
    findings: list[str] = []
    if previous.private > 0 and private == 0:
        findings.append(
            f"{org} {day}: the token lost access to private repositories (the Hub still answers 200): "
            f"{previous.private} of {previous.repositories} were private on {before}, none of {count} now"
        )
    if previous.repositories > 0 and (previous.repositories - count) / previous.repositories > drop_threshold:
        fell = (previous.repositories - count) / previous.repositories
        findings.append(
            f"{org} {day}: the repository count fell {fell:.0%} from {previous.repositories} on {before} "
            f"to {count}, more than the {drop_threshold:.0%} the guard allows"
        )
    if findings and not allow_drop:
        raise HistoryGuardError(
            "; ".join(findings) + "; snapshot not stored: check the token's scope, or pass --allow-drop "
            "if the repositories really went away"
        )
    return findings


# Timestamps reach every driver as SQLAlchemy's SQLite storage text (naive UTC, microseconds): sqlite3
# stores it as is, PostgreSQL (COPY) and MariaDB/MySQL parse it into TIMESTAMP / DATETIME(6).
TIMESTAMP_TEXT = "%Y-%m-%d %H:%M:%S.%f"
# The shape of a canonical timestamp once its digits are all "0" (fromisoformat then checks the ranges).
_PLAIN_SHAPE = re.compile(r"0000-00-00T00:00:00(?:\.0{1,9})?Z")
_DIGITS_TO_ZERO = str.maketrans("123456789", "000000000")
_MICROSECONDS_LENGTH = len("2021-12-20T17:19:58.882960Z")
_NANOSECOND_YEARS = ("1678", "2261")  # pandas' nanosecond range, whole years
_SECONDS_LENGTH = len("2021-12-20T17:19:58Z")
_NO_FRACTION = re.compile(r"(:[0-9]{2})Z$", re.MULTILINE)


def plain_timestamp_texts(cells: Sequence[str | None]) -> list[str | None] | None:
    """Canonical UTC timestamps (``2021-12-20T17:19:58.88296Z``, None or "" for unknown) as storage text.

    None unless every cell is such a timestamp of a real day and time that pandas reads too:
    `timestamp_texts` then parses the column with pandas. Where None is not returned, pandas (and so
    `transform.to_frame`) reads every cell, and the result equals the pandas path's: fractions truncated
    to microseconds, values before `OLDEST_TIMESTAMP` (Go's zero time) None. pandas parses a column
    holding a nanosecond fraction at nanosecond resolution, which covers only the years 1677-2262:
    such a column is plain only if all its years are inside.

    Whole-column string operations (the column joined, its digits zeroed to find its few distinct
    shapes): a regular expression per value cost 3x more.
    """
    if not cells:
        return []
    try:
        joined = "\n".join([cell or "" for cell in cells])
    except TypeError:  # not all text
        return None
    if joined.count("\n") != len(cells) - 1:  # a cell holding a line break
        return None
    shapes = set(joined.translate(_DIGITS_TO_ZERO).split("\n")) - {""}
    if not all(_PLAIN_SHAPE.fullmatch(shape) for shape in shapes):
        return None
    present = list(filter(None, cells))
    if not present:
        return [None] * len(cells)
    try:
        all(map(datetime.fromisoformat, present))  # 2024-02-30, 25:00, 23:59:60
    except ValueError:
        return None
    lengths = set(map(len, shapes))
    first, last = min(present)[:4], max(present)[:4]  # years: canonical text sorts by time
    if max(lengths) > _MICROSECONDS_LENGTH and not _NANOSECOND_YEARS[0] <= first <= last <= _NANOSECOND_YEARS[1]:
        return None
    # 2021-12-20T17:19:58.88296Z -> 2021-12-20 17:19:58.882960, on the joined column: "T" is a space, a
    # missing fraction ".", "Z" six zeros of padding, then each value cut to its 26 characters.
    if min(lengths) == _SECONDS_LENGTH:
        joined = _NO_FRACTION.sub(r"\1.Z", joined)
    texts = [text[:26] or None for text in joined.replace("T", " ").replace("Z", "000000").split("\n")]
    oldest = f"{OLDEST_TIMESTAMP.year:04d}"
    if first < oldest:  # Go's zero time: never
        texts = [None if text is None or text[:4] < oldest else text for text in texts]
    return texts


def timestamp_texts(cells: Sequence[Any]) -> list[str | None]:
    """Any timestamps pandas reads (ISO-8601, zone-aware or UTC) as naive-UTC storage text, None if unknown."""
    plain = plain_timestamp_texts(cells)
    return plain if plain is not None else _parsed_timestamp_texts(cells)


def _parsed_timestamp_texts(cells: Sequence[Any]) -> list[str | None]:
    import pandas as pd

    parsed = pd.to_datetime(pd.Series(cells, dtype=object), utc=True, format="ISO8601", errors="coerce")
    parsed = parsed.dt.tz_localize(None)
    parsed = parsed.where(parsed >= OLDEST_TIMESTAMP)  # Go's zero time means "never", like NULL
    texts = parsed.dt.strftime(TIMESTAMP_TEXT)
    return texts.astype(object).where(texts.notna(), None).tolist()


def _frame_columns(org: str, frame: pd.DataFrame) -> dict[str, list[Any]]:
    """The frame as plain Python column lists (None for unknown), checked and typed for the driver."""
    from .transform import COLUMNS, KINDS

    missing = [name for name in COLUMNS if name not in frame.columns]
    if missing:
        raise StoreError(f"cannot store the snapshot: the frame lacks columns {', '.join(missing)}")
    names = frame["name"]
    if names.isna().any() or names.eq("").any():
        raise StoreError(f"cannot store the {org} snapshot: a repository without a name")
    duplicated = names[names.duplicated()]
    if len(duplicated):
        shown = ", ".join(sorted(set(duplicated.astype(str)))[:5])
        raise StoreError(f"cannot store the {org} snapshot: repository names repeat ({shown})")
    namespaces = frame["namespace"].fillna(org)
    foreign = namespaces[namespaces.ne(org)]
    if len(foreign):
        raise StoreError(
            f"cannot store the {org} snapshot: it holds repositories of namespace {foreign.iloc[0]!r}"
        )
    columns: dict[str, list[Any]] = {"name": names.astype(object).tolist()}
    for name in DATA_COLUMNS:
        series = frame[name]
        values = series.astype(object).where(series.notna(), None).tolist()
        columns[name] = timestamp_texts(values) if KINDS[name] == "timestamp" else values
    return columns


def _upsert_rows_statement(dialect: str) -> sa.Insert:
    updated = (*DATA_COLUMNS, "write_id")
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        statement = mysql_insert(repository_snapshots)
        return statement.on_duplicate_key_update({name: statement.inserted[name] for name in updated})
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        raise StoreError(f"unsupported snapshot database {dialect!r}: use SQLite, PostgreSQL or MariaDB/MySQL")
    statement = dialect_insert(repository_snapshots)
    return statement.on_conflict_do_update(
        index_elements=list(KEY_COLUMNS), set_={name: statement.excluded[name] for name in updated}
    )


def _write_rows(
    connection: sa.Connection, org: str, snapshot_date: date, write_id: int, columns: dict[str, list[Any]]
) -> None:
    """Store the rows: COPY on PostgreSQL, else the core statement compiled once, run by executemany.

    A first write of the day (write id 1: the day had no rows, and its header row's lock keeps other
    writers out) is a plain INSERT; a rewrite an upsert that also sets every column the rows lack to
    NULL (the insert leaves them at their default, and the update copies that). Columns absent from
    ``columns`` are never built or sent.

    Not ``connection.execute(statement, [dicts])``: SQLAlchemy's per-row parameter processing costs
    more than the insert itself at 100k rows (2-3x on SQLite), and its insertmanyvalues batching does
    not apply to ON CONFLICT statements without RETURNING. The values are already typed for the driver.
    """
    if connection.dialect.name == "postgresql":
        _copy_rows(connection, org, snapshot_date, write_id, columns)
        return
    constant = {"namespace": org, "snapshot_date": snapshot_date, "write_id": write_id}
    if connection.dialect.name == "sqlite":
        constant["snapshot_date"] = snapshot_date.isoformat()  # SQLAlchemy's SQLite DATE storage
    statement = sa.insert(repository_snapshots) if write_id == 1 else _upsert_rows_statement(connection.dialect.name)
    compiled = statement.compile(dialect=connection.dialect, column_keys=[*constant, *columns])
    sql = str(compiled)
    # sqlite3 binds by position ("?"); PyMySQL by name ("%(name)s"), in chunks of CHUNK_ROWS dicts.
    order = list(compiled.positiontup) if compiled.positional and compiled.positiontup else [*constant, *columns]
    assert sorted(order) == sorted([*constant, *columns]), order
    sources = [itertools.repeat(constant[key]) if key in constant else columns[key] for key in order]
    if compiled.positional:  # sqlite3: the raw cursor takes the rows as zip makes them, no list in between
        cursor = connection.connection.cursor()
        try:
            with _driver_errors(connection, sql):
                cursor.executemany(sql, zip(*sources))
        finally:
            cursor.close()
        return
    count = len(columns["name"])
    for start in range(0, count, CHUNK_ROWS):
        chunk = [
            source if isinstance(source, itertools.repeat) else source[start : start + CHUNK_ROWS]
            for source in sources
        ]
        connection.exec_driver_sql(sql, [dict(zip(order, row)) for row in zip(*chunk)])


def _copy_rows(
    connection: sa.Connection, org: str, snapshot_date: date, write_id: int, columns: dict[str, list[Any]]
) -> None:
    """PostgreSQL: COPY the rows, straight into the table for a first write of the day, else into a
    temporary table merged by one ``INSERT ... SELECT ... ON CONFLICT``.

    The COPY text is built column by column (`_copy_column`) and sent in chunks, not row by row
    through psycopg's ``write_row``: that took 3x the client time.
    """
    names = ["namespace", "snapshot_date", "write_id", *columns]
    listed = ", ".join(names)
    target = "repository_snapshots" if write_id == 1 else "dockerhub_export_incoming"
    create = f"CREATE TEMPORARY TABLE {target} ON COMMIT DROP AS SELECT {listed} FROM repository_snapshots WITH NO DATA"
    copy = f"COPY {target} ({listed}) FROM STDIN"
    updated = ", ".join(f"{name} = EXCLUDED.{name}" for name in (*DATA_COLUMNS, "write_id"))
    merge = (
        f"INSERT INTO repository_snapshots ({listed}) SELECT {listed} FROM {target} "
        f"ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO UPDATE SET {updated}"
    )
    constant = [
        itertools.repeat(text) for text in (*_copy_column([org], "text"), snapshot_date.isoformat(), str(write_id))
    ]
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        if write_id != 1:
            with _driver_errors(connection, create):
                cursor.execute(create)
        with _driver_errors(connection, copy), cursor.copy(copy) as stream:
            for start in range(0, len(columns["name"]), CHUNK_ROWS):
                texts = [
                    _copy_column(values[start : start + CHUNK_ROWS], _COPY_KINDS[name])
                    for name, values in columns.items()
                ]
                stream.write("\n".join(map("\t".join, zip(*constant, *texts))) + "\n")
        if write_id != 1:
            with _driver_errors(connection, merge):
                cursor.execute(merge)


def _copy_kind(column: sa.Column[Any]) -> str:
    if isinstance(column.type, sa.Boolean):
        return "bool"
    return "int" if isinstance(column.type, sa.Integer) else "text"  # timestamps come as storage text


_COPY_KINDS = {column.name: _copy_kind(column) for column in repository_snapshots.columns}
_COPY_BOOL = {True: "t", False: "f", None: "\\N"}
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy_column(values: list[Any], kind: str) -> list[str]:
    """One column's values in COPY's text format: NULL as \\N, booleans t/f, text with \\, tab and line
    breaks escaped. Whole-column string operations; a value is touched alone only if it needs escaping."""
    if kind == "bool":
        return list(map(_COPY_BOOL.__getitem__, values))
    if kind == "int":  # "None" is no integer's text: one replace marks the NULLs
        return "\n".join(map(str, values)).replace("None", "\\N").split("\n") if values else []
    texts = ["\\N" if value is None else value for value in values]
    joined = "".join(filter(None, values))
    if "\\" in joined or "\n" in joined or "\r" in joined or "\t" in joined:
        texts = [text if value is None else value.translate(_COPY_ESCAPES) for text, value in zip(texts, values)]
    return texts


def _claim_day(
    connection: sa.Connection, org: str, snapshot_date: date, values: dict[str, Any]
) -> int:
    """Upsert the day's header row and return this write's id.

    The first statement of the write transaction: on PostgreSQL and MariaDB the header row's lock makes
    a second writer of the same (org, day) wait here until the first commits; it then sees the first
    writer's id, takes the next one, and replaces that snapshot as a whole.
    """
    dialect = connection.dialect.name
    row = {"namespace": org, "snapshot_date": snapshot_date, "write_id": 1, **values}
    bump = {"write_id": snapshots.c.write_id + 1, **values}
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        connection.execute(mysql_insert(snapshots).values(row).on_duplicate_key_update(bump))
    else:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        connection.execute(
            dialect_insert(snapshots).values(row).on_conflict_do_update(index_elements=["namespace", "snapshot_date"], set_=bump)
        )
    return int(
        connection.execute(
            sa.select(snapshots.c.write_id).where(
                snapshots.c.namespace == org, snapshots.c.snapshot_date == snapshot_date
            )
        ).scalar_one()
    )


def _day_names(connection: sa.Connection, org: str, snapshot_date: date) -> set[str]:
    """The day's names, fetched by the raw driver cursor (SQLAlchemy's rows cost 10x more at 100k)."""
    sqlite = connection.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    sql = f"SELECT name FROM repository_snapshots WHERE namespace = {mark} AND snapshot_date = {mark}"
    with _driver_errors(connection, sql):
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql, (org, snapshot_date.isoformat() if sqlite else snapshot_date))
            return {row[0] for row in cursor.fetchall()}
        finally:
            cursor.close()


@contextmanager
def _driver_errors(connection: sa.Connection, statement: str) -> Iterator[None]:
    """Around raw driver calls: their errors as SQLAlchemy's, which `_translate` and `_with_retries` read."""
    dbapi = connection.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        raise sa_exc.DBAPIError.instance(statement, None, exc, dbapi.Error) from exc


def upsert_snapshot(
    engine: sa.Engine,
    org: str,
    snapshot_date: date,
    frame: pd.DataFrame,
    *,
    run_id: int | None = None,
    api_count: int | None = None,
) -> SnapshotSummary:
    """Make ``frame`` the (org, day) snapshot, exactly, in one transaction (see `write_snapshot`).

    The summary compares the names with the org's previous snapshot (added / vanished).
    """
    columns = _frame_columns(org, frame)
    summary = _store(
        engine, org, snapshot_date, columns, private=_private_count(frame), run_id=run_id, api_count=api_count,
        compare=True,
    )  # fmt: skip
    log.info(
        "stored %d repositories of %s for %s (%d removed from an earlier write of that day)",
        summary.rows, org, snapshot_date, summary.removed,
    )
    return summary


def write_snapshot(engine: sa.Engine, org: str, snapshot_date: date, columns: dict[str, list[Any]]) -> int:
    """Make ``columns`` the (org, day) snapshot, exactly, in one transaction; returns the rows stored.

    The bulk entry (backfill): ``columns`` maps ``"name"`` and any of `DATA_COLUMNS` to equally long
    lists of driver-ready values, checked by the caller (names non-empty): None for unknown,
    bool (or 1/0), int, str, timestamps as `timestamp_texts` gives them. The columns left out are stored NULL.

    Rows are written stamped with this write's id, then the day's rows with any other id (repositories
    gone since an earlier write of the same day) are deleted. Two writers of the same day are
    serialized on the header row (see `_claim_day`), so the day ends as one writer's rows, never a mix.
    """
    unknown = [name for name in columns if name != "name" and name not in DATA_COLUMNS]
    if "name" not in columns or unknown:
        raise StoreError(f"cannot store the {org} snapshot: no name column, or unknown columns {unknown}")
    names = columns["name"]
    if len(set(names)) != len(names):  # a rewrite would keep the last one silently on SQLite
        shown = ", ".join(sorted(name for name, times in Counter(names).items() if times > 1)[:5])
        raise StoreError(f"cannot store the {org} snapshot: repository names repeat ({shown})")
    private = columns["is_private"].count(True) if "is_private" in columns else 0
    return _store(engine, org, snapshot_date, columns, private=private).rows


def _store(
    engine: sa.Engine,
    org: str,
    snapshot_date: date,
    columns: dict[str, list[Any]],
    *,
    private: int,
    run_id: int | None = None,
    api_count: int | None = None,
    compare: bool = False,
) -> SnapshotSummary:
    names: list[str] = columns["name"]
    header = {
        "repositories": len(names),
        "private": private,
        "api_count": api_count,
        "written_at": _utcnow(),
        "run_id": run_id,
    }

    def write() -> SnapshotSummary:
        with _writing(engine, f"store the {org} snapshot of {snapshot_date.isoformat()}") as connection:
            write_id = _claim_day(connection, org, snapshot_date, header)
            previous = _previous(connection, org, snapshot_date) if compare else None
            previous_names = _day_names(connection, org, previous.snapshot_date) if previous else set()
            _write_rows(connection, org, snapshot_date, write_id, columns)
            removed = 0
            if write_id != 1:  # a first write went in as a plain INSERT: the day had no other rows
                rs = repository_snapshots
                removed = connection.execute(
                    sa.delete(rs).where(
                        rs.c.namespace == org, rs.c.snapshot_date == snapshot_date, rs.c.write_id != write_id
                    )
                ).rowcount
        if not compare:
            return SnapshotSummary(rows=len(names), removed=int(removed or 0), previous_date=None)
        current = set(names)
        return SnapshotSummary(
            rows=len(names),
            removed=int(removed or 0),
            previous_date=previous.snapshot_date if previous else None,
            added=sorted(current - previous_names) if previous else [],
            vanished=sorted(previous_names - current),
        )

    return _with_retries(write)
