"""The snapshot database's schema: its Alembic revision, checked when an engine opens, upgraded there.

The revisions ship in the package (``dockerhub_export/migrations``) and use their own version table,
so the database may be shared. Opening an engine at the newest revision costs one query in the common
case. An empty database is built at the newest revision in one step, from the declared tables and
views, its version row written as Alembic writes it; Alembic itself is imported only to migrate an
existing database through the revisions.
"""

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..errors import StoreError
from .engine import WRITE, connect, reading
from .tables import VIEWS, metadata, view_select
from .translate import no_snapshots, redact, translate

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("dockerhub_export.store")

VERSION_TABLE = "dockerhub_export_version"  # not "alembic_version": the database may be shared
SCHEMA_REVISION = "0006"  # the newest revision in migrations/versions (test_store checks they agree)
MIGRATIONS = Path(__file__).parents[1] / "migrations"


def open_engine(url: str, *, upgrade: bool = True, create: bool = True) -> sa.Engine:
    """An engine for the snapshot database, its schema at the newest revision when ``upgrade``.

    ``create=False`` is for read-only commands: a database that does not exist yet (or holds no
    schema) is a `StoreError` telling the user to run an export first, and is not created.
    """
    engine = connect(url, create=create)
    try:
        with translate(engine, "open", create=create):
            check_schema(engine, upgrade=upgrade, create=create)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _alembic_config() -> "Config":
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


def _version_table() -> sa.Table:
    """Alembic's version table (`DefaultImpl.version_table_impl`), so that Alembic migrates it later."""
    return sa.Table(
        VERSION_TABLE,
        sa.MetaData(),
        sa.Column("version_num", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
    )


def _empty(connection: sa.Connection) -> bool:
    """None of our tables or views exists (the database may hold others')."""
    inspector = sa.inspect(connection)
    ours = {VERSION_TABLE, *metadata.tables, *VIEWS}
    return not ours & {*inspector.get_table_names(), *inspector.get_view_names()}


def _create_at_head(connection: sa.Connection) -> None:
    """The newest schema in one step: tables, indexes, views and the version row (no revision run)."""
    metadata.create_all(connection, checkfirst=False)
    for name in VIEWS:
        connection.exec_driver_sql(f"CREATE VIEW {name} AS {view_select(name, connection.dialect.name)}")
    version = _version_table()
    version.create(connection)
    connection.execute(version.insert().values(version_num=SCHEMA_REVISION))


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
    """Two processes opening a fresh database at once: one builds or migrates it, the other then finds
    it current."""
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


def check_schema(engine: sa.Engine, *, upgrade: bool, create: bool, target: str = "head") -> str | None:
    shown = redact(engine.url)
    with engine.connect() as connection:
        present, current = _current(connection)
    if not present and not create:
        raise no_snapshots(shown)
    if current == (SCHEMA_REVISION,) and target == "head":
        return SCHEMA_REVISION  # the common case, decided without loading Alembic (~0.3 s)
    if current and not _known(current):
        raise _newer(shown, current)
    if not upgrade:
        return current[0] if current else None
    with engine.connect() as connection:
        connection.execution_options(**{WRITE: True})
        with connection.begin(), _migration_lock(connection):
            present, current = _current(connection)  # again, under the lock
            if target in ("head", SCHEMA_REVISION) and not present and _empty(connection):
                log.info("creating snapshot database %s at %s", shown, SCHEMA_REVISION)
                _create_at_head(connection)
            elif current != (SCHEMA_REVISION,) or target != "head":
                _migrate(connection, shown, current, target)
    with engine.connect() as connection:
        return _current(connection)[1][0]


def _migrate(connection: sa.Connection, shown: str, current: tuple[str, ...], target: str) -> None:
    from alembic import command

    if current and not _known(current):
        raise _newer(shown, current)
    config = _alembic_config()
    config.attributes["connection"] = connection
    log.info("upgrading snapshot database %s from %s to %s", shown, current or "empty", target)
    command.upgrade(config, target)


def upgrade_database(url: str, *, revision: str = "head") -> str:
    """Bring the schema to ``revision`` (creating the database file for SQLite); returns the revision."""
    engine = open_engine(url, upgrade=False)
    try:
        with translate(engine, "upgrade"):
            result = check_schema(engine, upgrade=True, create=True, target=revision)
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
