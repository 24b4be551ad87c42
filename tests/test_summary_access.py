"""The nightly summary's Access section (flows/summary_access.py), from typed reviews: members by role, the
night's changes with who and when, write or admin on private repositories (a long list cut, saying how
many were left out), tokens expired, expiring or never expiring; "not read" for a listing the night
lacks, never "none"; never an email."""

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

from test_access_review import MEMBERS, NIGHT, REPOS, _changed, _night, _token

from dockerhub_export.access import AccessNight
from dockerhub_export.access_review import review
from dockerhub_export.flows import summary, summary_access
from dockerhub_export.results import AccessResult, AccessReview, PrivateAccess, RunResult

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def _access(found: AccessReview, missing: tuple[str, ...] = ()) -> AccessResult:
    return AccessResult((), 6, 2, 5, 3, missing, found)


def _markdown(found: AccessReview, missing: tuple[str, ...] = ()) -> str:
    result = RunResult(
        org="acme", snapshot_date=NIGHT, csv_path=Path("/x/acme/repos.csv"), repositories=4, private=3,
        api_count=4, warnings=(), snapshot=None, top_movers=(), seconds=1.0, retries=0, rate_limited=0,
        waited_seconds=0.0, access=_access(found, missing),
    )  # fmt: skip
    return summary.summary_markdown(result)


def test_the_access_section_names_roles_changes_with_who_and_when_private_access_and_tokens() -> None:
    previous, tonight, events = _changed()
    older = (_token("gone", date(2026, 11, 30)), _token("soon", date(2026, 12, 8)))
    previous = replace(previous, tokens=older)
    tonight = replace(tonight, tokens=(*older, *(tonight.tokens or ())))
    text = _markdown(review(tonight, REPOS, previous=previous, events=events))
    section = text[text.index("## Access") :]
    assert "| Members by role | 1 owner, 1 editor, 4 members, 0 invitees |" in section
    assert "| Changes since 2026-12-02 | 4 (2 with who made them) |" in section
    assert "- `erin` added to team `dev` by bob at 2026-12-02 21:04" in section
    assert "- token `label-t1` created by alice at 2026-12-02 22:04" in section
    assert "- team `dev` granted admin on `vault`\n" in section  # the Hub logs no permission change
    assert "- `ivy` role invitee → member (no audit event says who)" in section
    assert (
        "| Write or admin on private repositories | 5 users (5 with admin), on 3 private repositories |"
        in section
    )
    assert "| frank | member | admin | 3 |" in section
    assert "| Tokens expired | 1: `label-gone` (by alice, expired 2026-11-30) |" in section
    assert (
        "| Tokens expiring within 30 days | 1: `label-soon` (by alice, expires 2026-12-08, in 5 days) |"
        in section
    )
    assert "| Tokens never expiring | 1: `label-t1` (by alice) |" in section
    assert not EMAIL.search(text)
    assert not any(member.email in text for member in MEMBERS)


def test_a_listing_the_night_lacks_says_not_read_never_none() -> None:
    night = AccessNight(NIGHT, members=MEMBERS)
    text = _markdown(review(night, REPOS), missing=("teams", "permissions", "tokens"))
    assert "| Write or admin on private repositories | not read |" in text
    for label in ("Tokens expired", "Tokens expiring within 30 days", "Tokens never expiring"):
        assert f"| {label} | not read |" in text
    assert "| Changes | not compared: no earlier access night of this org |" in text
    text = _markdown(review(_night(members=None, tokens=()), REPOS, history=False))
    assert "| Members by role | not read |" in text and "| Tokens expired | none |" in text
    assert "| Changes | not compared (snapshots are off for this run) |" in text


def test_a_listing_either_night_lacks_is_named_as_not_compared() -> None:
    previous, tonight, _events = _changed()
    text = _markdown(review(tonight, REPOS, previous=replace(previous, tokens=None, grants=None)))
    assert "not compared (not read on one of the two nights): permissions, tokens" in text


def test_long_lists_are_cut_and_say_how_many_were_left_out() -> None:
    users = tuple(PrivateAccess(f"user{k:03d}", "member", "write", 1) for k in range(45))
    tokens = tuple(_token(f"t{k:02d}", None) for k in range(25))
    previous, tonight, events = _changed()
    found = review(replace(tonight, tokens=tokens), REPOS, previous=previous, events=events)
    joined = next(change for change in found.changes or () if change.change == "team_member_added")
    many = replace(found, private_access=users, changes=(joined,) * 40)
    text = _markdown(many)
    assert "### The 20 users with the widest write or admin of 45" in text
    assert "... and 25 more: the access CSV lists them all." in text
    assert text.count("| user0") == 20
    assert "| Tokens never expiring | 25: " in text and "... and 5 more |" in text
    assert text.count("- `erin` added to team `dev`") == summary_access.MAX_CHANGES
    assert (
        "- ... and 10 more: `dockerhub-export access-changes --org acme --since 2026-12-02 --until " in text
    )


def test_a_night_without_a_review_has_no_access_section_only_its_counts() -> None:
    text = _markdown(review(_night(), REPOS))
    plain = text[: text.index("\n## Access")]
    result_without = summary.summary_markdown(
        RunResult(
            org="acme",
            snapshot_date=NIGHT,
            csv_path=Path("/x/acme/repos.csv"),
            repositories=4,
            private=3,
            api_count=4,
            warnings=(),
            snapshot=None,
            top_movers=(),
            seconds=1.0,
            retries=0,
            rate_limited=0,
            waited_seconds=0.0,
            access=AccessResult((), 6, 2, 5, 3, ()),
        )  # fmt: skip
    )
    assert "## Access" not in result_without and "| Access | 6 members" in result_without
    assert plain == result_without
