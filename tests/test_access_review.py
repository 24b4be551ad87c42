"""access_review: the night's review as the nightly summary shows it. Members by role; who may push to or
administer private repositories; tokens expired, expiring soon or never expiring (and the 14-day
alerts); the changes since the previous stored night, attributed from stored audit events, on SQLite,
PostgreSQL and MariaDB. A listing the night lacks is None ("not read"), never an empty tuple."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from dockerhub_export import store
from dockerhub_export.access import AccessNight, Grant, Member, Repository, Team, Token
from dockerhub_export.access_changes import AccessChange
from dockerhub_export.access_review import private_access, review, review_night, token_standings
from dockerhub_export.results import PrivateAccess

ORG = "acme"
NIGHT = date(2026, 12, 3)
BEFORE = NIGHT - timedelta(days=1)
REPOS = [
    Repository("api", True),
    Repository("db", True),
    Repository("web", False),
    Repository("vault", True),
]
MEMBERS = (
    Member("alice", "Alice A", "alice@acme.example", "owner"),
    Member("bob", "Bob B", "bob@acme.example", "editor"),
    Member("dave", "Dave D", "dave@acme.example", "member", teams=("dev",)),
    Member("erin", "Erin E", "erin@acme.example", "member", teams=("qa",)),
    Member("frank", "", "frank@acme.example", "member", teams=("dev", "qa")),
    Member("ivy", "", "ivy@acme.example", "invitee"),
)
TEAMS = (Team("dev", ("dave", "frank")), Team("qa", ("erin", "frank")))
GRANTS = (
    Grant("api", "dev", "write"),
    Grant("db", "dev", "write"),
    Grant("db", "qa", "admin"),
    Grant("web", "dev", "admin"),  # a public repository: not counted
    Grant("vault", "qa", "read"),  # read: not counted
)


def _token(ident: str, expires: date | None, **values: Any) -> Token:
    stamp = None if expires is None else f"{expires.isoformat()}T12:00:00Z"
    return Token(
        ident, f"label-{ident}", "alice", created_at="2026-01-01T00:00:00Z", expires_at=stamp, **values
    )


def _night(day: date = NIGHT, hour: int = 1, **listings: Any) -> AccessNight:
    taken = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    held = {"members": MEMBERS, "teams": TEAMS, "grants": GRANTS, "tokens": (), **listings}
    return AccessNight(day, taken, **held)


def test_members_are_counted_by_role_invitees_included_and_not_read_without_the_listing() -> None:
    assert review(_night(), REPOS).roles == {"owner": 1, "editor": 1, "member": 3, "invitee": 1}
    assert review(_night(members=None), REPOS).roles is None


def test_write_or_admin_on_private_repositories_counts_roles_and_teams_widest_first() -> None:
    found = private_access(_night(), REPOS)
    assert found == (
        PrivateAccess("alice", "owner", "admin", 3),  # owners and editors administer every repository
        PrivateAccess("bob", "editor", "admin", 3),
        PrivateAccess("frank", "member", "admin", 2),  # write on api (dev), admin on db (qa)
        PrivateAccess("erin", "member", "admin", 1),  # read on vault is not counted
        PrivateAccess("dave", "member", "write", 2),  # admin on the public web is not counted
    )
    assert private_access(_night(grants=None), REPOS) is None
    assert private_access(_night(members=None, teams=None), REPOS) is None
    assert review(_night(), REPOS).private_repositories == 3


def test_tokens_expired_expiring_within_30_days_or_never_and_the_14_day_alerts() -> None:
    tokens = (
        _token("gone", NIGHT - timedelta(days=3)),
        _token("soon", NIGHT + timedelta(days=5)),
        _token("edge", NIGHT + timedelta(days=14)),
        _token("later", NIGHT + timedelta(days=15)),
        _token("month", NIGHT + timedelta(days=30)),
        _token("far", NIGHT + timedelta(days=40)),  # neither expired, soon nor never: not named
        _token("never", None, is_active=False),
        _token("today", NIGHT),
    )
    found = review(_night(tokens=tokens), REPOS)
    assert [(t.id, t.days_left) for t in found.tokens or ()] == [
        ("gone", -3), ("today", 0), ("soon", 5), ("edge", 14), ("later", 15), ("month", 30), ("never", None),
    ]  # fmt: skip
    assert [t.id for t in found.tokens_with("expired") or ()] == ["gone"]
    assert [t.id for t in found.tokens_with("never_expires") or ()] == ["never"]
    assert "inactive" in (found.tokens_with("never_expires") or ())[0].flags
    assert [(t.id, t.label) for t in found.alerts] == [
        ("today", "label-today"), ("soon", "label-soon"), ("edge", "label-edge"),
    ]  # fmt: skip
    assert token_standings(_night(tokens=None)) is None
    unread = review(_night(tokens=None), REPOS)
    assert unread.tokens is None and unread.tokens_with("expired") is None and unread.alerts == ()


def _event(action: str, name: str, actor: str, when: datetime, **data: str) -> dict[str, Any]:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"timestamp": stamp, "action": action, "name": name, "actor": actor, "data": data}


def _changed() -> tuple[AccessNight, AccessNight, list[dict[str, Any]]]:
    """Two nights: erin joins team dev (logged by bob), dev gets admin on vault (never logged), a token is
    created (logged), and ivy accepts her invite (logged long before the previous night: not hers)."""
    previous = _night(BEFORE, tokens=())
    teams = (Team("dev", ("dave", "erin", "frank")), Team("qa", ("erin", "frank")))
    members = tuple(
        replace(m, teams=tuple(t.name for t in teams if m.username in t.members))
        for m in MEMBERS
        if m.username != "ivy"
    ) + (Member("ivy", "", "ivy@acme.example", "member"),)
    tonight = _night(
        members=members, teams=teams, grants=(*GRANTS, Grant("vault", "dev", "admin")),
        tokens=(_token("t1", None),),
    )  # fmt: skip
    joined = datetime(2026, 12, 2, 21, 4, 30, tzinfo=UTC)
    events = [
        _event("org.team.member.add", "erin", "bob", joined, team="dev"),
        _event(
            "org.access_token.create", ORG, "alice", joined + timedelta(hours=1), label="label-t1", id="t1"
        ),
        _event("org.member.add", ORG, "ivy", datetime(2026, 11, 20, tzinfo=UTC), username="ivy"),
    ]
    return previous, tonight, events


def test_changes_since_the_previous_night_are_attributed_from_the_events_between_the_two_runs() -> None:
    previous, tonight, events = _changed()
    found = review(tonight, REPOS, previous=previous, events=events)
    assert found.previous_night == BEFORE and found.uncompared == ()
    assert set(found.changes or ()) == {
        AccessChange("team_member_added", NIGHT, username="erin", team="dev", by="bob",
                     at="2026-12-02T21:04:30.000000Z"),
        AccessChange("permission_granted", NIGHT, repository="vault", team="dev", to="admin"),
        AccessChange("token_created", NIGHT, token="label-t1", token_id="t1", by="alice",
                     at="2026-12-02T22:04:30.000000Z"),
        AccessChange("role_changed", NIGHT, username="ivy", from_="invitee", to="member"),  # event too old
    }  # fmt: skip


def test_a_first_night_or_one_without_history_is_not_compared_and_an_unread_listing_is_named() -> None:
    first = review(_night(), REPOS)
    assert first.changes is None and first.previous_night is None and first.history
    assert review(_night(), REPOS, history=False).history is False
    previous, tonight, events = _changed()
    partial = review(tonight, REPOS, previous=AccessNight(BEFORE, previous.taken_at, members=MEMBERS))
    assert partial.uncompared == ("permissions", "tokens")  # team memberships come from the members' teams
    assert {change.change for change in partial.changes or ()} == {"team_member_added", "role_changed"}


def test_review_night_compares_with_the_stored_night_before_and_its_stored_audit_events(
    engine: sa.Engine,
) -> None:
    previous, tonight, events = _changed()
    assert review_night(engine, ORG, tonight, REPOS).changes is None  # nothing stored yet
    started = datetime(2026, 12, 2, 1)
    store.write_access_night(engine, ORG, previous, started_at=started)
    store.write_access_night(engine, ORG, tonight, started_at=started + timedelta(days=1))
    store.audit.store_events(engine, ORG, events)
    found = review_night(engine, ORG, tonight, REPOS)
    assert found.previous_night == BEFORE
    by = {change.change: change.by for change in found.changes or ()}
    assert by == {"team_member_added": "bob", "permission_granted": None, "token_created": "alice",
                  "role_changed": None}  # fmt: skip
    assert review_night(None, ORG, tonight, REPOS).history is False
