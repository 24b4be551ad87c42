"""What the UI shows, as plain data: artifact keys, JSON-safe tables, the markdown summaries."""

import json
import math
from datetime import date, datetime

import pandas as pd
import pytest

from dockerhub_export.flows import reporting


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
    assert reporting.artifact_key(org, what) == key


def test_tables_are_json_serializable_whatever_pandas_hands_over() -> None:
    frame = pd.DataFrame(
        {
            "name": ["a", "b"],
            "pull_count": pd.array([5, None], dtype="Int64"),
            "growth": [1.5, math.nan],
            "since": [pd.Timestamp("2026-11-26T00:00:00Z"), pd.NaT],
        }
    )
    rows = reporting.movers_table(frame.to_dict("records"))
    assert json.loads(json.dumps(rows)) == [
        {"name": "a", "pull_count": 5, "growth": 1.5, "since": "2026-11-26T00:00:00+00:00"},
        {"name": "b", "pull_count": None, "growth": None, "since": None},
    ]
    assert reporting.jsonable({"d": date(2026, 1, 2), "t": datetime(2026, 1, 2, 3, 4)}) == {
        "d": "2026-01-02",
        "t": "2026-01-02T03:04:00",
    }


def _result(**changes):  # type: ignore[no-untyped-def]
    result = {
        "org": "acme",
        "snapshot_date": "2026-11-27",
        "csv_path": "/x/acme/repos-2026-11-27.csv",
        "repositories": 250,
        "private": 83,
        "api_count": 250,
        "warnings": [],
        "snapshot": {"previous_date": "2026-11-26", "added": ["new-1", "new-2"], "removed": []},
        "top_movers": [],
        "seconds": 4.25,
        "retries": 2,
        "rate_limited": 1,
        "waited_seconds": 30.0,
    }
    result.update(changes)
    return result


def test_summary_names_everything_the_issue_asks_for() -> None:
    movers = [  # rows as reports.top_movers gives them
        {
            "name": "web",
            "pulls_start": 1000,
            "pulls_end": 1200,
            "pulls_delta": 200,
            "stars_start": 1,
            "stars_end": 2,
            "stars_delta": 1,
            "is_private": False,
        },
        {
            "name": "db|x",
            "pulls_start": 9,
            "pulls_end": 10,
            "pulls_delta": 1,
            "stars_start": 0,
            "stars_end": 0,
            "stars_delta": 0,
            "is_private": True,
        },
    ]
    text = reporting.summary_markdown(_result(warnings=["a | b"]), movers)
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
        "| web | 200 | 1000 | 1200 | 1 |",
        "db\\|x",
        "- a \\| b",
    ):
        assert fragment in text, fragment


def test_organizations_keys_are_no_org_s_key() -> None:
    """Every org name is a valid Docker ID, "many-orgs" and "organizations" included: the multi-org
    history must stay apart from theirs."""
    for org in ("many-orgs", "organizations", "a", "x.y_z-9"):
        for what in ("summary", "table", "top-movers"):
            assert reporting.organizations_key(what) != reporting.artifact_key(org, what)
            assert reporting.organizations_key("summary") != reporting.artifact_key(org, what)
    assert reporting.organizations_key("summary") == "dockerhub-export--organizations-summary"


def test_summary_of_a_first_snapshot_and_of_a_run_without_snapshots() -> None:
    first = reporting.summary_markdown(_result(snapshot={"previous_date": None, "added": [], "removed": []}))
    assert "first snapshot of this org" in first and "None yet" in first
    quiet = reporting.summary_markdown(
        _result(snapshot={"previous_date": "2026-11-26", "added": [], "removed": []})
    )
    assert "None yet" not in quiet and "None: no repository gained pulls since 2026-11-26." in quiet
    off = reporting.summary_markdown(_result(snapshot=None))
    assert "snapshots are off" in off


def test_rows_of_another_shape_still_make_a_table() -> None:
    assert reporting.markdown_table([{"a": 1}, {"b": None}]) == "| a | b |\n|---|---|\n| 1 |  |\n|  |  |"


def test_long_name_lists_are_cut() -> None:
    names = [f"r{i}" for i in range(45)]
    snapshot = {"previous_date": "2026-11-26", "added": names, "removed": []}
    text = reporting.summary_markdown(_result(snapshot=snapshot))
    assert "45: `r0`" in text and "... and 25 more" in text and "`r20`" not in text


def test_failure_and_many_orgs_summaries() -> None:
    text = reporting.failure_markdown("acme", date(2026, 11, 27), "Docker Hub rejected | the token", 1.0)
    assert "**failed**" in text and "rejected \\| the token" in text and "2026-11-27" in text
    rows = [
        {"org": "beta", "status": "exported", "repositories": 3, "reason": None},
        {"org": "gamma", "status": "failed", "repositories": None, "reason": "boom"},
    ]
    many = reporting.organizations_markdown(rows)
    assert many.startswith("# 2 organizations: 1 exported, 1 failed")
    assert many.index("gamma") < many.index("beta")  # failures first
