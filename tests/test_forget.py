"""`db forget`: one night removed from every history, so that the next run works as if it had never run.

Run through the real command line against the fake Hub on loopback, and through the store, on SQLite,
PostgreSQL and MariaDB.
"""

import json
import os
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import ORG, TOKEN
from dbs import frame, repo
from fakehub import FakeHub, make_repos, make_tags
from hubdata import digest_of

from dockerhub_export import store
from dockerhub_export.pipeline import RunOptions, export

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
HISTORIES = ("snapshots", "repository_snapshots", "repository_last_seen", "tags", "tag_nights", "tag_fetches",
             "tag_storage")  # fmt: skip
WHEN_WRITTEN = {"written_at", "started_at", "run_id"}  # differ between two writes of the same data


@pytest.fixture
def tagged() -> Any:
    repos = make_repos(ORG, 12, seed=3)
    hub = FakeHub(repos={ORG: repos}, credentials={TOKEN: (ORG, "all")})
    for i, record in enumerate(repos):
        hub.tags[(ORG, record["name"])] = make_tags(ORG, record["name"], (0, 2, 5)[i % 3])
    with hub:
        yield hub


def change(hub: FakeHub) -> None:
    """A night's worth of changes: a tag moved, a tag pushed, a tag deleted, a repository gone and one new."""
    names = [record["name"] for record in hub.repos[ORG]]
    now = time.time()
    hub.push_tag(ORG, names[1], "latest", digest=digest_of("moved"), size=777, when=now)
    hub.push_tag(ORG, names[4], "v9", digest=digest_of("v9"), size=999, when=now)
    hub.delete_tag(ORG, names[2], "latest", when=now)
    hub.delete_repo(ORG, names[5], when=now)
    hub.create_repo(ORG, dict(hub.repos[ORG][0], name="zz-new"), when=now)
    hub.tags[(ORG, "zz-new")] = make_tags(ORG, "zz-new", 3)


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every history's rows (not when or by which run they were written), sorted."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            tables = {}
            for name in HISTORIES:
                table = store.metadata.tables[name]
                columns = [column for column in table.columns if column.name not in WHEN_WRITTEN]
                tables[name] = sorted(connection.execute(sa.select(*columns)).all(), key=repr)
            return tables
    finally:
        engine.dispose()


def tag_night_dates(url: str) -> list[date]:
    return sorted(row[1] for row in dump(url)["tag_nights"])


def cli(args: list[str], cwd: Path, hub: FakeHub) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKERHUB_", "PREFECT_API_URL"))}
    env.update(DOCKERHUB_API_URL=hub.url, DOCKERHUB_TOKEN=TOKEN, PREFECT_HOME=str(cwd / "prefect-home"))
    command = [sys.executable, "-m", "dockerhub_export", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def truth(hub: FakeHub) -> tuple[set[tuple[str, str, str]], int]:
    """The Hub's tags as (repository, tag, digest), and their storage: each repository's digests once."""
    tags, sizes = set(), {}
    for record in hub.repos[ORG]:
        for item in hub.tags.get((ORG, record["name"]), []):
            tags.add((record["name"], item["name"], item["digest"]))
            sizes[(record["name"], item["digest"])] = item["full_size"]
    return tags, sum(sizes.values())


def test_a_later_tag_night_forgotten_lets_the_refused_earlier_night_run_and_stale_storage_answer_for_it(
    tagged: FakeHub, db_url: str, tmp_path: Path
) -> None:
    def run(night: date) -> subprocess.CompletedProcess[str]:
        args = ["run", "--org", ORG, "--tags", "--no-prefect", "--snapshot-date", night.isoformat()]
        return cli([*args, "--output-dir", str(tmp_path / "out"), "--database-url", db_url], tmp_path, tagged)

    assert run(D1).returncode == 0
    change(tagged)
    assert run(D3).returncode == 0
    refused = run(D2)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert f"tag history runs forward and its newest night is {D3}" in refused.stderr

    forget = ["db", "forget", "--org", ORG, "--date", D3.isoformat(), "--database-url", db_url]
    before = dump(db_url)
    dry = cli(forget, tmp_path, tagged)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(f"dry run, nothing changed: forgetting the night {ORG} {D3}")
    assert "  tag_nights: 1 row deleted\n" in dry.stdout
    assert dump(db_url) == before

    done = cli([*forget, "--yes"], tmp_path, tagged)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == dry.stdout.splitlines()[1:]  # the dry run said exactly this
    assert f"  repository_snapshots: {len(tagged.repos[ORG])} rows deleted\n" in done.stdout
    assert "  export_runs: 1 row kept, marked with a warning that their night was forgotten\n" in done.stdout
    assert tag_night_dates(db_url) == [D1]

    rerun = run(D2)
    assert rerun.returncode == 0, rerun.stderr
    assert tag_night_dates(db_url) == [D1, D2]
    tags, size = truth(tagged)
    engine = store.open_engine(db_url)
    try:
        inventory = store.tag_inventory(engine, ORG, D2, ("digest",))
    finally:
        engine.dispose()
    assert {tuple(row) for row in inventory} == tags
    where = ["--org", ORG, "--format", "json", "--database-url", db_url]
    storage = cli(["storage", *where], tmp_path, tagged)
    assert json.loads(storage.stdout)["snapshot_date"] == D2.isoformat(), storage.stderr
    assert json.loads(storage.stdout)["total_bytes"] == size
    stale = cli(["stale", "--days", "1", *where], tmp_path, tagged)
    assert json.loads(stale.stdout)["snapshot_date"] == D2.isoformat(), stale.stderr


def test_forgetting_the_newest_night_restores_the_night_before_and_running_it_again_stores_the_same_rows(
    tagged: FakeHub, db_url: str, settings_for: Any
) -> None:
    settings = settings_for(tagged, snapshot_database_url=db_url)
    export(settings, RunOptions(D1, include_tags=True))
    after_first = dump(db_url)
    change(tagged)
    export(settings, RunOptions(D2, include_tags=True))
    after_second = dump(db_url)
    assert after_second != after_first

    engine = store.open_engine(db_url)
    try:
        summary = store.forget_night(engine, ORG, D2, apply=True)
        assert summary.applied and dump(db_url) == after_first  # as if D2 had never run
        with engine.connect() as connection:
            runs = connection.execute(
                sa.select(store.export_runs.c.snapshot_date, store.export_runs.c.warnings)
            )
            marked = {day: json.loads(warnings or "[]") for day, warnings in runs}
    finally:
        engine.dispose()
    assert marked[D1] == [] and "night forgotten by `dockerhub-export db forget`" in marked[D2][-1]

    export(settings, RunOptions(D2, include_tags=True))
    assert dump(db_url) == after_second


def tag(repository: str, name: str, digest: str, size: int = 10) -> dict[str, Any]:
    row: dict[str, Any] = {column: None for column in store.TAG_COLUMNS}
    row.update(repository=repository, tag=name, digest=digest, full_size=size)
    return row


# Each night lists every repository: what the nights store is then their tags alone, and forgetting
# N2 must leave exactly what writing N1 and N3 alone leaves.
NIGHTS = {
    D1: [tag("web", "a", "1"), tag("web", "b", "1"), tag("web", "c", "1"), tag("web", "d", "1"),
         tag("web", "e", "1"), tag("api", "x", "1")],
    # a changes and changes back; b changes and stays; c goes and comes back; d is new and gone again;
    # e goes for good; api goes for good; db arrives
    D2: [tag("web", "a", "2"), tag("web", "b", "2"), tag("web", "d2", "1"), tag("db", "y", "1"),
         tag("web", "d", "1")],
    D3: [tag("web", "a", "1"), tag("web", "b", "2"), tag("web", "c", "1"), tag("web", "d", "1"),
         tag("db", "y", "1", 20)],
}  # fmt: skip
SNAPSHOTS = {D1: ["api", "db-old", "web"], D2: ["db", "db-old", "web", "once"], D3: ["db", "web"]}


def write_nights(url: str, nights: list[date]) -> None:
    engine = store.open_engine(url)
    try:
        for night in nights:
            store.upsert_snapshot(engine, ORG, night, frame(*(repo(name) for name in SNAPSHOTS[night])))
            rows = NIGHTS[night]
            columns = {
                name: [row[name] for row in rows] for name in ("repository", "tag", *store.TAG_COLUMNS)
            }
            listed = sorted({row["repository"] for row in rows})
            store.write_tag_night(
                engine, ORG, night, columns, listed, listed, started_at=datetime(2026, 11, 1)
            )
    finally:
        engine.dispose()


def test_forgetting_a_night_between_two_others_leaves_what_never_writing_it_leaves(
    db_url: str, tmp_path: Path
) -> None:
    write_nights(db_url, [D1, D3])
    never = dump(db_url)
    engine = store.open_engine(db_url)
    try:
        with engine.begin() as connection:
            for name in reversed(store.metadata.sorted_tables):
                connection.execute(sa.delete(name))
        write_nights(db_url, [D1, D2, D3])
        store.forget_night(engine, ORG, D2, apply=True)
    finally:
        engine.dispose()
    assert dump(db_url) == never
