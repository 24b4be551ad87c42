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
    assert newest == {"snapshot_date": "2026-11-03", "days": 30, "tags": [], "reclaimable_bytes": 0}
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
    from dockerhub_export import tag_reports

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
            inventory = store.tag_inventory(engine, ORG, night, tag_reports.INVENTORY)
            kept = tag_reports.storage_of(store.tag_storage_totals(engine, ORG, night), night)
            assert kept == tag_reports.storage(inventory, night)
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
        "from dockerhub_export.tags_cli import register\n"
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
