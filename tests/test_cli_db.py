"""db_cli: `db upgrade`, `db current` and `db forget` through Typer, as a user runs them (`db forget`'s
histories: test_forget)."""

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from conftest import invoke

from dockerhub_export.errors import ConfigError, StoreError


def test_db_upgrade_then_current(app: typer.Typer, db_url: str) -> None:
    result = invoke(app, "db", "upgrade", "--database-url", db_url)
    assert result.exit_code == 0, result.output
    assert "upgraded from an empty database to revision 0006" in result.stdout
    assert "is at revision 0006, the newest" in invoke(app, "db", "upgrade", "--database-url", db_url).stdout
    assert "is at revision 0006, the newest" in invoke(app, "db", "current", "--database-url", db_url).stdout


def test_db_commands_never_show_the_password(app: typer.Typer) -> None:
    result = invoke(app, "db", "upgrade", "--database-url", "postgresql+psycopg://me:s3cret@127.0.0.1:1/x")
    assert isinstance(result.exception, StoreError)
    assert "s3cret" not in str(result.exception) and "me:***@" in str(result.exception)


def _store_a_night(url: str, night: date) -> None:
    """One night with a snapshot of two repositories and a tag night, as a run with --tags leaves it."""
    from dbs import ORG, frame, repo

    from dockerhub_export import store

    engine = store.open_engine(url)
    try:
        store.upsert_snapshot(engine, ORG, night, frame(repo("web"), repo("api")))
        columns: dict[str, list[Any]] = {name: [None] for name in store.TAG_COLUMNS}
        columns.update(repository=["web"], tag=["latest"], digest=["sha256:a"], full_size=[10])
        store.write_tag_night(engine, ORG, night, columns, ["web"], ["web", "api"], started_at=datetime.now())
    finally:
        engine.dispose()


def _tag_nights(url: str) -> list[date]:
    from dockerhub_export import store

    engine = store.open_engine(url)
    try:
        return [night.snapshot_date for night in store.tag_night_list(engine, "acme")]
    finally:
        engine.dispose()


def test_db_forget_without_yes_says_what_it_would_remove_and_with_yes_removes_a_future_night(
    app: typer.Typer, sqlite_url: str
) -> None:
    """A night filed in the future before `run` refused such dates: forget takes any date."""
    future = date.today() + timedelta(days=400)
    _store_a_night(sqlite_url, future)
    args = ("db", "forget", "--org", "acme", "--date", future.isoformat(), "--database-url", sqlite_url)
    dry = invoke(app, *args)
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == [
        f"dry run, nothing changed: forgetting the night acme {future} in {sqlite_url} would change "
        "(add --yes to do it):",
        "  snapshots: 1 row deleted",
        "  repository_snapshots: 2 rows deleted",
        "  repository_last_seen: 2 rows deleted (the repository has no other snapshot)",
        "  tag_nights: 1 row deleted",
        "  tags: 1 row deleted (versions begun that night)",
        "  tag_fetches: 1 row deleted",
        "  tag_storage: 1 row deleted",
    ]
    assert _tag_nights(sqlite_url) == [future]
    done = invoke(app, *args, "--yes")
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[0] == f"forgot the night acme {future} in {sqlite_url}:"
    assert done.stdout.splitlines()[1:] == dry.stdout.splitlines()[1:]
    assert _tag_nights(sqlite_url) == []


def test_db_forget_of_a_night_with_nothing_stored_is_one_line_naming_org_and_date(
    app: typer.Typer, sqlite_url: str
) -> None:
    _store_a_night(sqlite_url, date(2026, 11, 1))
    result = invoke(
        app, "db", "forget", "--org", "acme", "--date", "2026-11-02", "--database-url", sqlite_url
    )
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception).startswith("nothing stored for acme on 2026-11-02")
    assert _tag_nights(sqlite_url) == [date(2026, 11, 1)]
    bad = invoke(app, "db", "forget", "--org", "acme", "--date", "02/11/2026", "--database-url", sqlite_url)
    assert isinstance(bad.exception, ConfigError) and "invalid --date '02/11/2026'" in str(bad.exception)


def test_db_forget_never_creates_a_database(app: typer.Typer, tmp_path: Path) -> None:
    result = invoke(
        app, "db", "forget", "--org", "acme", "--date", "2026-11-02", "--output-dir", str(tmp_path)
    )
    assert isinstance(result.exception, StoreError) and "run `dockerhub-export run` first" in str(
        result.exception
    )
    assert not (tmp_path / "snapshots.db").exists()


def test_db_forget_without_a_date_is_one_line(app: typer.Typer, sqlite_url: str) -> None:
    result = invoke(app, "db", "forget", "--org", "acme", "--database-url", sqlite_url)
    assert isinstance(result.exception, ConfigError) and "pass --date YYYY-MM-DD" in str(result.exception)
