"""tags_cli: `stale` and `storage` through Typer, over tag nights the store wrote."""

import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import invoke
from dbs import ORG

from dockerhub_export import store
from dockerhub_export.errors import ConfigError

N1, N2 = date(2026, 11, 1), date(2026, 11, 3)


def tag(
    repository: str, name: str, digest: str, size: int, pulled: str | None, pushed: str
) -> dict[str, Any]:
    row = {column: None for column in store.TAG_COLUMNS}
    row.update(
        repository=repository,
        tag=name,
        digest=digest,
        full_size=size,
        tag_last_pulled=pulled,
        tag_last_pushed=pushed,
    )
    return row


def write(engine: Any, night: date, rows: list[dict[str, Any]], repositories: list[str]) -> None:
    columns = {name: [row[name] for row in rows] for name in ("repository", "tag", *store.TAG_COLUMNS)}
    store.write_tag_night(
        engine, ORG, night, columns, repositories, repositories, started_at=datetime(2026, 11, 1)
    )


@pytest.fixture
def nights(sqlite_url: str) -> str:
    engine = store.open_engine(sqlite_url)
    old, recent = "2025-01-01T00:00:00Z", "2026-10-30T12:00:00.123456789Z"
    write(
        engine,
        N1,
        [
            tag("web", "v1", "sha256:a", 100, old, old),
            tag("web", "latest", "sha256:b", 300, recent, old),
            tag("api", "v1", "sha256:c", 50, None, old),
        ],
        ["web", "api"],
    )
    write(
        engine, N2, [tag("web", "latest", "sha256:b", 300, recent, old)], ["web"]
    )  # web/v1 deleted, api gone
    engine.dispose()
    return sqlite_url


def test_stale_json_for_the_newest_and_an_earlier_night(app: Any, nights: str) -> None:
    newest = json.loads(
        invoke(
            app, "stale", "--org", ORG, "--days", "30", "--format", "json", "--database-url", nights
        ).stdout
    )
    assert newest == {
        "snapshot_date": "2026-11-03",
        "days": 30,
        "tags": [],
        "tags_total": 0,
        "tags_left_out": 0,
        "reclaimable_bytes": 0,
    }
    earlier = invoke(
        app,
        "stale",
        "--org",
        ORG,
        "--days",
        "30",
        "--date",
        "2026-11-01",
        "--format",
        "json",
        "--database-url",
        nights,
    )
    report = json.loads(earlier.stdout)
    assert [(t["repository"], t["tag"]) for t in report["tags"]] == [
        ("web", "v1"),
        ("api", "v1"),
    ]  # largest first
    assert report["reclaimable_bytes"] == 150 and report["snapshot_date"] == "2026-11-01"
    assert set(report["tags"][0]) == {
        "repository",
        "tag",
        "digest",
        "full_size",
        "tag_last_pulled",
        "tag_last_pushed",
    }


def test_a_night_between_tag_nights_takes_the_one_before_and_says_so(app: Any, nights: str) -> None:
    result = invoke(
        app, "storage", "--org", ORG, "--date", "2026-11-02", "--format", "json", "--database-url", nights
    )
    assert json.loads(result.stdout)["snapshot_date"] == "2026-11-01"
    assert "2026-11-02 has no tag inventory: the nearest night before it is 2026-11-01" in result.stderr


def test_storage_json_csv_table_and_plot(app: Any, nights: str, tmp_path: Path) -> None:
    report = json.loads(
        invoke(
            app, "storage", "--org", ORG, "--date", "2026-11-01", "--format", "json", "--database-url", nights
        ).stdout
    )
    assert report == {
        "snapshot_date": "2026-11-01",
        "total_bytes": 450,
        "repositories": [
            {"repository": "web", "bytes": 400, "tags": 2, "digests": 2},
            {"repository": "api", "bytes": 50, "tags": 1, "digests": 1},
        ],
        "repositories_total": 2,
        "repositories_left_out": 0,
    }
    csv_text = invoke(app, "storage", "--org", ORG, "--format", "csv", "--database-url", nights).stdout
    assert csv_text == "repository,bytes,tags,digests\nweb,300,1,1\n"
    table = invoke(app, "storage", "--org", ORG, "--database-url", nights, "--plot", str(tmp_path / "s.png"))
    assert table.exit_code == 0 and "web" in table.stdout and "total: 300 B (300 bytes)" in table.stderr
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_table_shows_the_largest_25_and_top_keeps_n_in_every_format(app: Any, sqlite_url: str) -> None:
    engine = store.open_engine(sqlite_url)
    old = "2025-01-01T00:00:00Z"
    rows = [tag(f"r{i:02d}", "v1", f"sha256:{i}", 1000 + i, None, old) for i in range(30)]
    write(engine, N1, rows, [row["repository"] for row in rows])
    engine.dispose()
    args = ("--org", ORG, "--database-url", sqlite_url)
    table = invoke(app, "stale", "--days", "30", *args)
    assert "r29" in table.stdout and "r05" in table.stdout and "r04" not in table.stdout  # largest first
    assert "showing the largest 25 stale tags of 30: use --top N" in table.stderr
    assert "reclaimable: 30.4 kB (30,435 bytes)" in table.stderr  # of all 30
    assert (
        len(json.loads(invoke(app, "stale", "--days", "30", "--format", "json", *args).stdout)["tags"]) == 30
    )
    kept = json.loads(invoke(app, "stale", "--days", "30", "--top", "2", "--format", "json", *args).stdout)
    assert [t["repository"] for t in kept["tags"]] == ["r29", "r28"] and kept["reclaimable_bytes"] == 30435
    storage = invoke(app, "storage", "--top", "3", "--format", "csv", *args).stdout.splitlines()
    assert storage == ["repository,bytes,tags,digests", "r29,1029,1,1", "r28,1028,1,1", "r27,1027,1,1"]
    assert "showing" not in invoke(app, "storage", "--top", "3", *args).stderr  # asked for: no note


def test_storage_kept_by_each_night_equals_the_inventory_computed_again(sqlite_url: str) -> None:
    """`storage` reads the totals each night's write kept (tag_storage); they must be what the night's
    inventory says, through changes, deletions, shared digests and a repository that goes."""
    from dockerhub_export import tag_queries

    engine = store.open_engine(sqlite_url)
    old = "2025-01-01T00:00:00Z"
    history = {
        N1: [tag("web", "v1", "sha256:a", 100, old, old), tag("web", "v2", "sha256:a", 100, None, old),
             tag("api", "v1", "sha256:c", 50, None, old), tag("db", "15", "sha256:d", 7, None, old)],
        date(2026, 11, 2): [tag("web", "v1", "sha256:a", 100, old, old),
                            tag("web", "v3", "sha256:e", 30, None, old),
                            tag("api", "v1", "sha256:c", 55, None, old)],
        N2: [tag("web", "v3", "sha256:e", 30, None, old), tag("api", "v2", "sha256:a", 100, None, old)],
    }  # fmt: skip
    for night, rows in history.items():
        write(engine, night, rows, sorted({row["repository"] for row in rows}))
    try:
        for night in history:
            inventory = store.tag_inventory(engine, ORG, night, tag_queries.INVENTORY)
            kept = tag_queries.storage_of(store.tag_storage_totals(engine, ORG, night), night)
            assert kept == tag_queries.storage(inventory, night)
        assert kept.total_bytes == 130
    finally:
        engine.dispose()


def test_no_tag_inventory_is_one_clear_error(app: Any, sqlite_url: str) -> None:
    store.open_engine(sqlite_url).dispose()
    result = invoke(app, "stale", "--org", ORG, "--days", "30", "--database-url", sqlite_url)
    assert isinstance(
        result.exception, ConfigError
    ) and "run `dockerhub-export run --org acme --tags` first" in str(result.exception)


def test_stale_and_storage_load_neither_pandas_nor_prefect(nights: str) -> None:
    code = (
        "import sys, typer\n"
        "from dockerhub_export.cli.tags import register\n"
        "app = typer.Typer()\n"
        "register(app)\n"
        "for args in (['stale', '--days', '7'], ['storage', '--format', 'json']):\n"
        "    try:\n"
        f"        app(args + ['--org', 'acme', '--database-url', {nights!r}])\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code in (0, None), exit.code\n"
        "print('LOADED', [m for m in ('pandas', 'prefect', 'matplotlib', 'alembic') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "LOADED []"


def test_stale_days_must_be_at_least_1_as_for_trends(app: Any, nights: str) -> None:
    for command in ("stale", "trends"):
        result = invoke(app, command, "--org", ORG, "--days", "0", "--database-url", nights)
        assert result.exit_code == 2, (command, result.output)
        assert "Invalid value for '--days'" in result.output and "greater than or equal to 1" in result.output


def test_json_with_top_keeps_the_total_and_how_many_it_left_out(app: Any, sqlite_url: str) -> None:
    engine = store.open_engine(sqlite_url)
    old = "2025-01-01T00:00:00Z"
    rows = [tag(f"r{i:02d}", "v1", f"sha256:{i}", 1000 + i, None, old) for i in range(30)]
    write(engine, N1, rows, [row["repository"] for row in rows])
    engine.dispose()
    args = ("--top", "2", "--format", "json", "--org", ORG, "--database-url", sqlite_url)
    stale = json.loads(invoke(app, "stale", "--days", "30", *args).stdout)
    assert (len(stale["tags"]), stale["tags_total"], stale["tags_left_out"]) == (2, 30, 28)
    storage = json.loads(invoke(app, "storage", *args).stdout)
    assert (
        len(storage["repositories"]),
        storage["repositories_total"],
        storage["repositories_left_out"],
    ) == (
        2,
        30,
        28,
    )


def test_one_tag_one_day_one_byte_are_singular(app: Any, sqlite_url: str) -> None:
    engine = store.open_engine(sqlite_url)
    write(engine, N1, [tag("web", "v1", "sha256:a", 1, None, "2025-01-01T00:00:00Z")], ["web"])
    engine.dispose()
    args = ("--org", ORG, "--database-url", sqlite_url)
    stale = invoke(app, "stale", "--days", "1", *args)
    assert (
        stale.stdout.splitlines()[0].rstrip()
        == "acme: 1 tag without a pull or push for 1 day (night of 2026-11-01)"
    )
    assert stale.stderr == "reclaimable: 1 B (1 byte)\n"
    storage = invoke(app, "storage", *args)
    assert storage.stdout.splitlines()[0].rstrip() == "acme: storage of 1 repository (night of 2026-11-01)"
    assert storage.stderr == "total: 1 B (1 byte)\n"


def test_stale_and_storage_tables_keep_long_names_whole_outside_a_terminal(app: Any, sqlite_url: str) -> None:
    """CliRunner's stdout is not a terminal, as in `stale ... > file`: no name is cut with "…"."""
    repository = "x000137.web_ui-frontend-for-the-payments-team-in-europe-west-and-north-america"
    name = "2026-11-01T09-15-00-build-4711-linux-amd64-with-debug-symbols"
    engine = store.open_engine(sqlite_url)
    write(
        engine,
        N1,
        [tag(repository, name, "sha256:a", 5, None, "2025-01-01T00:00:00.123456789Z")],
        [repository],
    )
    engine.dispose()
    args = ("--org", ORG, "--database-url", sqlite_url)
    stale = invoke(app, "stale", "--days", "30", *args).stdout
    row = next(line for line in stale.splitlines() if repository in line)
    assert name in row and "2025-01-01T00:00:00.123456789Z" in row and "…" not in stale
    assert repository in invoke(app, "storage", *args).stdout
