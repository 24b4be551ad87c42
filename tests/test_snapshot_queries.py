"""reports: one repository's history, trends between two days, the plot, the artifacts' helpers."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from dbs import ORG, frame, repo

from dockerhub_export import snapshot_queries, store
from dockerhub_export.errors import ConfigError, StoreError
from dockerhub_export.timestamps import format_timestamp

JAN1, JAN2, JAN5, JAN9 = date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 5), date(2025, 1, 9)


def seed(engine: sa.Engine) -> None:
    """Four snapshot days with every kind of change between the first and the last."""
    store.upsert_snapshot(
        engine,
        ORG,
        JAN1,
        frame(
            repo("web", pulls=100, stars=5, private=False, last_updated="2024-12-31T23:00:00Z"),
            repo("api", pulls=50, stars=1, private=True),
            repo("db", pulls=1000, stars=9),  # pulls fall: an anomaly
            repo("flip", pulls=10, private=True),  # goes public
            repo("gone", pulls=7),  # removed
            repo("mystery", pulls=None, stars=None),  # unknown count
        ),
    )
    store.upsert_snapshot(
        engine,
        ORG,
        JAN2,
        frame(
            repo("web", pulls=150, stars=6, last_updated="2025-01-02T08:30:00.5Z"),
            repo("api", pulls=60, stars=1, private=True),
            repo("db", pulls=1000, stars=9),
            repo("flip", pulls=10, private=True),
            repo("gone", pulls=7),
            repo("mystery", pulls=None, stars=None),
        ),
    )
    store.upsert_snapshot(
        engine,
        ORG,
        JAN5,
        frame(
            repo("web", pulls=400, stars=4),
            repo("api", pulls=65, stars=2, private=True),
            repo("db", pulls=900, stars=9),
            repo("flip", pulls=12, private=False),
            repo("new", pulls=30, stars=1),  # added
            repo("mystery", pulls=5, stars=None),
        ),
    )
    store.upsert_snapshot(engine, "other", JAN9, frame(repo("web", pulls=10**9), org="other"))


def test_history_lists_one_row_per_snapshot_by_date(engine: sa.Engine) -> None:
    seed(engine)
    rows = snapshot_queries.history(engine, ORG, "web")
    assert [row["snapshot_date"] for row in rows] == [JAN1, JAN2, JAN5]
    assert [(row["pull_count"], row["star_count"], row["is_private"]) for row in rows] == [
        (100, 5, False),
        (150, 6, False),
        (400, 4, False),
    ]
    assert rows[1]["last_updated"] == datetime(2025, 1, 2, 8, 30, 0, 500000, tzinfo=UTC)
    assert format_timestamp(rows[1]["last_updated"]) == "2025-01-02T08:30:00.5Z"
    assert list(rows[0])[:5] == ["snapshot_date", "pull_count", "star_count", "is_private", "last_updated"]
    assert set(rows[0]) == set(snapshot_queries.HISTORY_COLUMNS)


def test_history_window_and_unknown_repository(engine: sa.Engine) -> None:
    seed(engine)
    assert [row["snapshot_date"] for row in snapshot_queries.history(engine, ORG, "web", since=JAN2)] == [
        JAN2,
        JAN5,
    ]
    assert [row["snapshot_date"] for row in snapshot_queries.history(engine, ORG, "web", until=JAN2)] == [
        JAN1,
        JAN2,
    ]
    assert snapshot_queries.history(engine, ORG, "nope") == []
    assert snapshot_queries.repository_span(engine, ORG, "gone") == (JAN1, JAN2)
    with pytest.raises(ConfigError, match="after"):
        snapshot_queries.history(engine, ORG, "web", since=JAN5, until=JAN1)


EXPECTED_TRENDS = {
    "org": "acme",
    "from": "2025-01-01",
    "to": "2025-01-05",
    "repositories": [
        {
            "name": "web",
            "pulls_start": 100,
            "pulls_end": 400,
            "pulls_delta": 300,
            "stars_start": 5,
            "stars_end": 4,
            "stars_delta": -1,
            "is_private": False,
        },
        {
            "name": "api",
            "pulls_start": 50,
            "pulls_end": 65,
            "pulls_delta": 15,
            "stars_start": 1,
            "stars_end": 2,
            "stars_delta": 1,
            "is_private": True,
        },
        {
            "name": "flip",
            "pulls_start": 10,
            "pulls_end": 12,
            "pulls_delta": 2,
            "stars_start": 0,
            "stars_end": 0,
            "stars_delta": 0,
            "is_private": False,
        },
        {
            "name": "db",
            "pulls_start": 1000,
            "pulls_end": 900,
            "pulls_delta": None,
            "stars_start": 9,
            "stars_end": 9,
            "stars_delta": 0,
            "is_private": False,
        },
        {
            "name": "gone",
            "pulls_start": 7,
            "pulls_end": None,
            "pulls_delta": None,
            "stars_start": 0,
            "stars_end": None,
            "stars_delta": None,
            "is_private": False,
        },
        {
            "name": "mystery",
            "pulls_start": None,
            "pulls_end": 5,
            "pulls_delta": None,
            "stars_start": None,
            "stars_end": None,
            "stars_delta": None,
            "is_private": False,
        },
        {
            "name": "new",
            "pulls_start": None,
            "pulls_end": 30,
            "pulls_delta": None,
            "stars_start": None,
            "stars_end": 1,
            "stars_delta": None,
            "is_private": False,
        },
    ],
    "added": [{"name": "new"}],  # no audit event explains them: no "by", no "at"
    "removed": [{"name": "gone"}],
    "visibility_changed": [{"name": "flip", "from": "private", "to": "public"}],
    "anomalies": [
        {
            "name": "db",
            "kind": "pulls_decreased",
            "detail": "pull count fell from 1000 on 2025-01-01 to 900 on 2025-01-05",
        },
        {"name": "mystery", "kind": "pulls_unknown", "detail": "pull count unknown on 2025-01-01"},
    ],
}


def test_trends_report_growth_additions_removals_visibility_and_anomalies(engine: sa.Engine) -> None:
    seed(engine)
    report = snapshot_queries.trends(engine, ORG)
    assert report.to_json_dict() == EXPECTED_TRENDS
    assert (report.from_date, report.to_date, report.total) == (JAN1, JAN5, 7)


def test_trends_window_ends_snap_to_the_nearest_snapshots_inside_it(sqlite_engine: sa.Engine) -> None:
    seed(sqlite_engine)
    report = snapshot_queries.trends(sqlite_engine, ORG, since=date(2024, 12, 1), until=date(2025, 1, 4))
    assert (report.from_date, report.to_date) == (JAN1, JAN2)
    assert (report.requested_since, report.requested_until) == (date(2024, 12, 1), date(2025, 1, 4))
    assert report.repositories[0] == {
        "name": "web",
        "pulls_start": 100,
        "pulls_end": 150,
        "pulls_delta": 50,
        "stars_start": 5,
        "stars_end": 6,
        "stars_delta": 1,
        "is_private": False,
    }
    assert report.added == report.removed == report.visibility_changed == []


def test_trends_days_counts_back_from_the_latest_snapshot_or_on_from_since(sqlite_engine: sa.Engine) -> None:
    seed(sqlite_engine)
    last_three = snapshot_queries.trends(sqlite_engine, ORG, days=3)  # JAN2 .. JAN5
    assert (last_three.from_date, last_three.to_date) == (JAN2, JAN5)
    first_day = snapshot_queries.trends(sqlite_engine, ORG, since=JAN1, days=1)  # JAN1 .. JAN2
    assert (first_day.from_date, first_day.to_date) == (JAN1, JAN2)


def test_trends_rejects_until_with_days_and_windows_without_snapshots(sqlite_engine: sa.Engine) -> None:
    seed(sqlite_engine)
    with pytest.raises(ConfigError, match="--until and --days"):
        snapshot_queries.trends(sqlite_engine, ORG, until=JAN5, days=3)
    with pytest.raises(
        ConfigError,
        match="no snapshots of acme between 2025-01-03 and 2025-01-04: they span 2025-01-01 to 2025-01-05",
    ):
        snapshot_queries.trends(sqlite_engine, ORG, since=date(2025, 1, 3), until=date(2025, 1, 4))
    with pytest.raises(StoreError, match="no snapshots of nobody"):
        snapshot_queries.trends(sqlite_engine, "nobody")
    with pytest.raises(ConfigError, match="--top"):
        snapshot_queries.trends(sqlite_engine, ORG, top=0)


def test_trends_top_keeps_the_largest_movers_but_reports_every_change(sqlite_engine: sa.Engine) -> None:
    seed(sqlite_engine)
    report = snapshot_queries.trends(sqlite_engine, ORG, top=2)
    assert [row["name"] for row in report.repositories] == ["web", "api"]
    assert (
        report.added == [{"name": "new"}]
        and report.removed == [{"name": "gone"}]
        and len(report.anomalies) == 2
    )
    assert report.total == 7


def test_top_movers_and_pull_anomalies(engine: sa.Engine) -> None:
    seed(engine)
    movers = snapshot_queries.top_movers(engine, ORG, JAN5, n=2)
    assert [(row["name"], row["pulls_delta"]) for row in movers] == [("web", 250), ("api", 5)]
    assert snapshot_queries.top_movers(engine, ORG, JAN1) == []  # no earlier snapshot
    assert snapshot_queries.snapshot_dates(engine, ORG) == [JAN1, JAN2, JAN5]
    # The database finds the same anomalies trends does, with their counts.
    found = snapshot_queries.pull_anomalies(engine, ORG, JAN2, JAN5)
    assert found
    expected = snapshot_queries.trends(engine, ORG, since=JAN2, until=JAN5).anomalies
    assert [(item["name"], item["kind"]) for item in found] == [(a["name"], a["kind"]) for a in expected]
    assert all(item["kind"] == "pulls_unknown" or item["pulls_end"] < item["pulls_start"] for item in found)


def test_top_movers_in_sql_equal_the_top_of_the_full_comparison(engine: sa.Engine) -> None:
    """The nightly top-N query (LIMIT in SQL) picks exactly what trends' full comparison ranks first:
    growth only, ties broken by name, falls, unknown counts, added and removed repositories left out."""
    day1 = [repo(f"r{i:03d}", pulls=(i * 37) % 101, stars=i % 5) for i in range(120)]
    day2 = [
        repo(f"r{i:03d}", pulls=None if i % 17 == 0 else (i * 37) % 101 + (i * 7) % 13 - 3, stars=i % 7)
        for i in range(5, 125)  # r000-r004 removed, r120-r124 added
    ]
    store.upsert_snapshot(engine, ORG, JAN1, frame(*day1))
    store.upsert_snapshot(engine, ORG, JAN2, frame(*day2))
    full = [row for row in snapshot_queries.trends(engine, ORG).repositories if (row["pulls_delta"] or 0) > 0]
    assert len(full) > 30 and len({row["pulls_delta"] for row in full}) < len(full)  # ties happen
    for n in (1, 10, 30, 500):
        assert snapshot_queries.top_movers(engine, ORG, JAN2, n=n) == full[:n]


def test_plot_trends_writes_a_png(sqlite_engine: sa.Engine, tmp_path: Path) -> None:
    seed(sqlite_engine)
    report = snapshot_queries.trends(sqlite_engine, ORG)
    path = snapshot_queries.plot_trends(sqlite_engine, report, tmp_path / "plots" / "trends.png", top=3)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    # nothing to plot still gives a readable image
    flat = snapshot_queries.TrendReport(
        org=ORG, from_date=JAN2, to_date=JAN5, requested_since=None, requested_until=None
    )
    assert snapshot_queries.plot_trends(sqlite_engine, flat, tmp_path / "flat.png").stat().st_size > 1_000


def test_queries_seek_primary_key_ranges_never_scan_the_table(sqlite_engine: sa.Engine) -> None:
    """SQLite's plans: history seeks (namespace, day, name) once per snapshot day; trends seeks two days."""
    seed(sqlite_engine)
    statements: list[tuple[str, object]] = []
    sa.event.listen(
        sqlite_engine, "before_cursor_execute", lambda *args: statements.append((args[2], args[3]))
    )
    snapshot_queries.history(sqlite_engine, ORG, "web")
    snapshot_queries.trends(sqlite_engine, ORG)
    history = next(item for item in statements if "JOIN repository_snapshots" in item[0])
    trends = next(item for item in statements if "UNION ALL" in item[0])
    key = "USING INDEX sqlite_autoindex_repository_snapshots_1"
    for (sql, params), seek in (
        (history, f"SEARCH repository_snapshots {key} (namespace=? AND snapshot_date=? AND name=?)"),
        (trends, f"SEARCH e {key} (namespace=? AND snapshot_date=?)"),
    ):
        with sqlite_engine.connect() as connection:
            plan = [str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
        assert seek in plan, plan
        assert [step for step in plan if step.startswith("SCAN") and step != "SCAN both_days"] == [], plan
