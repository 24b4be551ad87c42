"""store.migrate: an empty database is built at the newest revision in one step, equal to the schema the
revisions build, on every backend; existing databases still go through the revisions."""

import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dockerhub_export import store
from dockerhub_export.store.tables import VIEWS


def _columns(inspector: sa.Inspector, name: str, dialect: sa.Dialect) -> list[tuple[Any, ...]]:
    return [
        (
            column["name"],
            repr(column["type"]),  # e.g. VARCHAR(length=255, collation=...)
            column["nullable"],
            column.get("default"),
            column.get("autoincrement"),
        )
        for column in inspector.get_columns(name)
    ]


def _table(inspector: sa.Inspector, name: str, dialect: sa.Dialect) -> dict[str, Any]:
    return {
        "columns": _columns(inspector, name, dialect),
        "primary key": inspector.get_pk_constraint(name),
        "foreign keys": sorted(inspector.get_foreign_keys(name), key=repr),
        "indexes": sorted(inspector.get_indexes(name), key=repr),
        "unique": sorted(inspector.get_unique_constraints(name), key=repr),
        "checks": sorted(inspector.get_check_constraints(name), key=repr),
    }


def describe(url: str) -> dict[str, Any]:
    """Everything a schema is made of, as the database itself reports it."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            dialect = connection.dialect
            version = sa.table(store.VERSION_TABLE, sa.column("version_num"))
            return {
                "tables": {
                    name: _table(inspector, name, dialect) for name in sorted(inspector.get_table_names())
                },
                "views": {
                    name: (
                        " ".join(inspector.get_view_definition(name).split()),
                        _columns(inspector, name, dialect),
                    )
                    for name in sorted(inspector.get_view_names())
                },
                "version": connection.execute(sa.select(version.c.version_num)).scalars().all(),
            }
    finally:
        engine.dispose()


def wipe(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            for name in reversed(list(VIEWS)):
                connection.exec_driver_sql(f"DROP VIEW {name}")
            store.metadata.drop_all(connection)
            connection.exec_driver_sql(f"DROP TABLE {store.VERSION_TABLE}")
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_an_empty_database_is_built_in_one_step_equal_to_the_schema_the_revisions_build(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="dockerhub_export.store"):
        store.open_engine(db_url).dispose()
    assert "creating snapshot database" in caplog.text and "upgrading" not in caplog.text
    one_step = describe(db_url)
    wipe(db_url)

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dockerhub_export.store"):
        assert store.upgrade_database(db_url, revision="0001") == "0001"  # 0001, then every revision
        assert store.upgrade_database(db_url) == store.SCHEMA_REVISION
    assert "creating snapshot database" not in caplog.text and "to head" in caplog.text
    migrated = describe(db_url)

    assert set(one_step["tables"]) == {*store.metadata.tables, store.VERSION_TABLE}
    assert set(one_step["views"]) == set(VIEWS)
    assert one_step["version"] == [store.SCHEMA_REVISION] == [store.head_revision()]
    for name in one_step["tables"]:
        assert one_step["tables"][name] == migrated["tables"][name], name
    for name in one_step["views"]:
        assert one_step["views"][name] == migrated["views"][name], name
    assert one_step == migrated


def test_alembic_reads_the_one_step_database_at_head_and_upgrades_it_no_further(db_url: str) -> None:
    from alembic.runtime.migration import MigrationContext

    store.open_engine(db_url).dispose()
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": store.VERSION_TABLE})
            assert context.get_current_heads() == (store.head_revision(),)
    finally:
        engine.dispose()
    assert store.upgrade_database(db_url) == store.SCHEMA_REVISION
    assert store.current_revision(db_url) == (store.SCHEMA_REVISION, store.SCHEMA_REVISION)


def test_two_openers_of_one_empty_database_at_once_build_it_once(db_url: str) -> None:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            barrier.wait()
            store.open_engine(db_url).dispose()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert describe(db_url)["version"] == [store.SCHEMA_REVISION]


def test_a_run_opening_an_empty_database_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'snapshots.db'}"
    code = (
        "import sys\n"
        "from dockerhub_export import store\n"
        f"store.open_engine({url!r}).dispose()\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'alembic'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert store.current_revision(url)[0] == store.SCHEMA_REVISION
