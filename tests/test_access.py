"""The access review's logic (`access`, `access_changes`): the Hub's records read into one night's state,
the effective access each role gives, token flags at their boundaries, the changes between nights and
the audit events that explain them; and all of it against the fake Hub's day-by-day access history,
read over HTTP, with its audit log kept in SQLite."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fakehub import FakeHub
from hubhistory import build, night_moment
from test_fakehub_access import login

from dockerhub_export import store
from dockerhub_export.access import (
    AccessNight,
    AccessRow,
    Grant,
    Member,
    Repository,
    Team,
    Token,
    effective_access,
    filter_access,
    parse_grants,
    parse_member,
    parse_night,
    parse_repository,
    parse_token,
    role_counts,
    token_flags,
)
from dockerhub_export.access_changes import (
    AUDIT_ACTIONS,
    KINDS,
    AccessChange,
    attribute,
    changes_between,
    event_window,
    walk,
)
from dockerhub_export.audit import OVERLAP

ORG = "acme"
NIGHT = date(2026, 12, 4)
REPOS = [Repository("api", True), Repository("web", False), Repository("db", True)]


def night(day: date = NIGHT, **listings: Any) -> AccessNight:
    """A night at 01:00 UTC of ``day`` holding the listings given (tuples), the others missing."""
    taken = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
    return AccessNight(day, taken, **{key: tuple(value) for key, value in listings.items()})


# -- the Hub's records ----------------------------------------------------------------------------------


def test_a_member_record_with_nulls_any_case_role_and_any_fraction_reads_cleanly() -> None:
    bare = parse_member(
        {
            "username": "dev1",
            "full_name": None,
            "email": None,
            "role": "OWNER",
            "groups": None,
            "is_guest": None,
        }
    )
    assert bare == Member("dev1", "", "", "owner", False, (), None)
    full = parse_member(
        {
            "username": "dev2",
            "full_name": "Dubois, Jr.",
            "email": "dev2@acme.example",
            "role": "Editor",
            "groups": ["qa", {"name": "dev"}, "qa"],
            "is_guest": True,
            "date_joined": "2021-12-20T17:19:58.88296Z",
        }
    )
    assert (full.role, full.teams, full.is_guest, full.date_joined) == (
        "editor",
        ("dev", "qa"),
        True,
        "2021-12-20T17:19:58.88296Z",
    )
    stamps = {
        "2025-03-05T07:52:00.613197154Z": "2025-03-05T07:52:00.613197154Z",  # 9 digits: kept as written
        "2024-01-16T20:54:52Z": "2024-01-16T20:54:52Z",
        "2024-01-16T22:54:52.5+02:00": "2024-01-16T20:54:52.5Z",  # an offset: the Hub's style
        "0001-01-01T00:00:00Z": None,  # Go's zero time: never
        "not a time": None,
    }
    for given, kept in stamps.items():
        assert parse_member({"username": "x", "date_joined": given}).date_joined == kept, given
    assert parse_member({"username": "x", "role": "Invitee", "date_joined": None}).role == "invitee"


def test_a_token_reads_its_resources_from_the_detail_and_a_null_is_active_counts_as_active() -> None:
    listed = {
        "id": "t1",
        "label": "ci",
        "created_by": "alice",
        "is_active": None,
        "created_at": "2026-01-02T03:04:05.1Z",
        "expires_at": None,
        "last_used_at": None,
    }
    detail = dict(
        listed, resources=[{"type": "TYPE_REPO", "path": "acme/api", "scopes": ["repo-push", "repo-pull"]}]
    )
    token = parse_token(listed, detail)
    assert token.is_active and token.expires_at is None and token.last_used_at is None
    assert token.as_dict()["resources"] == [
        {"type": "TYPE_REPO", "path": "acme/api", "scopes": ["repo-pull", "repo-push"]}
    ]
    assert parse_token(listed).resources == () and not parse_token(dict(listed, is_active=False)).is_active


def test_a_repositorys_grants_lowercase_the_permission_and_keep_a_teams_highest() -> None:
    records = [
        {"group_name": "qa", "permission": "READ", "group_id": 1},
        {"group_name": "dev", "permission": "write", "group_id": 2},
        {"group_name": "qa", "permission": "admin", "group_id": 1},
        {"group_name": None, "permission": "read"},
    ]
    assert parse_grants("api", records) == (Grant("api", "dev", "write"), Grant("api", "qa", "admin"))
    assert parse_repository({"name": "web", "is_private": None}) == Repository("web", True)


def test_a_missing_listing_is_none_and_an_empty_one_is_an_empty_tuple() -> None:
    parsed = parse_night(NIGHT, members=[], grants={"api": []}, tokens=None)
    assert parsed.members == () and parsed.grants == () and parsed.teams is None and parsed.tokens is None
    assert parsed.listings() == {"members", "permissions"}
    assert parsed.memberships == frozenset()  # no teams listing, but the members' groups say: none
    assert AccessNight(NIGHT).memberships is None and AccessNight(NIGHT).listings() == frozenset()


# -- effective access -----------------------------------------------------------------------------------


def test_effective_access_per_role_guest_and_invitee_without_public_reads() -> None:
    members = [
        Member("alice", role="owner"),
        Member("bob", role="editor"),
        Member("dev", role="member", teams=("qa", "web-team")),
        Member("guest", role="member", is_guest=True, teams=("qa",)),
        Member("newbie", role="invitee"),
    ]
    grants = [
        Grant("api", "qa", "read"),
        Grant("api", "web-team", "write"),
        Grant("db", "qa", "write"),
        Grant("db", "web-team", "write"),
        Grant("web", "qa", "read"),  # public: everyone reads it anyway
        Grant("web", "web-team", "admin"),
        Grant("gone", "qa", "admin"),  # a repository deleted since
    ]
    rows = effective_access(night(members=members, grants=grants), REPOS)
    assert rows == [
        AccessRow("api", "alice", "admin", "owner"),
        AccessRow("api", "bob", "admin", "editor"),
        AccessRow("api", "dev", "write", "member", ("web-team",)),
        AccessRow("api", "guest", "read", "member", ("qa",)),
        AccessRow("db", "alice", "admin", "owner"),
        AccessRow("db", "bob", "admin", "editor"),
        AccessRow("db", "dev", "write", "member", ("qa", "web-team")),
        AccessRow("db", "guest", "write", "member", ("qa",)),
        AccessRow("web", "alice", "admin", "owner"),
        AccessRow("web", "bob", "admin", "editor"),
        AccessRow("web", "dev", "admin", "member", ("web-team",)),
    ]
    assert [r.as_dict() for r in filter_access(rows, username="dev", min_permission="admin")] == [
        {
            "repository": "web",
            "username": "dev",
            "permission": "admin",
            "role": "member",
            "teams": ["web-team"],
        }
    ]
    assert [r.username for r in filter_access(rows, repository="api", min_permission="write")] == [
        "alice",
        "bob",
        "dev",
    ]
    assert role_counts(members) == {"owner": 1, "editor": 1, "member": 2, "invitee": 1}


def test_team_membership_comes_from_the_team_listings_when_the_night_has_them() -> None:
    members = [Member("dev", role="member", teams=("qa",))]
    teams = [Team("qa", ()), Team("ops", ("dev",))]  # the team listings disagree with `groups`: they win
    grants = [Grant("api", "qa", "admin"), Grant("api", "ops", "read")]
    rows = effective_access(night(members=members, teams=teams, grants=grants), REPOS)
    assert rows == [AccessRow("api", "dev", "read", "member", ("ops",))]


def test_effective_access_is_none_without_the_members_or_the_permissions() -> None:
    members, grants = [Member("alice", role="owner")], [Grant("api", "qa", "read")]
    assert effective_access(night(members=members), REPOS) is None
    assert effective_access(night(grants=grants), REPOS) is None
    assert effective_access(night(members=members, grants=[]), []) == []


# -- token flags ----------------------------------------------------------------------------------------


def token(expires: str | None, used: str | None, *, active: bool = True) -> Token:
    return Token("id", "ci", "alice", active, "2026-01-01T00:00:00Z", expires, used)


@pytest.mark.parametrize(
    ("expires", "used", "active", "flags"),
    [
        ("2027-01-03T23:59:59.999Z", "2026-12-03T10:00:00Z", True, ["expires_soon"]),  # exactly 30 days out
        ("2027-01-04T00:00:00Z", "2026-12-03T10:00:00Z", True, []),  # 31 days out
        ("2026-12-04T00:30:00Z", "2026-12-03T10:00:00Z", True, ["expires_soon"]),  # on the night's date
        ("2026-12-03T23:59:59.5Z", "2026-12-03T10:00:00Z", True, ["expired"]),  # yesterday
        (None, "2026-12-03T10:00:00Z", True, ["never_expires"]),
        (None, None, True, ["never_expires", "unused"]),  # never used
        (None, "2026-09-05T00:00:00Z", True, ["never_expires"]),  # used exactly 90 days ago
        (None, "2026-09-04T23:59:59Z", True, ["never_expires", "unused"]),  # used 91 days ago
        ("2026-01-01T00:00:00Z", None, False, ["expired", "unused", "inactive"]),
    ],
)
def test_token_flags_at_their_boundaries(
    expires: str | None, used: str | None, active: bool, flags: list[str]
) -> None:
    assert token_flags(token(expires, used, active=active), NIGHT) == flags


def test_token_flags_follow_the_days_given() -> None:
    soon = token("2026-12-10T00:00:00Z", "2026-12-01T00:00:00Z")
    assert token_flags(soon, NIGHT, expiring_days=5) == []
    assert token_flags(soon, NIGHT, expiring_days=6, unused_days=2) == ["expires_soon", "unused"]


# -- changes --------------------------------------------------------------------------------------------


def full_night(day: date, members: list[Member], tokens: list[Token], grants: list[Grant]) -> AccessNight:
    teams: dict[str, list[str]] = {}
    for member in members:
        for team in member.teams:
            teams.setdefault(team, []).append(member.username)
    listed = [Team(name, tuple(sorted(users))) for name, users in sorted(teams.items())]
    return night(day, members=members, teams=listed, grants=grants, tokens=tokens)


BEFORE = full_night(
    NIGHT,
    [Member("alice", role="owner"), Member("dev", teams=("qa",)), Member("old", teams=("qa",))],
    [Token("t1", "ci", last_used_at="2026-12-03T00:00:00Z"), Token("t2", "deploy")],
    [Grant("api", "qa", "read"), Grant("db", "qa", "write"), Grant("web", "qa", "admin")],
)
AFTER = full_night(
    NIGHT + timedelta(days=1),
    [
        Member("alice", role="owner"),
        Member("dev", role="editor", teams=("ops",)),
        Member("new", role="invitee"),
    ],
    [Token("t1", "ci", last_used_at="2026-12-04T00:00:00Z"), Token("t3", "scanner")],
    [Grant("api", "qa", "admin"), Grant("db", "ops", "read"), Grant("web", "qa", "admin")],
)


def test_effective_access_of_one_user_or_one_repository_is_exactly_those_rows_of_the_whole() -> None:
    for state in (BEFORE, AFTER):  # an owner, an editor, members, an invitee
        whole = effective_access(state, REPOS)
        assert whole
        users = (*(state.roles or {}), "nobody")
        for user in users:
            assert effective_access(state, REPOS, username=user) == filter_access(whole, username=user)
        for repo in ("api", "db", "web", "gone"):
            assert effective_access(state, REPOS, repository=repo) == filter_access(whole, repository=repo)
            for user in users:
                one = filter_access(whole, username=user, repository=repo)
                assert effective_access(state, REPOS, username=user, repository=repo) == one
    assert effective_access(replace(BEFORE, grants=None), REPOS, username="alice") is None


def test_every_kind_of_change_between_two_nights() -> None:
    later = NIGHT + timedelta(days=1)
    assert changes_between(BEFORE, AFTER) == [
        AccessChange("member_added", later, username="new", to="invitee"),
        AccessChange("member_removed", later, username="old", from_="member"),
        AccessChange("role_changed", later, username="dev", from_="member", to="editor"),
        AccessChange("team_member_added", later, username="dev", team="ops"),
        AccessChange("team_member_removed", later, username="dev", team="qa"),
        AccessChange("team_member_removed", later, username="old", team="qa"),
        AccessChange("permission_granted", later, team="ops", repository="db", to="read"),
        AccessChange("permission_revoked", later, team="qa", repository="db", from_="write"),
        AccessChange("permission_changed", later, team="qa", repository="api", from_="read", to="admin"),
        AccessChange("token_created", later, token="scanner", token_id="t3"),
        AccessChange("token_removed", later, token="deploy", token_id="t2"),
    ]
    assert {change.change for change in changes_between(BEFORE, AFTER)} == set(KINDS)
    assert changes_between(AFTER, AFTER) == []  # t1's last_used_at moved: no change
    assert list(changes_between(BEFORE, AFTER)[0].as_dict()) == [
        "change",
        "username",
        "team",
        "repository",
        "token",
        "from",
        "to",
        "by",
        "at",
    ]


@pytest.mark.parametrize("which", ["before", "after"])
@pytest.mark.parametrize(
    ("missing", "gone"),
    [
        (("members",), ("member_", "role_")),  # the team listings still say who is in which team
        (("members", "teams"), ("member_", "role_", "team_")),
        (("grants",), ("permission_",)),
        (("tokens",), ("token_",)),
    ],
)
def test_a_listing_missing_on_either_night_gives_no_changes_for_it(
    which: str, missing: tuple[str, ...], gone: tuple[str, ...]
) -> None:
    pair = {"before": BEFORE, "after": AFTER}
    kept = pair[which]
    listings = {"members": kept.members, "teams": kept.teams, "grants": kept.grants, "tokens": kept.tokens}
    pair[which] = AccessNight(
        kept.night, kept.taken_at, **{k: v for k, v in listings.items() if k not in missing}
    )
    kinds = [change.change for change in changes_between(pair["before"], pair["after"])]
    assert set(kinds) == {kind for kind in KINDS if not kind.startswith(gone)}


def test_without_the_team_listings_team_changes_come_from_the_members_groups() -> None:
    before = AccessNight(BEFORE.night, members=BEFORE.members)
    after = AccessNight(AFTER.night, members=AFTER.members)
    team_changes = [c for c in changes_between(before, after) if c.change.startswith("team_")]
    assert team_changes == [c for c in changes_between(BEFORE, AFTER) if c.change.startswith("team_")]


def test_someone_who_joins_and_leaves_between_two_stored_nights_shows_twice() -> None:
    days = [NIGHT + timedelta(days=k) for k in range(4)]
    alone, joined = [Member("alice", role="owner")], [Member("alice", role="owner"), Member("dev")]
    nights = [night(days[0], members=alone), night(days[1], members=joined)]
    nights += [night(days[2], members=alone), night(days[3], members=alone)]
    found = walk(list(reversed(nights)))  # any order: walked by date
    assert found == [
        AccessChange("member_added", days[1], username="dev", to="member"),
        AccessChange("member_removed", days[2], username="dev", from_="member"),
    ]
    assert changes_between(nights[0], nights[3]) == []  # why the caller walks consecutive nights


# -- attribution ----------------------------------------------------------------------------------------


def event(action: str, name: str, actor: str, when: datetime, **data: str) -> dict[str, Any]:
    """An event as `store.audit.events` gives it."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"timestamp": stamp, "action": action, "name": name, "actor": actor, "data": data}


def test_attribution_takes_the_newest_matching_event_inside_the_window_and_ignores_the_rest() -> None:
    start, end = event_window(BEFORE, AFTER)
    assert BEFORE.taken_at is not None and AFTER.taken_at is not None
    assert (start, end) == (BEFORE.taken_at - OVERLAP, AFTER.taken_at + OVERLAP)
    inside = start + timedelta(minutes=30)
    events = [
        event("org.member.remove", ORG, "carol", inside, username="old"),
        event("org.member.remove", ORG, "alice", inside + timedelta(hours=2), username="old"),  # newest
        event("org.member.remove", ORG, "mallory", end + timedelta(seconds=1), username="old"),  # after
        event("org.member.role.change", ORG, "eve", start - timedelta(seconds=1), username="dev"),  # before
        event("org.member.role.change", ORG, "carol", start, username="dev", to="editor"),  # the edge
        event("org.team.member.add", "dev", "carol", inside, team="ops"),
        event("org.team.member.remove", "dev", "alice", inside, team="dev-team"),  # another team
        event("org.team.member.remove", "old", "bob", inside, team="qa"),
        event("org.access_token.create", ORG, "alice", inside, label="scanner", id="t3"),
        event("org.access_token.delete", ORG, "carol", inside, id="t2"),  # named by its id only
        event("org.member.invite.send", ORG, "alice", inside, invitee="new", role="member"),
        event("org.member.add", ORG, "bob", inside, username="new"),  # not an invitation
        event("repo.delete", f"{ORG}/api", "bob", inside),
    ]
    attributed = attribute(changes_between(BEFORE, AFTER), events, (start, end))
    by = {(c.change, c.username or c.token or c.repository, c.team): (c.by, c.at) for c in attributed}
    assert by == {
        ("member_added", "new", None): ("alice", events[10]["timestamp"]),
        ("member_removed", "old", None): ("alice", events[1]["timestamp"]),
        ("role_changed", "dev", None): ("carol", events[4]["timestamp"]),
        ("team_member_added", "dev", "ops"): ("carol", events[5]["timestamp"]),
        ("team_member_removed", "dev", "qa"): (None, None),
        ("team_member_removed", "old", "qa"): ("bob", events[7]["timestamp"]),
        ("permission_granted", "db", "ops"): (None, None),
        ("permission_revoked", "db", "qa"): (None, None),
        ("permission_changed", "api", "qa"): (None, None),
        ("token_created", "scanner", None): ("alice", events[8]["timestamp"]),
        ("token_removed", "deploy", None): ("carol", events[9]["timestamp"]),
    }


def test_an_accepted_invite_is_a_role_change_explained_by_the_member_adding_themself() -> None:
    before = night(NIGHT, members=[Member("new", role="invitee")])
    after = night(NIGHT + timedelta(days=1), members=[Member("new", role="member")])
    when = datetime(2026, 12, 5, 0, 20, tzinfo=UTC)
    accepted = event("org.member.add", ORG, "new", when, username="NEW", role="member")
    (change,) = walk([before, after], [accepted])
    assert (change.change, change.from_, change.to, change.by) == ("role_changed", "invitee", "member", "new")
    unknown_run = AccessNight(after.night, None, members=after.members)  # counted to the end of its date
    late = event("org.member.add", ORG, "new", datetime(2026, 12, 5, 23, 59, tzinfo=UTC), username="new")
    assert walk([before, unknown_run], [late])[0].by == "new"
    assert walk([before, after], [late])[0].by is None
    next_day = event("org.member.add", ORG, "new", datetime(2026, 12, 6, 0, 1, tzinfo=UTC), username="new")
    assert walk([before, unknown_run], [next_day])[0].by is None  # a whole date has no overlap
    naive = AccessNight(after.night, datetime(2026, 12, 5, 1), members=after.members)  # naive is UTC
    assert naive.taken_at == after.taken_at and walk([before, naive], [accepted])[0].by == "new"


# -- against the fake Hub's history ----------------------------------------------------------------------

START, DAYS, PAT = date(2026, 11, 2), 9, "pat-alice"


def listing(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a listing, following ``next`` as a client does."""
    found: list[dict[str, Any]] = []
    url: str | None = path
    while url:
        response = client.get(url, params=params if url == path else None)
        assert response.status_code == 200, response.text
        found += response.json()["results"]
        url = response.json()["next"]
    return found


def read_night(hub: FakeHub, day: int) -> tuple[AccessNight, list[Repository]]:
    """The night of ``day`` as the access review reads it: every listing over HTTP."""
    with httpx.Client(base_url=hub.url, headers=login(hub.url, PAT, "alice")) as client:
        repos = listing(client, f"/v2/namespaces/{ORG}/repositories", page_size=100)
        members = listing(client, f"/v2/orgs/{ORG}/members", invites="true", type="all")
        teams = [
            (team, listing(client, f"/v2/orgs/{ORG}/groups/{team['name']}/members"))
            for team in listing(client, f"/v2/orgs/{ORG}/groups")
        ]
        grants = {
            repo["name"]: listing(client, f"/v2/repositories/{ORG}/{repo['name']}/groups") for repo in repos
        }
        tokens = [
            (item, client.get(f"/v2/orgs/{ORG}/access-tokens/{item['id']}").json())
            for item in listing(client, f"/v2/orgs/{ORG}/access-tokens")
        ]
    taken = datetime.fromtimestamp(night_moment(START, day), UTC)
    state = parse_night(
        taken.date(), taken_at=taken, members=members, teams=teams, grants=grants, tokens=tokens
    )
    return state, [parse_repository(repo) for repo in repos]


def truth(hub: FakeHub) -> dict[str, Any]:
    state = hub.access[ORG]
    return {
        "roles": {name: m["role"].lower() for name, m in state.members.items()},
        "teams": {(t, u) for t, team in state.teams.items() for u in team["members"]},
        "grants": {(r, t): p for r, granted in state.permissions.items() for t, p in granted.items()},
        "tokens": {t["id"]: t["label"] for t in state.tokens},
    }


def true_changes(old: dict[str, Any], new: dict[str, Any], day: date) -> list[tuple[Any, ...]]:
    """(night, change, username, team, repository, token, from, to) of what the history changed."""
    roles, was = new["roles"], old["roles"]
    found = [(day, "member_added", u, None, None, None, None, roles[u]) for u in roles.keys() - was.keys()]
    found += [(day, "member_removed", u, None, None, None, was[u], None) for u in was.keys() - roles.keys()]
    found += [
        (day, "role_changed", u, None, None, None, was[u], roles[u])
        for u in roles.keys() & was.keys()
        if roles[u] != was[u]
    ]
    found += [
        (day, "team_member_added", u, t, None, None, None, None) for t, u in new["teams"] - old["teams"]
    ]
    found += [
        (day, "team_member_removed", u, t, None, None, None, None) for t, u in old["teams"] - new["teams"]
    ]
    for key in old["grants"].keys() | new["grants"].keys():
        before, after = old["grants"].get(key), new["grants"].get(key)
        if before == after:
            continue
        kind = "permission_changed"
        if before is None or after is None:
            kind = "permission_granted" if before is None else "permission_revoked"
        found.append((day, kind, None, key[1], key[0], None, before, after))
    created = new["tokens"].keys() - old["tokens"].keys()
    found += [(day, "token_created", None, None, None, new["tokens"][i], None, None) for i in created]
    removed = old["tokens"].keys() - new["tokens"].keys()
    found += [(day, "token_removed", None, None, None, old["tokens"][i], None, None) for i in removed]
    return found


def explaining_event(change: AccessChange, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The one event the history wrote for ``change`` on its day."""
    data = {
        "member_added": ("org.member.invite.send", "invitee")
        if change.to == "invitee"
        else ("org.member.add", "username"),
        "member_removed": ("org.member.remove", "username"),
        "role_changed": (
            "org.member.add" if change.from_ == "invitee" else "org.member.role.change",
            "username",
        ),
    }
    day = change.night.isoformat() if change.night else ""
    todays = [e for e in events if e["timestamp"].startswith(day)]
    if change.change in data:
        action, key = data[change.change]
        found = [e for e in todays if e["action"] == action and e["data"].get(key) == change.username]
    elif change.change.startswith("team_member"):
        action = "org.team.member.add" if change.change == "team_member_added" else "org.team.member.remove"
        found = [
            e
            for e in todays
            if (e["action"], e["name"], e["data"].get("team")) == (action, change.username, change.team)
        ]
    else:
        action = "org.access_token.create" if change.change == "token_created" else "org.access_token.delete"
        found = [e for e in todays if e["action"] == action and e["data"]["id"] == change.token_id]
    assert len(found) == 1, (change, found)
    return found[0]


def test_the_changes_of_the_history_are_exactly_what_it_changed_each_attributed_to_its_event(
    sqlite_engine: Any,
) -> None:
    hubs = []
    for day in range(DAYS):
        hub = FakeHub(credentials={PAT: ("alice", "all")})
        build(hub, ORG, 60, day=day, start=START, access=True)
        hubs.append(hub)
    nights = []
    for day, hub in enumerate(hubs):
        with hub:
            state, repos = read_night(hub, day)
        nights.append(state)
        assert {m.username: m.role for m in state.members or ()} == truth(hub)["roles"]
        check_effective_access(hub, state, repos)
    store.audit.store_events(sqlite_engine, ORG, hubs[-1].audit[ORG])
    events = store.audit.events(sqlite_engine, ORG, actions=AUDIT_ACTIONS)
    found = walk(nights, events)
    expected = [
        row
        for day in range(1, DAYS)
        for row in true_changes(truth(hubs[day - 1]), truth(hubs[day]), nights[day].night)
    ]
    assert sorted(map(_row, found), key=repr) == sorted(expected, key=repr)
    assert {change.change for change in found} == set(KINDS)  # the history makes every kind
    for change in found:
        if change.change.startswith("permission_"):
            assert (change.by, change.at) == (None, None)
            continue
        logged = explaining_event(change, events)
        assert (change.by, change.at) == (logged["actor"], logged["timestamp"]), change


def _row(change: AccessChange) -> tuple[Any, ...]:
    c = change
    return (c.night, c.change, c.username, c.team, c.repository, c.token, c.from_, c.to)


def check_effective_access(hub: FakeHub, state: AccessNight, repos: list[Repository]) -> None:
    """Each member's effective access equals what the Hub's own state gives them, by Docker's rules."""
    org = hub.access[ORG]
    private = {repo["name"]: repo["is_private"] for repo in hub.repos[ORG]}
    rank = {"read": 1, "write": 2, "admin": 3}
    want = set()
    for name, member in org.members.items():
        role = member["role"].lower()
        if role in ("owner", "editor"):
            want |= {(repo, name, "admin", role, ()) for repo in private}
            continue
        for repo, granted in org.permissions.items() if role == "member" else ():
            mine = {team: p for team, p in granted.items() if team in org.groups_of(name)}
            if mine:
                top = max(mine.values(), key=rank.__getitem__)
                if top != "read" or private[repo]:
                    teams = tuple(sorted(team for team, p in mine.items() if p == top))
                    want.add((repo, name, top, role, teams))
    rows = effective_access(state, repos)
    assert (
        rows is not None and {(r.repository, r.username, r.permission, r.role, r.teams) for r in rows} == want
    )
