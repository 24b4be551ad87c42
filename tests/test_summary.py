"""What the UI shows, as plain data: artifact keys, JSON-safe tables, the markdown summaries of a run's
typed result."""

import json
import math
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dockerhub_export.flows import summary
from dockerhub_export.results import Anomaly, Mover, RunResult, SnapshotChanges, StaleTag, TagResult


@pytest.mark.parametrize(
    ("org", "what", "key"),
    [
        ("acme", "summary", "dockerhub-export-acme-summary"),
        ("my.org_x", "top-movers", "dockerhub-export-my-org-x-top-movers"),
        ("many-orgs", "summary", "dockerhub-export-many-orgs-summary"),
        (None, "summary", "dockerhub-export-summary"),
    ],
)
def test_artifact_keys_are_lowercase_letters_digits_and_dashes(  # type: ignore[no-untyped-def]
    org, what, key
) -> None:
    assert summary.artifact_key(org, what) == key


def test_tables_are_json_serializable_whatever_pandas_hands_over() -> None:
    frame = pd.DataFrame(
        {
            "name": ["a", "b"],
            "pull_count": pd.array([5, None], dtype="Int64"),
            "growth": [1.5, math.nan],
            "since": [pd.Timestamp("2026-11-26T00:00:00Z"), pd.NaT],
        }
    )
    rows = summary.artifact_table(frame.to_dict("records"))
    assert json.loads(json.dumps(rows)) == [
        {"name": "a", "pull_count": 5, "growth": 1.5, "since": "2026-11-26T00:00:00+00:00"},
        {"name": "b", "pull_count": None, "growth": None, "since": None},
    ]
    assert summary.jsonable({"d": date(2026, 1, 2), "t": datetime(2026, 1, 2, 3, 4)}) == {
        "d": "2026-01-02",
        "t": "2026-01-02T03:04:00",
    }


NOV26, NOV27 = date(2026, 11, 26), date(2026, 11, 27)


def _result(**changes: Any) -> RunResult:
    result = RunResult(
        org="acme",
        snapshot_date=NOV27,
        csv_path=Path("/x/acme/repos-2026-11-27.csv"),
        repositories=250,
        private=83,
        api_count=250,
        warnings=(),
        snapshot=SnapshotChanges(NOV26, added=("new-1", "new-2")),
        top_movers=(),
        seconds=4.25,
        retries=2,
        rate_limited=1,
        waited_seconds=30.0,
    )
    return replace(result, **changes)


def test_summary_names_everything_the_issue_asks_for() -> None:
    movers = (
        Mover(
            name="web", pulls_start=1000, pulls_end=1200, pulls_delta=200, stars_start=1, stars_end=2,
            stars_delta=1, is_private=False,
        ),
        Mover(
            name="db|x", pulls_start=9, pulls_end=10, pulls_delta=1, stars_start=0, stars_end=0,
            stars_delta=0, is_private=True,
        ),
    )  # fmt: skip
    text = summary.summary_markdown(_result(warnings=("a | b",), top_movers=movers))
    for fragment in (
        "# acme: 2026-11-27",
        "250 (167 public, 83 private)",
        "Added since 2026-11-26 | 2: `new-1`, `new-2`",
        "Removed since 2026-11-26 | 0",
        "`/x/acme/repos-2026-11-27.csv`",
        "Duration | 4.2 s",
        "Retries | 2",
        "Rate-limit waits | 1 (30.0 s)",
        "Top movers (pull growth since 2026-11-26)",
        "| repository | pull growth | pulls before | pulls now | star change |",
        "| web | 200 | 1 k | 1.2 k | +1 |",
        "db\\|x",
        "- a \\| b",
    ):
        assert fragment in text, fragment


def test_organizations_keys_are_no_org_s_key() -> None:
    """Every org name is a valid Docker ID, "many-orgs" and "organizations" included: the multi-org
    history must stay apart from theirs."""
    for org in ("many-orgs", "organizations", "a", "x.y_z-9"):
        for what in ("summary", "table", "top-movers"):
            assert summary.organizations_key(what) != summary.artifact_key(org, what)
            assert summary.organizations_key("summary") != summary.artifact_key(org, what)
    assert summary.organizations_key("summary") == "dockerhub-export--organizations-summary"


def test_summary_of_a_first_snapshot_and_of_a_run_without_snapshots_says_why_nothing_is_compared() -> None:
    first = summary.summary_markdown(_result(snapshot=SnapshotChanges(None)))
    assert "| Since the previous snapshot | not compared: no earlier snapshot of this org |" in first
    assert "## Top movers\n\nNone: there is no earlier snapshot of this org to compare with." in first
    quiet = summary.summary_markdown(_result(snapshot=SnapshotChanges(NOV26)))
    assert (
        "## Top movers (pull growth since 2026-11-26)\n\nNone: no repository gained pulls since 2026-11-26."
        in quiet
    )
    off = summary.summary_markdown(_result(snapshot=None))
    assert "| Since the previous snapshot | not compared (snapshots are off for this run) |" in off
    assert "None: snapshots are off for this run, so there is no earlier night to compare with." in off
    for text in (first, quiet, off):
        assert "two snapshots" not in text and "None yet" not in text


def test_rows_of_another_shape_still_make_a_table() -> None:
    assert summary.markdown_table([{"a": 1}, {"b": None}]) == "| a | b |\n|---|---|\n| 1 |  |\n|  |  |"


def test_long_name_lists_are_cut() -> None:
    names = [f"r{i}" for i in range(45)]
    text = summary.summary_markdown(_result(snapshot=SnapshotChanges(NOV26, added=tuple(names))))
    assert "45: `r0`" in text and "... and 25 more" in text and "`r20`" not in text


def test_failure_and_many_orgs_summaries() -> None:
    text = summary.failure_markdown("acme", date(2026, 11, 27), "Docker Hub rejected | the token", 1.0)
    assert "**failed**" in text and "rejected \\| the token" in text and "2026-11-27" in text
    nothing: dict[str, Any] = dict(private=None, tags=None, csv_path=None, run=None)
    rows = [
        summary.OrgRow(org="beta", status="exported", repositories=3, reason=None, **nothing),
        summary.OrgRow(org="gamma", status="failed", repositories=None, reason="boom", **nothing),
    ]
    many = summary.organizations_markdown(rows)
    assert many.startswith("# 2 organizations: 1 exported, 1 failed")
    assert many.index("gamma") < many.index("beta")  # failures first


def _mover(name: str, start: int, end: int) -> Mover:
    return Mover(
        name=name, pulls_start=start, pulls_end=end, pulls_delta=end - start, stars_start=3, stars_end=1,
        stars_delta=-2, is_private=False,
    )  # fmt: skip


def test_summary_numbers_are_written_for_people() -> None:
    text = summary.summary_markdown(
        _result(
            repositories=12_345,
            private=2_345,
            api_count=12_400,
            top_movers=(_mover("web", 97_309_566, 97_809_566),),
        )
    )
    assert "| Repositories | 12.3 k (10 k public, 2.35 k private) |" in text
    assert "| Docker Hub's count | 12.4 k |" in text
    assert "| web | 500 k | 97.3 M | 97.8 M | -2 |" in text
    assert "97809566" not in text and "97309566" not in text


def _anomalies(fell: int, unknown: int = 0) -> tuple[Anomaly, ...]:
    """The night's anomalies as the pipeline carries them: name, kind and the pull counts where known."""
    items = [
        Anomaly(name=f"r{i:03}", kind="pulls_decreased", pulls_start=97_809_566, pulls_end=97_809_561)
        for i in range(fell)
    ]
    items += [
        Anomaly(name=f"u{i}", kind="pulls_unknown", pulls_start=None, pulls_end=5) for i in range(unknown)
    ]
    return tuple(items)


def test_summary_says_how_many_pull_counts_fell_and_which() -> None:
    text = summary.summary_markdown(_result(snapshot=SnapshotChanges(NOV26, anomalies=_anomalies(186, 2))))
    assert "| Pull count fell since 2026-11-26 | 186: `r000` (down 5 to 97.8 M), `r001` (down 5" in text
    assert "`r019` (down 5 to 97.8 M) ... and 166 more |" in text and "`r020`" not in text
    assert "| Pull count unknown | 2: `u0`, `u1` |" in text


def test_summary_of_a_normal_night_says_no_pull_count_fell() -> None:
    text = summary.summary_markdown(_result(snapshot=SnapshotChanges(NOV26, anomalies=())))
    assert "| Pull count fell since 2026-11-26 | 0 |" in text and "Pull count unknown" not in text


def test_summary_claims_nothing_about_anomalies_it_was_not_given() -> None:
    """A result without the anomalies (None: not computed) gets no row: a "0" would be a claim never
    checked."""
    text = summary.summary_markdown(_result())
    assert "Pull count" not in text


@pytest.mark.parametrize(
    ("snapshot", "movers", "expected"),
    [
        (None, 0, "acme 2026-11-27: no top movers: snapshots are off for this run"),
        (
            SnapshotChanges(None),
            0,
            "acme 2026-11-27: no top movers: there is no earlier snapshot of acme to compare with",
        ),
        (SnapshotChanges(NOV26), 0, "acme 2026-11-27: no repository gained pulls since 2026-11-26"),
        (
            SnapshotChanges(NOV26),
            1,
            "acme 2026-11-27: the 1 repository that gained pulls since 2026-11-26",
        ),
        (
            SnapshotChanges(NOV26),
            3,
            "acme 2026-11-27: the 3 repositories that gained pulls since 2026-11-26",
        ),
        (
            SnapshotChanges(date(2026, 11, 22)),
            10,
            "acme 2026-11-27: the 10 repositories with the largest pull growth since 2026-11-22",
        ),
    ],
)
def test_top_movers_description_is_true_of_the_night(snapshot, movers, expected) -> None:  # type: ignore[no-untyped-def]
    """Five snapshots stored, or one, or none: never "empty until there are two snapshots"."""
    rows = tuple(_mover(f"m{i}", 10, 20 + i) for i in range(movers))
    assert summary.movers_description(_result(snapshot=snapshot, top_movers=rows), 10) == expected


DIGEST = "sha256:" + "0123456789abcdef" * 4  # 71 characters, as the Hub gives them


def _tags(**changes: Any) -> TagResult:
    """A night's tags as `pipeline.export_tags` returns them."""
    stale = tuple(
        StaleTag(
            repository=f"service-{i}", tag=f"1.{i}.0", digest=DIGEST, full_size=999_369_523 - i,
            tag_last_pulled="2026-03-01T10:11:12.123456Z", tag_last_pushed="2025-12-24T08:00:00.5Z",
        )
        for i in range(20)
    )  # fmt: skip
    tags = TagResult(
        csv_path=Path("/x/acme/tags-2026-11-27.csv"),
        tags=4_120,
        repositories_listed=250,
        reasons={"first tag night": 250},
        gone=(),
        requests=260,
        previous_night=None,
        bytes=1_234_567_890_123,
        previous_bytes=None,
        stale_days=180,
        stale_tags=37,
        reclaimable_bytes=999_369_523,
        largest_stale=stale,
    )
    return replace(tags, **changes)


def test_first_tag_night_lists_every_repository_and_carries_none_forward() -> None:
    text = summary.summary_markdown(_result(tags=_tags()))
    assert "| Repositories listed tonight | 250 of 250 (250 first tag night) |" in text
    assert "carried forward" not in text
    assert "| Tags | 4.12 k |" in text and "| Storage (each digest once per repository) | 1.23 TB |" in text
    assert "| Reclaimable (digests only stale tags point at) | 999 MB |" in text


def test_a_later_tag_night_says_how_many_were_carried_forward() -> None:
    tags = _tags(
        repositories_listed=11,
        reasons={"changed": 5, "new": 7},
        gone=("deleted-mid-run",),
        previous_night=NOV26,
        previous_bytes=1_234_567_890_123 - 2_500_000,
    )
    text = summary.summary_markdown(_result(tags=tags))
    assert "| Repositories listed tonight | 11 of 250 (5 changed, 7 new); 238 carried forward from" in text
    assert "| Storage (each digest once per repository) | 1.23 TB (+2.5 MB since 2026-11-26) |" in text
    assert "| Deleted while listed | 1: `deleted-mid-run` |" in text


def test_stale_table_fits_a_page_short_digests_times_to_the_second_sizes_for_people() -> None:
    text = summary.summary_markdown(_result(tags=_tags()))
    table = text[text.index("## The 10 largest of 37 stale tags (no pull or push for 180 days)") :]
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert rows[0] == "| repository | tag | size | last pulled (UTC) | last pushed (UTC) | digest |"
    assert (
        rows[2] == "| service-0 | 1.0.0 | 999 MB | 2026-03-01 10:11:12 | 2025-12-24 08:00:00 | 0123456789ab |"
    )
    assert len(rows) == 2 + 10
    assert DIGEST not in text and ".123456" not in text and "999369523" not in text
    assert max(len(line) for line in rows) <= 100


def test_stale_tags_description_counts_what_the_table_holds() -> None:
    assert summary.stale_description(_result(), _tags()) == (
        "acme 2026-11-27: the 20 largest of the 37 tags without a pull or push for 180 days"
    )
    few = _tags(stale_tags=3, largest_stale=_tags().largest_stale[:3])
    assert summary.stale_description(_result(), few) == (
        "acme 2026-11-27: the 3 tags without a pull or push for 180 days, largest first"
    )
    text = summary.summary_markdown(_result(tags=few))
    assert "## Stale tags (no pull or push for 180 days), largest first" in text
    none = _tags(stale_tags=0, largest_stale=(), reclaimable_bytes=0)
    assert summary.stale_description(_result(), none) == (
        "acme 2026-11-27: no tag without a pull or push for 180 days"
    )
    assert "stale tags (" not in summary.summary_markdown(_result(tags=none))


def test_a_failure_says_the_run_log_holds_it_only_when_it_does() -> None:
    logged = summary.failure_markdown("acme", date(2026, 11, 27), "refused", 1.0, logged=True)
    assert "the snapshot database's run log records the failure" in logged
    unlogged = summary.failure_markdown("acme", date(2026, 11, 27), "refused", 1.0)
    assert "run log" not in unlogged and "No CSV was written for this day by this run." in unlogged


def test_the_access_line_counts_and_names_what_was_not_read_never_a_person() -> None:
    from dockerhub_export.results import AccessResult

    line = summary.access_line(AccessResult((), 1200, 4, 31, None, ("tokens",)))
    assert line == "1.2 k members, 4 teams, 31 team permissions (not read: tokens)"
    assert summary.access_line(AccessResult((), None, None, None, None, ("members",))).startswith("nothing")
