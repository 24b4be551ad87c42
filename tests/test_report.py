"""report: one night of an org as a self-contained HTML page. Nights exported by the real pipeline from
the fake Hub; the report's model must say what `trends`, `storage`, `stale` and the access commands say
for the same night, its page must escape hostile text and name no email, and a night without tags or
access must say what it lacks."""

import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from reportnights import (
    HOSTILE,
    HOSTILE_NAME,
    OAT,
    ORG,
    STALE_DAYS,
    Nights,
    cli_json,
    expected_figures,
    export_nights,
    privileged_users,
)

from dockerhub_export import report, store
from dockerhub_export.errors import ConfigError, StoreError

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Nights:
    """Three nights with tags and access, on SQLite."""
    folder = tmp_path_factory.mktemp("report")
    return export_nights(folder / "exports", f"sqlite:///{folder / 'snapshots.db'}", 3)


def _build(nights: Nights, **kwargs: object) -> report.Report:
    engine = store.open_engine(nights.database_url, create=False)
    try:
        return report.build(engine, ORG, now=NOW, **kwargs)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_the_model_says_what_trends_storage_stale_and_access_say_on_every_backend(
    db_url: str, tmp_path: Path
) -> None:
    nights = export_nights(tmp_path / "exports", db_url, 3)
    built = _build(nights)
    night = nights.nights[-1]
    assert (built.night, built.compared_with) == (night, nights.nights[0])
    figures = {figure.key: (figure.value, figure.before) for figure in built.figures}
    assert figures == expected_figures(nights, night)
    trend = cli_json(nights, "trends", "--since", nights.nights[0].isoformat())
    assert built.changes is not None
    for kind, items in (("added", built.changes.added), ("removed", built.changes.removed)):
        assert [(i.name, i.by, i.at) for i in items] == [
            (item["name"], item.get("by"), item.get("at")) for item in trend[kind]
        ]
    assert [(i.name, i.before, i.after, i.by) for i in built.changes.flipped] == [
        (item["name"], item["from"], item["to"], item.get("by")) for item in trend["visibility_changed"]
    ]
    assert built.changes.added and built.changes.removed and all(i.by for i in built.changes.added)
    storage = cli_json(nights, "storage", "--date", night.isoformat())
    stale = cli_json(nights, "stale", "--days", str(STALE_DAYS), "--date", night.isoformat())
    assert built.storage is not None
    assert [(r.name, r.bytes, r.tags) for r in built.storage.largest] == [
        (row["repository"], row["bytes"], row["tags"]) for row in storage["repositories"][:10]
    ]
    assert [(t.repository, t.tag, t.bytes) for t in built.storage.stale] == [
        (row["repository"], row["tag"], row["full_size"]) for row in stale["tags"][:20]
    ]
    assert (built.storage.stale_total, built.storage.reclaimable_bytes) == (
        stale["tags_total"],
        stale["reclaimable_bytes"],
    )
    assert built.access is not None and built.access.privileged is not None
    assert {u.username: (u.admin, u.write) for u in built.access.privileged} == privileged_users(
        nights, night
    )
    changes = cli_json(nights, "access-changes", "--since", nights.nights[0].isoformat())["changes"]
    assert built.access.changes is not None  # the newest of them, and how many more
    shown = Counter(tuple(c.as_dict().items()) for c in built.access.changes)
    assert not shown - Counter(tuple(c.items()) for c in changes)
    assert len(built.access.changes) + built.access.changes_left_out == len(changes)
    flagged = cli_json(nights, "tokens", "--date", night.isoformat())["tokens"]
    looked_at = {
        t["label"] for t in flagged if {"expired", "expires_soon", "never_expires"} & set(t["flags"])
    }
    assert built.access.tokens is not None and {t.label for t in built.access.tokens} == looked_at


def test_hostile_descriptions_and_full_names_come_out_as_text_and_no_email_is_on_the_page(
    three: Nights,
) -> None:
    page = report.render(_build(three))
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()  # none of ours either: the page runs nothing
    assert HOSTILE_NAME not in page and "onerror" not in page  # full names are not shown at all
    assert three.emails and not [email for email in three.emails if email in page]


def test_the_page_is_self_contained_and_every_chart_has_a_text_alternative(three: Nights) -> None:
    page = report.render(_build(three))
    assert not re.search(r"""(src|srcset)\s*=|<link\b|@import|url\(\s*['"]?(https?:)?//""", page, re.I)
    assert "default-src 'none'" in page  # the browser refuses any fetch the page would make
    links = set(re.findall(r'href="([^"#][^"]*)"', page))
    assert links and all(link.startswith(f"https://hub.docker.com/r/{ORG}/") for link in links)
    charts = re.findall(r'<div class="svg (?:wide|narrow)" role="img" aria-label="([^"]*)"><svg', page)
    assert len(charts) == 6 and all(len(alt) > 30 for alt in charts)  # pulls, movers, storage; twice


def test_the_page_names_each_repository_added_and_removed_and_the_reclaimable_bytes(three: Nights) -> None:
    built = _build(three)
    page = report.render(built)
    assert built.changes is not None and built.storage is not None
    for item in (*built.changes.added, *built.changes.removed):
        assert f'data-repository="{item.name}"' in page
    assert f'data-bytes="{built.storage.reclaimable_bytes}"' in page
    assert f"{built.storage.reclaimable_bytes:,} bytes" in page
    assert f'data-key="repositories" data-value="{built.figure("repositories").value}"' in page


def test_a_night_without_tags_or_access_still_gives_a_report_that_says_what_is_missing(
    tmp_path: Path,
) -> None:
    nights = export_nights(
        tmp_path / "exports", f"sqlite:///{tmp_path / 'db.sqlite'}", 2, tags=False, access=False
    )
    built = _build(nights)
    assert built.storage is None and built.access is None and built.pulls is not None
    assert {gap.section for gap in built.gaps if gap.missing} == {"storage", "access"}
    assert all(built.figure(key).value is None for key in ("tags", "storage", "reclaimable", "members"))
    page = report.render(built)
    assert "no tag inventory on or before" in page and "no access data on or before" in page
    assert page.count("no data</span>") == 4


def test_a_night_exported_without_tags_or_access_shows_the_nights_before_and_says_so(tmp_path: Path) -> None:
    nights = export_nights(tmp_path / "exports", f"sqlite:///{tmp_path / 'db.sqlite'}", 3, last_without=True)
    built = _build(nights)
    before = nights.nights[1]
    assert built.night == nights.nights[2] and built.storage is not None and built.access is not None
    assert (built.storage.night, built.access.night) == (before, before)
    older = {gap.section: gap.reason for gap in built.gaps if not gap.missing}
    assert set(older) == {"storage", "access"} and all(
        before.isoformat() in reason for reason in older.values()
    )
    assert built.figure("tags").note == f"from the tag night of {before.isoformat()}"
    assert f"access is from the access night of {before.isoformat()}" in report.render(built)


def test_a_listing_the_token_could_not_read_is_named_with_what_the_token_lacks(tmp_path: Path) -> None:
    nights = export_nights(tmp_path / "exports", f"sqlite:///{tmp_path / 'db.sqlite'}", 2, token=OAT)
    built = _build(nights)
    assert built.access is not None and built.access.tokens is None and built.access.roles is not None
    [gap] = [gap for gap in built.gaps if gap.section == "access"]
    assert "no token data" in gap.reason and "owner's personal access token" in gap.reason
    assert "The night has no token data." in report.render(built)


def test_a_first_night_has_nothing_to_compare_and_says_so(tmp_path: Path) -> None:
    nights = export_nights(tmp_path / "exports", f"sqlite:///{tmp_path / 'db.sqlite'}", 1)
    built = _build(nights)
    assert built.compared_with is None and built.pulls is None and built.changes is None
    assert all(figure.change is None for figure in built.figures) and built.storage is not None
    assert "no earlier night in the 30 days before it to compare with" in report.render(built)


def test_an_earlier_date_and_a_shorter_window_compare_the_nights_inside_it(three: Nights) -> None:
    built = _build(three, night=three.nights[1], days=1)
    assert (built.night, built.compared_with) == (three.nights[1], three.nights[0])
    assert built.storage is not None and built.storage.night == three.nights[1]
    with pytest.raises(
        ConfigError, match=r"no snapshot of acme on 2026-12-30: its snapshots span .* nearest"
    ):
        _build(three, night=datetime(2026, 12, 30).date())


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dockerhub_export", "report", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_writes_the_default_path_prints_it_and_bad_input_is_one_line(three: Nights) -> None:
    done = _cli(*three.args())
    path = three.export_dir / ORG / f"report-{three.nights[-1].isoformat()}.html"
    assert done.returncode == 0 and done.stdout == f"{path}\n"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    for args, message in (
        (("--org", "nobody"), "no snapshots of nobody in"),
        (("--date", "2026-01-01"), "no snapshot of acme on 2026-01-01"),
        (("--date", "yesterday"), "invalid --date 'yesterday'"),
    ):
        failed = _cli(*three.args(), *args)
        assert failed.returncode == 1 and failed.stdout == ""
        assert failed.stderr.startswith(f"error: {message}") and failed.stderr.count("\n") == 1, failed.stderr
    written = _cli(*three.args(), "-o", str(three.export_dir / "out" / "r.html"))
    assert written.stdout.strip() == str(three.export_dir / "out" / "r.html")


def test_an_org_with_no_snapshots_is_a_store_error(three: Nights) -> None:
    engine = store.open_engine(three.database_url, create=False)
    try:
        with pytest.raises(StoreError, match="no snapshots of nobody"):
            report.build(engine, "nobody")
    finally:
        engine.dispose()
