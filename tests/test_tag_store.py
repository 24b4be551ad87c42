"""store.tag_nights: tag history as validity intervals, on SQLite, PostgreSQL and MariaDB. Each night
writes only what changed; any night's inventory reads back exactly what it held."""

from datetime import date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from dbs import ORG

from dockerhub_export import store
from dockerhub_export.errors import StoreError

N1, N2, N3, N4 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)
STARTED = datetime(2026, 11, 1, 2, 0)


def tag(
    repository: str,
    name: str,
    digest: str = "sha256:a",
    size: int = 100,
    pulled: str | None = None,
    **values: Any,
) -> dict[str, Any]:
    row = {column: None for column in store.TAG_COLUMNS}
    row.update(
        repository=repository,
        tag=name,
        digest=digest,
        full_size=size,
        tag_status="active",
        tag_last_pulled=pulled,
        tag_last_pushed="2026-10-01T00:00:00.123456789Z",
        **values,
    )
    return row


def columns(*rows: dict[str, Any]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in ("repository", "tag", *store.TAG_COLUMNS)}


def night(engine: sa.Engine, day: date) -> dict[tuple[str, str], dict[str, Any]]:
    names = store.TAG_COLUMNS
    return {
        (row[0], row[1]): dict(zip(("repository", "tag", *names), row, strict=True))
        for row in store.tag_inventory(engine, ORG, day)
    }


def versions(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(sa.table("tags"))).scalar_one())


def write(
    engine: sa.Engine, day: date, rows: list[dict[str, Any]], fetched: list[str], present: list[str]
) -> Any:
    return store.write_tag_night(engine, ORG, day, columns(*rows), fetched, present, started_at=STARTED)


def test_nights_store_what_changed_and_read_back_what_each_held(engine: sa.Engine) -> None:
    first = [
        tag("web", "latest", "sha256:a", 100),
        tag("web", "v1", "sha256:a", 100),
        tag("db", "v1", "sha256:d", 7),
    ]
    summary = write(engine, N1, first, ["web", "db"], ["web", "db", "empty"])
    assert (summary.opened, summary.closed, summary.night.tags) == (3, 0, 3)
    assert summary.night.bytes == 107  # web's one digest once, db's once

    # Night 2: web's latest moves to a new digest, v2 appears, v1 is pulled; db is not listed (carried).
    second = [
        tag("web", "latest", "sha256:b", 300),
        tag("web", "v1", "sha256:a", 100, pulled="2026-11-02T01:00:00Z"),
        tag("web", "v2", "sha256:b", 300),
    ]
    summary = write(engine, N2, second, ["web"], ["web", "db", "empty"])
    assert (summary.opened, summary.closed) == (3, 2)
    assert summary.night.bytes == 100 + 300 + 7 and summary.night.tags == 4

    # Night 3: a tag of web is deleted (listed again), db's repository is gone.
    third = [tag("web", "latest", "sha256:b", 300), tag("web", "v2", "sha256:b", 300)]
    third[0]["tag_last_pulled"] = second[0]["tag_last_pulled"]
    summary = write(engine, N3, third, ["web"], ["web", "empty"])
    assert (summary.opened, summary.closed) == (0, 2)  # v1 deleted, db/v1 ended with its repository

    assert set(night(engine, N1)) == {("db", "v1"), ("web", "latest"), ("web", "v1")}
    assert night(engine, N1)[("web", "latest")]["digest"] == "sha256:a"
    assert set(night(engine, N2)) == {("db", "v1"), ("web", "latest"), ("web", "v1"), ("web", "v2")}
    assert night(engine, N2)[("web", "v1")]["tag_last_pulled"] == "2026-11-02T01:00:00Z"
    assert night(engine, N2)[("web", "v1")]["tag_last_pushed"] == "2026-10-01T00:00:00.123456789Z"  # exact
    assert set(night(engine, N3)) == {("web", "latest"), ("web", "v2")}
    assert versions(engine) == 6  # 3 + 3 new versions, nothing copied per night
    assert [n.snapshot_date for n in store.tag_night_list(engine, ORG)] == [N1, N2, N3]
    assert store.last_fetched(engine, ORG, N4) == {"web": N3, "db": N1}
    assert store.newest_tag_night(engine, ORG).snapshot_date == N3  # type: ignore[union-attr]
    assert store.newest_tag_night(engine, ORG, before=N3).snapshot_date == N2  # type: ignore[union-attr]


def test_a_rerun_of_the_newest_night_replaces_it_and_an_older_night_is_refused(engine: sa.Engine) -> None:
    write(engine, N1, [tag("web", "v1")], ["web"], ["web"])
    write(engine, N2, [tag("web", "v1", size=5), tag("web", "v2")], ["web"], ["web"])
    rerun = write(engine, N2, [tag("web", "v1")], ["web"], ["web"])  # the same night, other answers
    assert (rerun.opened, rerun.closed) == (0, 0) and versions(engine) == 1
    assert set(night(engine, N2)) == {("web", "v1")} and night(engine, N2)[("web", "v1")]["full_size"] == 100
    with pytest.raises(StoreError, match="tag history runs forward and its newest night is 2026-11-02"):
        write(engine, N1, [tag("web", "v1")], ["web"], ["web"])
    assert set(night(engine, N2)) == {("web", "v1")}  # untouched


def test_a_failed_night_leaves_the_history_as_it_was(engine: sa.Engine) -> None:
    write(engine, N1, [tag("web", "v1")], ["web"], ["web"])
    with pytest.raises(StoreError, match="repeats"):
        write(engine, N2, [tag("web", "v2"), tag("web", "v2")], ["web"], ["web"])
    assert [n.snapshot_date for n in store.tag_night_list(engine, ORG)] == [N1]
    assert set(night(engine, N1)) == {("web", "v1")} and versions(engine) == 1


def test_a_repository_without_tags_counts_as_listed(engine: sa.Engine) -> None:
    summary = write(engine, N1, [], ["empty"], ["empty"])
    assert summary.night.tags == 0 and summary.night.bytes == 0
    assert store.last_fetched(engine, ORG, N2) == {"empty": N1}


def test_inventory_columns_leave_out_repositories_and_share_equal_texts_of_shared_columns(
    engine: sa.Engine,
) -> None:
    rows = [tag(repository, name, media_type="application/vnd.oci.image.index.v1+json") for repository in
            ("web", "db") for name in ("v1", "v2", "v3")]  # fmt: skip
    write(engine, N1, rows, ["web", "db"], ["web", "db"])
    read = store.tag_inventory_columns(engine, ORG, N1, without=["db"], shared=["repository", "media_type"])
    assert sorted(zip(read["repository"], read["tag"], strict=True)) == [
        ("web", "v1"),
        ("web", "v2"),
        ("web", "v3"),
    ]
    assert read["media_type"] == ["application/vnd.oci.image.index.v1+json"] * 3
    # one object per value in the shared columns, as the fetch keeps them (the driver makes one per row)
    assert {len({id(value) for value in read[name]}) for name in ("repository", "media_type")} == {1}
