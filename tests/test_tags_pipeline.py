"""The tag inventory, night after night, in-process against the fake Hub: each night's tags CSV equals that
night's truth, incremental nights list only the repositories with a reason, and a night's tags are all
or nothing."""

import csv
import io
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import ORG, PUBLIC_TOKEN, TOKEN
from fakehub import FakeHub, make_repos, make_tags
from hubdata import digest_of

from dockerhub_export.errors import HubUnavailable
from dockerhub_export.pipeline import TOP_STALE, RunOptions, export
from dockerhub_export.results import RunResult

N1, N2, N3, N4 = date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 28), date(2026, 11, 29)
FIELDS = ("repository", "tag", "digest", "full_size", "tag_status", "tag_last_pulled", "tag_last_pushed")


@pytest.fixture
def tagged() -> Any:
    repos = make_repos(ORG, 24, seed=3)
    hub = FakeHub(repos={ORG: repos}, credentials={TOKEN: (ORG, "all"), PUBLIC_TOKEN: (ORG, "public")})
    for i, repo in enumerate(repos):
        hub.tags[(ORG, repo["name"])] = make_tags(ORG, repo["name"], (0, 2, 5, 130)[i % 4])
    with hub:
        yield hub


def truth(hub: FakeHub, *, private: bool = True) -> set[tuple[Any, ...]]:
    rows = set()
    for repo in hub.repos[ORG]:
        if repo.get("is_private") and not private:
            continue
        for tag in hub.tags.get((ORG, repo["name"]), []):
            rows.add(
                (
                    repo["name"],
                    tag["name"],
                    tag["digest"],
                    str(tag["full_size"]),
                    tag["tag_status"],
                    tag["tag_last_pulled"] or "",
                    tag["tag_last_pushed"] or "",
                )
            )
    return rows


def csv_rows(path: str) -> set[tuple[Any, ...]]:
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    return {tuple(row[name] for name in FIELDS) for row in rows}


def tag_requests(hub: FakeHub) -> set[str]:
    return {r.path.split("/")[5] for r in hub.requests if r.path.endswith("/tags")}


def night(hub: FakeHub, settings: Any, day: date, **options: Any) -> RunResult:
    hub.reset_stats()
    return export(settings, RunOptions(day, include_tags=True, **options))


def test_each_night_equals_the_truth_and_lists_only_what_had_a_reason(tagged: FakeHub, settings_for) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(tagged)
    first = night(tagged, settings, N1)
    assert first.tags is not None and first.csv_paths == (first.csv_path, first.tags.csv_path)
    assert first.tags.csv_path == Path(settings.export_dir) / ORG / "tags-2026-11-26.csv"
    assert csv_rows(first.tags.csv_path) == truth(tagged)
    assert first.tags.reasons == {"first tag night": 24} and len(tag_requests(tagged)) == 24

    names = [repo["name"] for repo in tagged.repos[ORG]]
    pushed, deleted, pulled, new, gone = names[1], names[2], names[3], "zz-new", names[5]
    tagged.push_tag(ORG, pushed, "v2", digest=digest_of("v2"), size=123, when=time.time())
    tagged.delete_tag(ORG, deleted, "latest", when=time.time())  # only the audit log tells
    tagged.pull(ORG, pulled, "latest", when=time.time(), count=5)
    tagged.create_repo(ORG, dict(tagged.repos[ORG][0], name=new), when=time.time())
    tagged.tags[(ORG, new)] = make_tags(ORG, new, 3)
    tagged.delete_repo(ORG, gone, when=time.time())

    second = night(tagged, settings, N2)
    assert csv_rows(second.tags.csv_path) == truth(tagged)
    assert tag_requests(tagged) == {pushed, deleted, pulled, new}  # the rest carried forward
    assert second.tags.reasons == {"changed": 2, "audit log": 1, "new": 1}
    assert second.tags.previous_night == N1

    quiet = night(tagged, settings, N3)  # nothing happened: no tag listed, the CSV still complete
    assert tag_requests(tagged) == set() and csv_rows(quiet.tags.csv_path) == truth(tagged)
    assert quiet.tags.bytes == second.tags.bytes == quiet.tags.previous_bytes
    # the summary counts every stale tag, and its table holds the largest TOP_STALE of them
    threshold = (N3 - timedelta(days=quiet.tags.stale_days)).isoformat()
    stale = sorted(
        (row for row in truth(tagged) if max(row[5], row[6]) < threshold),
        key=lambda row: (-int(row[3]), row[0], row[1]),
    )
    assert quiet.tags.stale_tags == len(stale) > TOP_STALE == len(quiet.tags.largest_stale)
    assert [(t["repository"], t["tag"]) for t in quiet.tags.largest_stale] == [
        r[:2] for r in stale[:TOP_STALE]
    ]


def test_without_the_audit_log_a_deleted_tag_waits_for_the_refresh(tagged: FakeHub, settings_for) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(tagged)
    night(tagged, settings, N1)
    tagged.faults.audit_status = 403  # a plan without audit logs
    victim = tagged.repos[ORG][2]["name"]
    tagged.delete_tag(ORG, victim, "latest", when=time.time())
    missed = night(tagged, settings, N2)
    assert any("audit log cannot be read" in warning for warning in missed.warnings)
    assert csv_rows(missed.tags.csv_path) - truth(tagged) == {
        row for row in csv_rows(missed.tags.csv_path) if row[0] == victim and row[1] == "latest"
    }  # only the deleted tag lingers
    full = night(tagged, settings, N3, tags_refresh_days=0)  # a full refresh is exact
    assert len(tag_requests(tagged)) == 24 and csv_rows(full.tags.csv_path) == truth(tagged)
    refreshed = night(
        tagged, settings, N4, tags_refresh_days=1
    )  # every repository's last listing is a night old
    assert len(tag_requests(tagged)) == 24 and refreshed.tags.reasons == {"not listed for 1+ nights": 24}


def test_a_public_only_token_inventories_the_public_repositories(tagged: FakeHub, settings_for) -> None:  # type: ignore[no-untyped-def]
    result = night(tagged, settings_for(tagged, token=PUBLIC_TOKEN), N1)
    assert csv_rows(result.tags.csv_path) == truth(tagged, private=False)


def test_a_failing_tag_stage_fails_the_night_but_keeps_its_repositories(
    tagged: FakeHub, settings_for
) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(tagged, max_attempts=2)
    first = night(tagged, settings, N1)
    tagged.push_tag(ORG, tagged.repos[ORG][3]["name"], "v9", digest=digest_of("v9"), size=1, when=time.time())
    tagged.faults.fail_tags = {tagged.repos[ORG][3]["name"]: [503] * 10}
    with pytest.raises(HubUnavailable):
        night(tagged, settings, N2)
    out = Path(settings.export_dir) / ORG
    assert (out / "repos-2026-11-27.csv").is_file() and not (out / "tags-2026-11-27.csv").exists()
    import sqlalchemy as sa

    from dockerhub_export import store

    engine = store.open_engine(store.database_url(settings))
    try:
        assert [n.snapshot_date for n in store.tag_night_list(engine, ORG)] == [N1]
        with engine.connect() as connection:
            runs = connection.execute(sa.select(store.export_runs.c.status)).scalars().all()
            days = connection.execute(sa.select(store.snapshots.c.snapshot_date)).scalars().all()
    finally:
        engine.dispose()
    assert runs == ["success", "failed"] and sorted(days) == [N1, N2]  # the repositories of N2 are stored
    assert csv_rows(first.tags.csv_path) and len(store.TAG_COLUMNS) > 0


def test_no_database_lists_every_repositorys_tags(tagged: FakeHub, settings_for) -> None:  # type: ignore[no-untyped-def]
    result = night(tagged, settings_for(tagged), N1, write_snapshots=False)
    assert csv_rows(result.tags.csv_path) == truth(tagged) and len(tag_requests(tagged)) == 24


def test_a_budget_below_the_concurrency_is_carried_from_stage_to_stage_without_a_429(
    tagged: FakeHub, settings_for
) -> None:  # type: ignore[no-untyped-def]
    """4 requests a 0.25 s window, 8 in flight allowed: the repositories, the audit log and the tags each
    have a client of their own, and each goes on with the budget the one before spent."""
    tagged.faults.quota, tagged.faults.quota_window = 4, 0.25
    settings = settings_for(tagged, concurrency=8)
    result = night(tagged, settings, N1)
    assert csv_rows(result.tags.csv_path) == truth(tagged)
    assert tagged.quota_rejections == 0


def test_the_summary_counts_every_429_of_the_run_repositories_audit_log_and_tags(
    tagged: FakeHub, settings_for
) -> None:  # type: ignore[no-untyped-def]
    """The summary's retries, 429s and waits are the whole run's, not only the repositories' listing."""
    tagged.faults.retry_after = 0.05
    tagged.faults.fail_pages = {1: [429]}  # the first listing's first page: the repositories'
    tagged.faults.rate_limit_every = 3  # and then every third list request, whichever client sends it
    result = night(tagged, settings_for(tagged), N1)
    limited = [r.path for r in tagged.requests if r.status == 429]
    kinds = {
        "tags" if path.endswith("/tags") else "audit" if "auditlogs" in path else "repos" for path in limited
    }
    assert kinds == {"repos", "audit", "tags"}, limited  # each client of the run met some
    assert result.rate_limited == result.retries == len(limited) and result.waited_seconds > 0
    assert result.tags is not None and csv_rows(result.tags.csv_path) == truth(tagged)
