"""The SQL views for BI tools, on SQLite, PostgreSQL and MariaDB: queried with plain SQL, they hold the
truth of the snapshots and tags the runs stored."""

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from dbs import ORG, frame, repo

from dockerhub_export import store

# No snapshot on the 3rd.
D1, D2, D3, D4 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 4), date(2026, 11, 5)
DAYS = {
    D1: [repo("web", pulls=100, stars=1), repo("api", pulls=10, private=True), repo("gone", pulls=5)],
    D2: [repo("web", pulls=130, stars=2), repo("api", pulls=None, private=True), repo("gone", pulls=6)],
    D3: [repo("web", pulls=190, stars=2), repo("api", pulls=40, private=False), repo("new", pulls=1)],
    D4: [repo("web", pulls=200, stars=2), repo("gone", pulls=9), repo("new", pulls=3)],  # "gone" is back
}


def rows(engine: sa.Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """The rows plain SQL gives; SQLite keeps days as ISO text (what a BI tool sees there), read as dates."""
    with engine.connect() as connection:
        found = [tuple(row) for row in connection.execute(sa.text(sql), params)]
    if engine.dialect.name != "sqlite":
        return found
    return [tuple(_day(value) for value in row) for row in found]


def _day(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return date.fromisoformat(value)
    return value


def seed(engine: sa.Engine) -> None:
    for day, repos in DAYS.items():
        store.upsert_snapshot(engine, ORG, day, frame(*repos))
    tags = [("web", "v1", "sha256:a", 100, "2026-10-01T00:00:00Z"), ("web", "latest", "sha256:a", 100, None),
            ("api", "v1", "sha256:c", 7, None)]  # fmt: skip
    _tags(engine, D1, tags, ["web", "api"])
    _tags(
        engine,
        D3,
        [("web", "latest", "sha256:b", 300, "2026-11-03T10:00:00.123456789Z")],
        ["web"],
        ["web", "api"],
    )


def _tags(
    engine: sa.Engine,
    night: date,
    tags: list[tuple[Any, ...]],
    fetched: list[str],
    present: list[str] | None = None,
) -> None:
    columns: dict[str, list[Any]] = {name: [] for name in ("repository", "tag", *store.TAG_COLUMNS)}
    for repository, tag, digest, size, pulled in tags:
        known = {"repository": repository, "tag": tag, "digest": digest, "full_size": size,
                 "tag_last_pulled": pulled, "tag_last_pushed": "2026-09-01T00:00:00Z"}  # fmt: skip
        row = {name: None for name in columns} | known
        for name, values in columns.items():
            values.append(row[name])
    store.write_tag_night(
        engine, ORG, night, columns, fetched, present or fetched, started_at=datetime(2026, 11, 1)
    )


def test_latest_repositories_is_each_repositorys_latest_snapshot(engine: sa.Engine) -> None:
    seed(engine)
    got = rows(
        engine,
        "SELECT namespace, name, snapshot_date, is_private, pull_count, star_count"
        " FROM latest_repositories ORDER BY name",
    )
    assert [(r[1], r[2], bool(r[3]), r[4], r[5]) for r in got] == [
        ("api", D3, False, 40, 0), ("gone", D4, False, 9, 0), ("new", D4, False, 3, 0),
        ("web", D4, False, 200, 2),
    ]  # fmt: skip
    assert {r[0] for r in got} == {ORG}


def test_repository_daily_has_pulls_and_the_delta_against_the_previous_snapshot(engine: sa.Engine) -> None:
    seed(engine)
    got = rows(
        engine,
        "SELECT name, snapshot_date, pull_count, pulls_delta, star_count"
        " FROM repository_daily ORDER BY name, snapshot_date",
    )
    assert got == [
        ("api", D1, 10, None, 0), ("api", D2, None, None, 0), ("api", D3, 40, None, 0),  # unknown count: NULL
        ("gone", D1, 5, None, 0), ("gone", D2, 6, 1, 0), ("gone", D4, 9, 3, 0),  # D4 against its D2
        ("new", D3, 1, None, 0), ("new", D4, 3, 2, 0),  # its first snapshot: NULL
        ("web", D1, 100, None, 1), ("web", D2, 130, 30, 2), ("web", D3, 190, 60, 2),  # D3 against D2
        ("web", D4, 200, 10, 2),
    ]  # fmt: skip
    one_repository = rows(
        engine,
        "SELECT snapshot_date, pulls_delta FROM repository_daily WHERE namespace = :o AND name = 'web'",
        o=ORG,
    )
    assert sorted(one_repository) == [(D1, None), (D2, 30), (D3, 60), (D4, 10)]
    one_day = rows(engine, "SELECT name FROM repository_daily WHERE snapshot_date = :d ORDER BY name", d=D2)
    assert one_day == [("api",), ("gone",), ("web",)]


def test_latest_tags_and_storage_daily_follow_the_tag_history(engine: sa.Engine) -> None:
    seed(engine)
    got = rows(
        engine,
        "SELECT repository, tag, digest, full_size, tag_last_pulled, snapshot_date"
        " FROM latest_tags ORDER BY repository, tag",
    )
    assert got == [
        ("api", "v1", "sha256:c", 7, None, D3),  # carried forward from D1
        (
            "web",
            "latest",
            "sha256:b",
            300,
            "2026-11-03T10:00:00.123456789Z",
            D3,
        ),  # exactly as the Hub wrote it
    ]  # web/v1 is gone since D3
    storage = rows(
        engine,
        "SELECT repository, snapshot_date, bytes FROM storage_daily ORDER BY snapshot_date, repository",
    )
    assert [(r[0], r[1], int(r[2])) for r in storage] == [
        ("api", D1, 7), ("web", D1, 100),  # web: two tags on one digest, counted once
        ("api", D3, 7), ("web", D3, 300),
    ]  # fmt: skip


def test_latest_repositories_follows_rewrites_that_drop_a_repository(engine: sa.Engine) -> None:
    seed(engine)
    latest = "SELECT name, snapshot_date, pull_count FROM latest_repositories WHERE name = 'gone'"
    assert rows(engine, latest) == [("gone", D4, 9)]
    store.upsert_snapshot(engine, ORG, D4, frame(repo("web", pulls=200, stars=2), repo("new", pulls=3)))
    assert rows(engine, latest) == [("gone", D2, 6)]  # back to its latest earlier day
    store.upsert_snapshot(engine, ORG, D1, frame(repo("gone", pulls=4)))  # an older day: no move
    assert rows(engine, latest) == [("gone", D2, 6)]
    store.upsert_snapshot(engine, ORG, D2, frame(repo("web", pulls=130)))
    assert rows(engine, latest) == [("gone", D1, 4)]
    store.upsert_snapshot(engine, ORG, D1, frame(repo("web", pulls=100)))
    assert rows(engine, latest) == []  # in no snapshot any more
    store.upsert_snapshot(engine, ORG, D3, frame(repo("gone", pulls=8), repo("web", pulls=190)))
    assert rows(engine, latest) == [("gone", D3, 8)]


def test_a_rerun_of_the_newest_tag_night_replaces_its_storage(engine: sa.Engine) -> None:
    seed(engine)
    _tags(engine, D3, [("web", "latest", "sha256:z", 5, None)], ["web"], ["web", "api"])
    storage = "SELECT repository, bytes FROM storage_daily WHERE snapshot_date = :d ORDER BY repository"
    assert [(r, int(b)) for r, b in rows(engine, storage, d=D3)] == [("api", 7), ("web", 5)]
    assert [(r, int(b)) for r, b in rows(engine, storage, d=D1)] == [("api", 7), ("web", 100)]


def test_an_upgrade_to_0004_fills_the_views_from_the_history_stored_before(db_url: str) -> None:
    from alembic import command

    from dockerhub_export.store.migrate import _alembic_config

    engine = store.open_engine(db_url)
    try:
        seed(engine)
        queries = [
            "SELECT namespace, name, snapshot_date, pull_count FROM latest_repositories ORDER BY name",
            "SELECT namespace, repository, snapshot_date, bytes FROM storage_daily"
            " ORDER BY snapshot_date, repository",
        ]
        before = [rows(engine, sql) for sql in queries]
        assert all(before)
        config = _alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0003")
        assert not {"repository_last_seen", "tag_storage"} & set(sa.inspect(engine).get_table_names())
        assert store.upgrade_database(db_url) == store.SCHEMA_REVISION
        assert [rows(engine, sql) for sql in queries] == before
    finally:
        engine.dispose()
