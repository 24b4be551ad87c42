"""The access queries (`access_queries`) over access nights and audit events the store wrote, on SQLite,
PostgreSQL and MariaDB: which night each reads, their exact answers and filters, token flags on the
night's date, the errors that name what a night lacks or the nearest names, and every change between
consecutive nights with who made it."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from dockerhub_export import access_queries, store
from dockerhub_export.access import AccessNight, Grant, Member, Repository, Team, Token, TokenResource
from dockerhub_export.access_review import review_night
from dockerhub_export.errors import ConfigError

ORG = "acme"
D1, D2, D3, D4 = (date(2026, 11, 2) + timedelta(days=k) for k in range(4))
REPOS = {"api": True, "web": False, "db": True}  # name -> private

ALICE = Member("alice", "Alice A", "alice@acme.example", "owner", date_joined="2024-01-02T03:04:05Z")
BOB = Member("bob", "Bob B", "bob@acme.example", "editor", date_joined="2024-02-02T00:00:00Z")
DAVE = Member(
    "dave", "Dave D", "dave@acme.example", "member", teams=("dev",), date_joined="2025-06-01T00:00:00Z"
)
ERIN = Member("erin", "", "erin@acme.example", "invitee")
GINA = Member(
    "gina", "Gina G", "gina@gmail.example", "member", is_guest=True, teams=("dev", "ops"),
    date_joined="2025-07-01T00:00:00.5Z",
)  # fmt: skip
FRANK = Member(
    "frank", "Frank F", "frank@acme.example", "member", teams=("ops",), date_joined="2026-11-03T00:30:00Z"
)
GRANTS = [Grant("api", "dev", "write"), Grant("api", "ops", "admin"), Grant("db", "dev", "read"),
          Grant("web", "dev", "read"), Grant("web", "ops", "write")]  # fmt: skip
REPO_PULL = (TokenResource("TYPE_REPO", "acme/api", ("repo-pull",)),)
CI = Token("t1", "ci", "alice", True, "2026-01-01T00:00:00Z", None, "2026-11-01T12:00:00Z", REPO_PULL)
DEPLOY = Token("t2", "deploy", "carol", True, "2026-02-01T00:00:00Z", "2026-11-20T00:00:00Z", None)
OLD = Token(
    "t3", "old", "alice", False, "2025-01-01T00:00:00Z", "2026-10-01T00:00:00Z", "2026-06-01T00:00:00Z"
)
SOON = Token(
    "t4", "soon", "alice", True, "2026-03-01T00:00:00Z", "2026-11-04T10:00:00Z", "2026-11-01T00:00:00Z"
)
RELEASE = Token("t5", "release", "carol", True, "2026-11-03T00:40:00Z", None, None)
MIRROR = Token("t6", "mirror", "alice", True, "2026-11-04T00:40:00Z", None, None)


def at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def stamp(day: date, minute: int) -> str:
    return f"{day.isoformat()}T00:{minute:02d}:00Z"


def teams_of(members: list[Member]) -> list[Team]:
    names = sorted({team for member in members for team in member.teams})
    return [Team(name, tuple(sorted(m.username for m in members if name in m.teams))) for name in names]


def nights(taken: Any = None) -> list[AccessNight]:
    """D1: the org; D2: frank joins ops, api/dev goes to admin, token release created; D3: frank leaves,
    no token data; D4: no member data (teams still listed), token mirror (created on D3's day) shows."""
    taken = taken or (lambda day: at(day, 1))
    d1 = [ALICE, BOB, DAVE, ERIN, GINA]
    d2 = [*d1, FRANK]
    grants2 = [Grant("api", "dev", "admin"), *GRANTS[1:]]

    def night(
        day: date, people: list[Member], grants: list[Grant], tokens: list[Token] | None
    ) -> AccessNight:
        return AccessNight(
            day, taken(day), members=tuple(people), teams=tuple(teams_of(people)), grants=tuple(grants),
            tokens=None if tokens is None else tuple(tokens),
        )  # fmt: skip

    return [
        night(D1, d1, GRANTS, [CI, DEPLOY, OLD, SOON]),
        night(D2, d2, grants2, [CI, DEPLOY, OLD, SOON, RELEASE]),
        night(D3, d1, grants2, None),
        replace(night(D4, d1, grants2, [CI, DEPLOY, OLD, SOON, RELEASE, MIRROR]), members=None),
    ]


def event(action: str, day: date, minute: int, actor: str, name: str = ORG, **data: str) -> dict[str, Any]:
    return {"action": action, "name": name, "actor": actor, "data": data, "timestamp": stamp(day, minute)}


EVENTS = [
    event("org.member.add", D2, 30, "alice", username="frank", role="member"),
    event("org.team.member.add", D2, 31, "alice", name="frank", team="ops"),
    event("org.access_token.create", D2, 40, "carol", label="release", id="t5"),
    event("org.team.member.remove", D3, 20, "bob", name="frank", team="ops"),
    event("org.member.remove", D3, 21, "bob", username="frank"),
    event("org.access_token.create", D3, 40, "alice", label="mirror", id="t6"),
    event("org.member.add", D1, 10, "mallory", username="frank"),  # older: the newest event explains
]


def seed(engine: sa.Engine, taken: Any = None) -> None:
    for night in nights(taken):
        names = sorted(REPOS)
        store.write_snapshot(
            engine, ORG, night.night, {"name": names, "is_private": [REPOS[n] for n in names]}
        )
        store.write_access_night(engine, ORG, night, started_at=at(night.night, 0, 55))
    store.audit.store_events(engine, ORG, EVENTS)


@pytest.fixture
def seeded(engine: sa.Engine) -> sa.Engine:
    seed(engine)
    return engine


# -- members ------------------------------------------------------------------------------------------


def test_members_of_a_night_are_exactly_its_members_and_invitees(seeded: sa.Engine) -> None:
    report = access_queries.members(seeded, ORG, D1)
    assert report.note is None
    assert report.to_json_dict() == {
        "snapshot_date": "2026-11-02",
        "members": [
            {"username": "alice", "full_name": "Alice A", "email": "alice@acme.example", "role": "owner",
             "is_guest": False, "teams": [], "date_joined": "2024-01-02T03:04:05Z"},
            {"username": "bob", "full_name": "Bob B", "email": "bob@acme.example", "role": "editor",
             "is_guest": False, "teams": [], "date_joined": "2024-02-02T00:00:00Z"},
            {"username": "dave", "full_name": "Dave D", "email": "dave@acme.example", "role": "member",
             "is_guest": False, "teams": ["dev"], "date_joined": "2025-06-01T00:00:00Z"},
            {"username": "erin", "full_name": "", "email": "erin@acme.example", "role": "invitee",
             "is_guest": False, "teams": [], "date_joined": None},
            {"username": "gina", "full_name": "Gina G", "email": "gina@gmail.example", "role": "member",
             "is_guest": True, "teams": ["dev", "ops"], "date_joined": "2025-07-01T00:00:00.5Z"},
        ],
    }  # fmt: skip


def test_a_role_filters_the_members_and_an_unknown_role_names_the_nearest(seeded: sa.Engine) -> None:
    assert [m.username for m in access_queries.members(seeded, ORG, D2, "member").members] == [
        "dave", "frank", "gina",
    ]  # fmt: skip
    assert [m.username for m in access_queries.members(seeded, ORG, D1, "Invitee").members] == ["erin"]
    with pytest.raises(
        ConfigError, match="acme has no role 'ownr' on the night of 2026-11-02: the nearest: owner"
    ):
        access_queries.members(seeded, ORG, D1, "ownr")


def test_by_default_the_newest_night_with_member_data_and_a_note_that_the_newest_has_none(
    seeded: sa.Engine,
) -> None:
    report = access_queries.members(seeded, ORG)
    assert report.snapshot_date == D3 and [m.username for m in report.members] == [
        "alice",
        "bob",
        "dave",
        "erin",
        "gina",
    ]
    assert report.note == (
        "acme's newest access night, 2026-11-05, has no member data: showing 2026-11-04, the newest that has"
    )


def test_a_night_without_member_data_is_an_error_never_an_empty_list(seeded: sa.Engine) -> None:
    with pytest.raises(ConfigError) as caught:
        access_queries.members(seeded, ORG, D4)
    assert str(caught.value) == (
        "acme's night 2026-11-05 has no member data: its run could not read it (the token lacks "
        "scope-member-read, to read the org's members)"
    )
    with pytest.raises(ConfigError, match="acme's night 2026-11-05 has no member data"):
        access_queries.access(seeded, ORG, D4)
    with pytest.raises(
        ConfigError, match="acme's night 2026-11-04 has no token data: .*owner's personal access token"
    ):
        access_queries.tokens(seeded, ORG, D3)


def test_by_default_a_listing_no_night_has_is_an_error_naming_what_the_token_lacked(
    engine: sa.Engine,
) -> None:
    grants_only = replace(nights()[0], members=None, teams=None, tokens=None)
    members_only = replace(nights()[1], grants=None, tokens=None)
    for night in (grants_only, members_only):
        store.write_access_night(engine, ORG, night, started_at=at(night.night))
    with pytest.raises(ConfigError) as caught:
        access_queries.tokens(engine, ORG)
    assert str(caught.value).startswith("none of acme's 2 access nights has token data: their runs could not")
    with pytest.raises(
        ConfigError, match="none of acme's 2 access nights has both member and permission data"
    ):
        access_queries.access(engine, ORG)
    assert access_queries.members(engine, ORG).snapshot_date == D2


def test_a_date_between_nights_reads_the_night_before_and_says_so(seeded: sa.Engine) -> None:
    with pytest.raises(ConfigError, match="acme's night 2026-11-05 has no member data"):
        access_queries.members(seeded, ORG, date(2026, 11, 30))  # the nearest night lacks it: no older one
    later = access_queries.tokens(seeded, ORG, date(2026, 11, 30))
    assert later.snapshot_date == D4
    assert later.note == "2026-11-30 has no access night: the nearest night before it is 2026-11-05"
    with pytest.raises(
        ConfigError, match="no access night of acme on or before 2026-11-01: the first is 2026-11-02"
    ):
        access_queries.members(seeded, ORG, D1 - timedelta(days=1))


def test_no_access_night_at_all_says_which_run_makes_one(engine: sa.Engine) -> None:
    for query in (access_queries.members, access_queries.access, access_queries.tokens):
        with pytest.raises(
            ConfigError,
            match=r"no access night of acme in .*: run `dockerhub-export run --org acme --access` first",
        ):
            query(engine, ORG)


# -- access -------------------------------------------------------------------------------------------


def test_access_is_each_roles_effective_permission_on_the_nights_repositories(seeded: sa.Engine) -> None:
    report = access_queries.access(seeded, ORG, D1)
    rows = [(r["repository"], r["username"], r["permission"], r["role"], r["teams"])
            for r in report.to_json_dict()["access"]]  # fmt: skip
    assert rows == [
        ("api", "alice", "admin", "owner", []),
        ("api", "bob", "admin", "editor", []),
        ("api", "dave", "write", "member", ["dev"]),
        ("api", "gina", "admin", "member", ["ops"]),
        ("db", "alice", "admin", "owner", []),
        ("db", "bob", "admin", "editor", []),
        ("db", "dave", "read", "member", ["dev"]),
        ("db", "gina", "read", "member", ["dev"]),
        ("web", "alice", "admin", "owner", []),
        ("web", "bob", "admin", "editor", []),
        ("web", "gina", "write", "member", ["ops"]),  # dave's read of the public web is not listed
    ]
    assert set(report.to_json_dict()) == {"snapshot_date", "access"} and report.snapshot_date == D1


def test_access_of_one_user_one_repository_and_a_least_permission(seeded: sa.Engine) -> None:
    def rows(**asked: Any) -> list[tuple[str, str, str]]:
        return [
            (r.repository, r.username, r.permission)
            for r in access_queries.access(seeded, ORG, D1, **asked).access
        ]

    assert rows(user="dave") == [("api", "dave", "write"), ("db", "dave", "read")]
    assert rows(user="dave", min_permission="write") == [("api", "dave", "write")]
    assert rows(repo="db", min_permission="write") == [("db", "alice", "admin"), ("db", "bob", "admin")]
    assert rows(user="gina", repo="web") == [("web", "gina", "write")]
    assert rows(user="erin") == []  # an invitee is a member of the night with no access yet
    later = access_queries.access(seeded, ORG, D2, user="dave").access  # api/dev went to admin on D2
    assert [(r.repository, r.permission) for r in later] == [("api", "admin"), ("db", "read")]


def test_an_unknown_user_or_repository_names_the_nearest(seeded: sa.Engine) -> None:
    with pytest.raises(ConfigError) as caught:
        access_queries.access(seeded, ORG, D1, user="dav")
    assert str(caught.value) == "acme has no member 'dav' on the night of 2026-11-02: the nearest: dave"
    with pytest.raises(
        ConfigError, match="acme has no repository 'ap' on the night of 2026-11-02: the nearest: api"
    ):
        access_queries.access(seeded, ORG, D1, repo="ap")
    with pytest.raises(ConfigError, match=r"no member 'zzzzzz' .*: none is close \(5 members that night\)"):
        access_queries.access(seeded, ORG, D1, user="zzzzzz")
    with pytest.raises(ConfigError, match="no member 'frank'"):  # gone by D3
        access_queries.access(seeded, ORG, D3, user="frank")


# -- tokens -------------------------------------------------------------------------------------------


def test_tokens_are_listed_oldest_first_with_flags_on_the_nights_date(seeded: sa.Engine) -> None:
    report = access_queries.tokens(seeded, ORG, D1)
    assert report.to_json_dict()["tokens"][1] == {
        "id": "t1", "label": "ci", "created_by": "alice", "is_active": True,
        "created_at": "2026-01-01T00:00:00Z", "expires_at": None, "last_used_at": "2026-11-01T12:00:00Z",
        "resources": [{"type": "TYPE_REPO", "path": "acme/api", "scopes": ["repo-pull"]}],
        "flags": ["never_expires"],
    }  # fmt: skip
    flags = {row.token.label: list(row.flags) for row in report.tokens}
    assert [row.token.label for row in report.tokens] == ["old", "ci", "deploy", "soon"]
    assert flags == {
        "old": ["expired", "unused", "inactive"],
        "ci": ["never_expires"],
        "deploy": ["expires_soon", "unused"],
        "soon": ["expires_soon"],
    }
    later = {row.token.label: list(row.flags) for row in access_queries.tokens(seeded, ORG, D4).tokens}
    assert later["soon"] == ["expired"]  # expired on 2026-11-04, before the night of 2026-11-05
    narrow = access_queries.tokens(seeded, ORG, D1, expiring_days=10, unused_days=200)
    assert {row.token.label: list(row.flags) for row in narrow.tokens} == {
        "old": ["expired", "inactive"], "ci": ["never_expires"], "deploy": ["unused"],
        "soon": ["expires_soon"],
    }  # fmt: skip


# -- access-changes -----------------------------------------------------------------------------------


def _changes(report: access_queries.ChangesReport) -> list[tuple[Any, ...]]:
    return [(c.night, *c.as_dict().values()) for c in report.changes]


EXPECTED = [
    (D2, "member_added", "frank", None, None, None, None, "member", "alice", stamp(D2, 30)),
    (D2, "team_member_added", "frank", "ops", None, None, None, None, "alice", stamp(D2, 31)),
    (D2, "permission_changed", None, "dev", "api", None, "write", "admin", None, None),
    (D2, "token_created", None, None, None, "release", None, None, "carol", stamp(D2, 40)),
    (D3, "member_removed", "frank", None, None, None, "member", None, "bob", stamp(D3, 21)),
    (D3, "team_member_removed", "frank", "ops", None, None, None, None, "bob", stamp(D3, 20)),
    # D3 has no token data: the token made on D3's day shows between D2 and D4
    (D4, "token_created", None, None, None, "mirror", None, None, "alice", stamp(D3, 40)),
]


def test_every_change_between_consecutive_nights_attributed_who_joined_and_left_shows_twice(
    seeded: sa.Engine,
) -> None:
    report = access_queries.access_changes(seeded, ORG, D1, D4)
    assert _changes(report) == EXPECTED and report.notes == [] and report.nights == [D1, D2, D3, D4]
    assert [c["change"] for c in report.to_json_dict()["changes"] if c["username"] == "frank"] == [
        "member_added", "team_member_added", "member_removed", "team_member_removed",
    ]  # fmt: skip
    assert report.to_json_dict()["changes"][0] == {
        "change": "member_added", "username": "frank", "team": None, "repository": None, "token": None,
        "from": None, "to": "member", "by": "alice", "at": "2026-11-03T00:30:00Z",
    }  # fmt: skip
    assert set(report.to_json_dict()) == {"since", "until", "changes"}


def test_the_window_starts_at_its_first_night_and_until_defaults_to_the_newest(seeded: sa.Engine) -> None:
    report = access_queries.access_changes(seeded, ORG, D2)
    assert report.until == D4 and report.to_json_dict()["until"] == "2026-11-05"
    assert _changes(report) == EXPECTED[4:]  # D2's own changes led to D2: the window before has them


def test_a_listing_fewer_than_two_nights_have_is_a_note_not_an_empty_history(seeded: sa.Engine) -> None:
    report = access_queries.access_changes(seeded, ORG, D3, D4)
    assert _changes(report) == []
    assert report.notes == [
        "no member changes: 1 night of the window has member data (the token lacks scope-member-read, to "
        "read the org's members)",
        "no token changes: 1 night of the window has token data (listing them takes an owner's personal "
        "access token; an organization access token may not)",
    ]


def test_a_window_of_fewer_than_two_nights_or_reversed_is_refused(seeded: sa.Engine) -> None:
    with pytest.raises(
        ConfigError, match=r"2026-11-05 to 2026-11-30 holds 1 access night of acme: a change needs two"
    ):
        access_queries.access_changes(seeded, ORG, D4, date(2026, 11, 30))
    with pytest.raises(ConfigError, match="--since 2026-11-05 is after --until 2026-11-02"):
        access_queries.access_changes(seeded, ORG, D4, D1)


def test_the_nightly_summary_of_each_night_lists_what_access_changes_lists_for_that_night(
    seeded: sa.Engine,
) -> None:
    """One rule: the summary of a night (`access_review.review_night`, as the run makes it after storing
    the night) has the changes of ``access-changes --since <its previous night> --until <the night>``,
    attributed alike; across a night without token data it counts tokens from the last night with them
    (D4 from D2) instead of losing D3's token, and says so with its previous night."""
    repos = [Repository(name, private) for name, private in REPOS.items()]
    stored = {night.night: night for night in nights()}
    summaries = {day: review_night(seeded, ORG, stored[day], repos) for day in (D2, D3, D4)}
    assert {day: (r.previous_night, r.uncompared) for day, r in summaries.items()} == {
        D2: (D1, ()),
        D3: (D2, ("tokens",)),  # D3 has no token data
        D4: (D2, ("members",)),  # tokens from D2, the rest from D3; D4 has no member data
    }
    for day in (D2, D3):  # the previous night has every listing the night has: the same list exactly
        report = access_queries.access_changes(seeded, ORG, D1 if day == D2 else D2, day)
        assert summaries[day].changes == tuple(report.changes)
    across = access_queries.access_changes(seeded, ORG, D2, D4)  # D3's own changes too: not D4's summary's
    assert summaries[D4].changes == tuple(change for change in across.changes if change.night == D4)
    assert [_change for _change in _changes(across) if _change[0] == D4] == EXPECTED[-1:]
    assert [(c.change, c.token, c.by) for c in summaries[D4].changes or ()] == [
        ("token_created", "mirror", "alice")
    ]


def test_nights_exported_on_other_days_are_matched_to_events_by_their_dates(engine: sa.Engine) -> None:
    """Runs with --snapshot-date (or against a simulated Hub) read the nights days later: their run times
    say nothing of when each night's state was, so each night counts as its whole date."""
    seed(engine, taken=lambda day: at(date(2026, 12, 1), 9))
    report = access_queries.access_changes(engine, ORG, D1, D4)
    assert _changes(report) == EXPECTED
