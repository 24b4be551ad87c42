"""store: URLs and engines, migrations, the run log, and the day's upsert."""

import sqlite3
import threading
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from dbs import ORG, frame, repo, stored_rows

from dockerhub_export import store
from dockerhub_export.errors import ConfigError, StoreError
from dockerhub_export.resources import REPOSITORIES
from dockerhub_export.settings import Settings

DAY1, DAY2, DAY3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)


# --------------------------------------------------------------------------------------------------
# URLs and engines


def test_database_url_defaults_to_snapshots_db_in_the_export_dir(tmp_path: Path) -> None:
    settings = Settings.load(export_dir=tmp_path / "out")
    assert store.database_url(settings) == f"sqlite:///{(tmp_path / 'out' / 'snapshots.db').resolve()}"


def test_database_url_prefers_the_configured_url(tmp_path: Path) -> None:
    settings = Settings.load(export_dir=tmp_path, snapshot_database_url="postgresql+psycopg://u:pw@db/x")
    assert store.database_url(settings) == "postgresql+psycopg://u:pw@db/x"


def test_redact_hides_the_password_and_never_echoes_garbage() -> None:
    assert (
        store.redact("postgresql+psycopg://user:s3cret@db:5432/x")
        == "postgresql+psycopg://user:***@db:5432/x"
    )
    assert store.redact("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"
    assert "s3cret" not in store.redact("::not a url s3cret")


def test_unreachable_server_is_one_store_error_with_the_password_hidden() -> None:
    with pytest.raises(StoreError) as caught:
        store.open_engine("postgresql://user:s3cret@127.0.0.1:1/x")
    message = str(caught.value)
    assert "s3cret" not in message and "user:***@127.0.0.1:1" in message
    assert "\n" not in message and "SNAPSHOT_DATABASE_URL" in message


def test_invalid_or_unsupported_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid snapshot database URL"):
        store.open_engine("not a url")
    with pytest.raises(ConfigError, match="unsupported"):
        store.open_engine("oracle://scott:tiger@host/db")


def test_query_of_a_missing_database_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "nothing" / "snapshots.db"
    with pytest.raises(
        StoreError, match=r"no snapshots yet at sqlite:///.*: run `dockerhub-export run` first"
    ):
        store.open_engine(f"sqlite:///{path}", create=False)
    assert not path.exists() and not path.parent.exists()


def test_open_engine_creates_the_sqlite_folder_and_sets_wal_busy_timeout_and_foreign_keys(
    tmp_path: Path,
) -> None:
    engine = store.open_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 'snapshots.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    finally:
        engine.dispose()


def test_tables_hold_every_exported_field_with_counts_nullable() -> None:
    table = store.repository_snapshots
    assert [name for name in table.columns.keys() if name not in ("snapshot_date", "write_id")] == list(
        REPOSITORIES.schema.names
    )
    for column in REPOSITORIES.schema.columns:
        if column.kind == "timestamp":
            assert isinstance(table.c[column.name].type, sa.DateTime)
        if column.kind == "int":
            assert table.c[column.name].nullable
    assert [column.name for column in table.primary_key.columns] == ["namespace", "snapshot_date", "name"]


# --------------------------------------------------------------------------------------------------
# Migrations


def test_upgrade_creates_every_table_on_an_empty_database(db_url: str) -> None:
    assert store.upgrade_database(db_url) == store.head_revision() == store.SCHEMA_REVISION
    assert store.upgrade_database(db_url) == store.SCHEMA_REVISION  # idempotent
    engine = store.open_engine(db_url)
    try:
        inspector = sa.inspect(engine)
        assert {
            "snapshots",
            "repository_snapshots",
            "export_runs",
            "tags",
            "tag_nights",
            "tag_fetches",
            store.VERSION_TABLE,
        } <= set(inspector.get_table_names())
        assert "alembic_version" not in inspector.get_table_names()  # a shared database keeps its own
        assert inspector.get_pk_constraint("repository_snapshots")["constrained_columns"] == [
            "namespace",
            "snapshot_date",
            "name",
        ]
        indexes = {index["name"]: index["column_names"] for index in inspector.get_indexes("export_runs")}
        assert indexes["ix_export_runs_namespace_snapshot_date"] == ["namespace", "snapshot_date"]
    finally:
        engine.dispose()


def test_upgrade_from_the_previous_revision_keeps_the_data(db_url: str) -> None:
    assert store.upgrade_database(db_url, revision="0001") == "0001"
    old = sa.create_engine(db_url)
    try:
        with old.begin() as connection:  # as version 0001 of the tool wrote them
            connection.execute(
                sa.text(
                    "INSERT INTO export_runs (namespace, snapshot_date, started_at, status) "
                    "VALUES ('acme', :day, :now, 'success')"
                ),
                {"day": DAY1, "now": datetime(2025, 3, 1, 2, 0)},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO snapshots (namespace, snapshot_date, write_id, repositories, private, "
                    "written_at) VALUES ('acme', :day, 1, 1, 0, :now)"
                ),
                {"day": DAY1, "now": datetime(2025, 3, 1, 2, 0)},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO repository_snapshots (namespace, snapshot_date, name, write_id, pull_count) "
                    "VALUES ('acme', :day, 'web', 1, 42)"
                ),
                {"day": DAY1},
            )
    finally:
        old.dispose()
    assert store.current_revision(db_url) == ("0001", store.SCHEMA_REVISION)

    engine = store.open_engine(db_url)  # upgrades on open, like a run does
    try:
        assert store.current_revision(db_url) == (store.SCHEMA_REVISION, store.SCHEMA_REVISION)
        assert stored_rows(engine, ORG, DAY1)["web"]["pull_count"] == 42
        with engine.connect() as connection:
            run = connection.execute(sa.select(store.export_runs)).mappings().one()
        assert run["status"] == "success" and run["warnings"] is None  # the column 0002 added
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_declared_tables(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    store.upgrade_database(db_url, revision="0001")  # through every revision, not the one-step build
    store.upgrade_database(db_url)
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": store.VERSION_TABLE})
            assert compare_metadata(context, store.metadata) == []
    finally:
        engine.dispose()


def test_database_of_a_newer_version_is_refused(db_url: str) -> None:
    store.upgrade_database(db_url)
    raw = sa.create_engine(db_url)
    with raw.begin() as connection:
        connection.execute(sa.text(f"UPDATE {store.VERSION_TABLE} SET version_num = '0099'"))
    raw.dispose()
    for attempt in (lambda: store.open_engine(db_url), lambda: store.upgrade_database(db_url)):
        with pytest.raises(StoreError, match="created by a newer dockerhub-export: upgrade the tool"):
            attempt()


# --------------------------------------------------------------------------------------------------
# The day's upsert


def test_upsert_is_idempotent(engine: sa.Engine) -> None:
    snapshot = frame(repo("web", pulls=10), repo("db", pulls=5, private=True))
    first = store.upsert_snapshot(engine, ORG, DAY1, snapshot)
    stored = stored_rows(engine, ORG, DAY1)
    again = store.upsert_snapshot(engine, ORG, DAY1, snapshot)
    assert (first.rows, first.removed, again.rows, again.removed) == (2, 0, 2, 0)
    after = stored_rows(engine, ORG, DAY1)
    ignore = {"write_id"}
    assert {n: {k: v for k, v in r.items() if k not in ignore} for n, r in after.items()} == {
        n: {k: v for k, v in r.items() if k not in ignore} for n, r in stored.items()
    }


def test_rerunning_a_day_replaces_that_days_snapshot_exactly(engine: sa.Engine) -> None:
    store.upsert_snapshot(engine, ORG, DAY1, frame(repo("web", pulls=1), repo("old", pulls=1)))
    store.upsert_snapshot(engine, ORG, DAY2, frame(repo("web", pulls=2), repo("old", pulls=2), repo("tmp")))
    summary = store.upsert_snapshot(engine, ORG, DAY2, frame(repo("web", pulls=3), repo("new", pulls=1)))

    assert set(stored_rows(engine, ORG, DAY2)) == {"web", "new"}  # "old" and "tmp" gone from that day
    assert stored_rows(engine, ORG, DAY2)["web"]["pull_count"] == 3
    assert set(stored_rows(engine, ORG, DAY1)) == {"web", "old"}  # the other day untouched
    assert summary.rows == 2 and summary.removed == 2
    assert summary.previous_date == DAY1 and summary.added == ["new"] and summary.vanished == ["old"]
    with engine.connect() as connection:
        header = (
            connection.execute(sa.select(store.snapshots).where(store.snapshots.c.snapshot_date == DAY2))
            .mappings()
            .one()
        )
    assert (header["repositories"], header["private"]) == (2, 0)


def test_other_orgs_are_never_touched(engine: sa.Engine) -> None:
    store.upsert_snapshot(engine, "other", DAY1, frame(repo("web", pulls=7), org="other"))
    store.upsert_snapshot(engine, ORG, DAY1, frame(repo("web", pulls=1)))
    store.upsert_snapshot(engine, ORG, DAY1, frame(repo("api", pulls=1)))
    assert set(stored_rows(engine, "other", DAY1)) == {"web"}


def test_values_are_stored_typed_with_unknown_kept_null(engine: sa.Engine) -> None:
    snapshot = frame(
        repo(
            "web",
            pulls=12_345_678_901,  # beyond 32 bits
            stars=None,
            private=True,
            last_updated="2021-12-20T17:19:58.88296Z",
            date_registered="0001-01-01T00:00:00Z",  # Go's zero time: "never"
            media_types=[
                "application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.container.image.v1+json",
            ],
            categories=[{"name": "Databases", "slug": "databases"}],
            description="=HYPERLINK('x')",
        ),
        repo("ghost", pulls=None, private=None),
    )
    store.upsert_snapshot(engine, ORG, DAY1, snapshot)
    rows = stored_rows(engine, ORG, DAY1)
    web, ghost = rows["web"], rows["ghost"]
    assert web["pull_count"] == 12_345_678_901 and web["star_count"] is None and web["is_private"] is True
    assert web["last_updated"] == datetime(2021, 12, 20, 17, 19, 58, 882960)  # a real timestamp, UTC
    assert web["date_registered"] is None
    assert (
        web["media_types"]
        == "application/vnd.oci.image.index.v1+json;application/vnd.docker.container.image.v1+json"
    )
    assert web["categories"] == "databases" and web["description"] == "=HYPERLINK('x')"
    assert ghost["pull_count"] is None and ghost["is_private"] is None  # unknown is not 0


def _awkward_frame(**pulls: int) -> object:
    """Values every path must carry unchanged: COPY escapes, NULLs, big counts, edge timestamps."""
    return frame(
        repo(
            "web",
            pulls=pulls.get("web", 2**53 + 1),
            stars=None,
            private=True,
            last_updated="2021-12-20T17:19:58.88296Z",
            date_registered="9999-12-31T23:59:59.999999Z",
            last_modified="2024-01-01T00:00:00+02:00",
            description="tab\there\nnewline \\ backslash \\N é😀",
            media_types=["a/b", "c/d"],
            categories=[{"slug": "databases"}],
            storage_size=0,
            status=1,
        ),
        repo(
            "ghost",
            pulls=pulls.get("ghost"),
            private=None,
            last_updated="2024-06-01T10:00:00.123456789Z",
            date_registered="0001-01-01T00:00:00Z",
            description="",
            repository_type="NULL",
        ),
        repo(
            "plain",
            pulls=pulls.get("plain", 0),
            private=False,
            last_updated="1000-01-01T00:00:00Z",
            description="\\.",
        ),
    )


def _core_rows(snapshot: object, day: date) -> list[dict[str, object]]:
    """The frame as SQLAlchemy Core parameters typed by hand: the reference for what must be stored."""
    import pandas as pd

    rows = []
    for record in snapshot.to_dict("records"):  # type: ignore[attr-defined]
        row: dict[str, object] = {"namespace": ORG, "snapshot_date": day, "write_id": 1}
        for name in ("name", *store.DATA_COLUMNS):
            value = record[name]
            value = None if value is pd.NA or value is None else value
            if value is not None and REPOSITORIES.schema.kinds[name] == "timestamp":
                parsed = datetime.fromisoformat(value).replace(tzinfo=None)  # cuts nanoseconds off
                value = parsed if parsed.year >= 1000 else None
            row[name] = (
                bool(value) if REPOSITORIES.schema.kinds[name] == "bool" and value is not None else value
            )
        rows.append(row)
    return rows


def test_first_writes_and_rewrites_store_exactly_what_sqlalchemy_core_stores(engine: sa.Engine) -> None:
    """A new day (plain INSERT / COPY straight into the table) and a rewrite (upsert / COPY into a temporary
    table, merged) store the same values as SQLAlchemy Core's own typed insert of the same rows."""
    snapshot = _awkward_frame()
    store.upsert_snapshot(engine, ORG, DAY1, snapshot)  # first write of the day
    store.upsert_snapshot(engine, ORG, DAY2, _awkward_frame(web=1, ghost=7, plain=3))
    store.upsert_snapshot(engine, ORG, DAY2, snapshot)  # every row an update
    with engine.begin() as connection:
        connection.execute(sa.insert(store.repository_snapshots), _core_rows(snapshot, DAY3))

    def values(day: date) -> dict[str, dict[str, object]]:
        return {
            name: {k: v for k, v in row.items() if k not in ("snapshot_date", "write_id")}
            for name, row in stored_rows(engine, ORG, day).items()
        }

    reference = values(DAY3)
    assert values(DAY1) == reference and values(DAY2) == reference
    web = reference["web"]
    assert web["description"] == "tab\there\nnewline \\ backslash \\N é😀" and web["pull_count"] == 2**53 + 1
    assert web["last_modified"] == datetime(2023, 12, 31, 22, 0)  # converted to UTC
    assert reference["ghost"]["last_updated"] == datetime(2024, 6, 1, 10, 0, 0, 123456)
    assert reference["ghost"]["date_registered"] is None and reference["ghost"]["pull_count"] is None


def test_write_snapshot_of_a_few_columns_leaves_the_others_null_even_over_a_full_row(
    engine: sa.Engine,
) -> None:
    store.upsert_snapshot(engine, ORG, DAY1, frame(repo("web", pulls=1, description="old", status=1)))
    stored = store.write_snapshot(
        engine, ORG, DAY1, {"name": ["web", "api"], "pull_count": [5, None], "is_private": [True, False]}
    )
    rows = stored_rows(engine, ORG, DAY1)
    assert stored == 2 and set(rows) == {"web", "api"}
    assert (rows["web"]["pull_count"], rows["web"]["description"], rows["web"]["status"]) == (5, None, None)
    assert rows["web"]["is_private"] is True and rows["api"]["pull_count"] is None
    with engine.connect() as connection:
        header = connection.execute(sa.select(store.snapshots)).mappings().one()
    assert (header["repositories"], header["private"], header["write_id"]) == (2, 1, 2)


def test_a_failed_bulk_write_leaves_the_day_as_it_was(engine: sa.Engine) -> None:
    """A write that fails midway (here: a missing name, rejected by the database after two rows) rolls
    back whole, the header row included, and leaves `store` as one StoreError line."""
    twice = {"name": ["web", "api", None], "pull_count": [1, 2, 3]}
    with pytest.raises(StoreError) as caught:
        store.write_snapshot(engine, ORG, DAY1, twice)  # a new day
    assert "\n" not in str(caught.value) and f"store the {ORG} snapshot of {DAY1.isoformat()} failed" in str(
        caught.value
    )
    assert stored_rows(engine, ORG, DAY1) == {}
    store.write_snapshot(engine, ORG, DAY2, {"name": ["old"], "pull_count": [9]})
    with pytest.raises(StoreError):
        store.write_snapshot(engine, ORG, DAY2, twice)  # a rewrite
    assert {name: row["pull_count"] for name, row in stored_rows(engine, ORG, DAY2).items()} == {"old": 9}
    with engine.connect() as connection:
        headers = connection.execute(
            sa.select(store.snapshots.c.snapshot_date, store.snapshots.c.write_id)
        ).all()
    assert headers == [(DAY2, 1)]
    with pytest.raises(StoreError, match=r"repository names repeat \(web\)"):
        store.write_snapshot(engine, ORG, DAY3, {"name": ["web", "web"]})


def test_names_differing_only_in_case_are_different_repositories(engine: sa.Engine) -> None:
    store.upsert_snapshot(engine, ORG, DAY1, frame(repo("Web", pulls=1), repo("web", pulls=2)))
    assert {name: row["pull_count"] for name, row in stored_rows(engine, ORG, DAY1).items()} == {
        "Web": 1,
        "web": 2,
    }


def test_upsert_refuses_a_frame_with_repeated_names_or_another_namespace(sqlite_engine: sa.Engine) -> None:
    with pytest.raises(StoreError, match="repeat"):
        store.upsert_snapshot(sqlite_engine, ORG, DAY1, frame(repo("web"), repo("web")))
    with pytest.raises(StoreError, match="namespace 'other'"):
        store.upsert_snapshot(sqlite_engine, ORG, DAY1, frame(repo("web"), org="other"))
    assert stored_rows(sqlite_engine, ORG, DAY1) == {}


def test_concurrent_same_day_runs_end_in_one_consistent_snapshot(db_url: str) -> None:
    """Two writers of the same (org, day) at once: the day ends as exactly one of the two frames.

    The frames share no name, so no row lock orders the writers: only the day's header row does.
    (Without it, PostgreSQL ends some rounds with both frames' rows.)
    """
    engines = [store.open_engine(db_url), store.open_engine(db_url)]
    first = frame(*(repo(f"a-{i:04d}", pulls=i) for i in range(1500)))
    second = frame(*(repo(f"b-{i:04d}", pulls=i) for i in range(1200)))
    expected = [
        {name: pulls for name, pulls in zip(f["name"], f["pull_count"], strict=True)} for f in (first, second)
    ]
    try:
        for round_ in range(4):
            day = date(2025, 4, 1 + round_)
            store.upsert_snapshot(engines[0], ORG, day, frame(repo("stale-from-an-earlier-run")))
            barrier = threading.Barrier(2)
            errors: list[BaseException] = []

            def write(
                engine: sa.Engine,
                snapshot: object,
                day: date = day,
                barrier: threading.Barrier = barrier,
                errors: list[BaseException] = errors,
            ) -> None:
                try:
                    barrier.wait()
                    store.upsert_snapshot(engine, ORG, day, snapshot)  # type: ignore[arg-type]
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            pairs = zip(engines, (first, second), strict=True)
            threads = [threading.Thread(target=write, args=pair) for pair in pairs]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert not errors
            stored = {name: row["pull_count"] for name, row in stored_rows(engines[0], ORG, day).items()}
            assert stored in expected
            with engines[0].connect() as connection:
                header = (
                    connection.execute(
                        sa.select(store.snapshots).where(store.snapshots.c.snapshot_date == day)
                    )
                    .mappings()
                    .one()
                )
            assert header["repositories"] == len(stored) and header["write_id"] == 3
    finally:
        for engine in engines:
            engine.dispose()


def test_sqlite_writers_in_two_processes_queue_instead_of_failing(tmp_path: Path) -> None:
    """A second process writing while the first holds the lock waits (busy_timeout), no 'database is
    locked'."""
    url = f"sqlite:///{tmp_path / 'snapshots.db'}"
    engine = store.open_engine(url)
    try:
        holder = sqlite3.connect(tmp_path / "snapshots.db", isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")  # another process in the middle of its write
        released = threading.Timer(0.5, holder.execute, args=("COMMIT",))
        released.start()
        store.upsert_snapshot(engine, ORG, DAY1, frame(repo("web")))
        released.join()
        holder.close()
        assert set(stored_rows(engine, ORG, DAY1)) == {"web"}
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------
# Run log


def test_run_log_records_success_failure_and_refusal(engine: sa.Engine) -> None:
    ok = store.start_run(engine, org=ORG, snapshot_date=DAY1)
    store.finish_run(
        engine,
        ok,
        status="success",
        repositories=3,
        private=1,
        api_count=3,
        csv_path="/x/repos-2025-03-01.csv",
        warnings=["1 duplicate dropped"],
    )
    failed = store.start_run(engine, org=ORG, snapshot_date=DAY2)
    with pytest.raises(StoreError):  # a failed upsert ...
        store.upsert_snapshot(engine, ORG, DAY2, frame(repo("web"), repo("web")))
    store.finish_run(
        engine, failed, status="failed", error="cannot store the acme snapshot"
    )  # ... still logged
    refused = store.start_run(engine, org=ORG, snapshot_date=DAY3)
    store.finish_run(engine, refused, status="refused", repositories=1, private=0, error="lost access")
    running = store.start_run(engine, org=ORG, snapshot_date=DAY3)

    with engine.connect() as connection:
        runs = {row["id"]: row for row in connection.execute(sa.select(store.export_runs)).mappings()}
    assert runs[ok]["status"] == "success" and runs[ok]["warnings"] == '["1 duplicate dropped"]'
    assert (runs[ok]["repositories"], runs[ok]["private"], runs[ok]["api_count"]) == (3, 1, 3)
    assert runs[ok]["finished_at"] >= runs[ok]["started_at"]
    assert runs[failed]["status"] == "failed" and runs[failed]["error"] == "cannot store the acme snapshot"
    assert runs[refused]["status"] == "refused"
    assert runs[running]["status"] == "running" and runs[running]["finished_at"] is None


def test_finish_run_rejects_an_unknown_status_or_run(sqlite_engine: sa.Engine) -> None:
    run = store.start_run(sqlite_engine, org=ORG, snapshot_date=DAY1)
    with pytest.raises(ValueError):
        store.finish_run(sqlite_engine, run, status="ok")
    with pytest.raises(StoreError, match="no run #999"):
        store.finish_run(sqlite_engine, 999, status="success")


def test_analyze_refreshes_the_planner_statistics_after_a_bulk_load(engine: sa.Engine) -> None:
    store.upsert_snapshot(engine, ORG, DAY1, frame(repo("web", pulls=10), repo("db", pulls=5)))
    store.analyze(engine)  # runs on every dialect
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            analyzed = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_user_tables WHERE relname IN ('repository_snapshots', "
                "'snapshots') AND last_analyze IS NOT NULL"
            ).scalar()
        assert analyzed == 2
