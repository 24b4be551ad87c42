"""The access review's Hub side against the fake Hub over real HTTP: a night read through the run's
session equals the Hub's state; a refused listing is None and one warning naming the permission, the
rest exact; any other failure raises (no partial night); and the night's CSVs, private where they hold
personal data, with no email in any log line."""

import logging
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fakehub import FakeHub, make_repos
from hubaccess import OrgAccess, make_access

from dockerhub_export import access
from dockerhub_export.access_csv import write_access_csvs
from dockerhub_export.access_fetch import fetch_access
from dockerhub_export.errors import HubUnavailable
from dockerhub_export.resources import ACCESS_TOKENS, MEMBERS, REPOSITORY_GROUPS, TEAMS, Resource
from dockerhub_export.session import open_session

ORG, NIGHT = "acme", date(2026, 12, 4)
PAT, OAT = "dckr_pat_alice-owner", "dckr_oat_acme-all"
WITHOUT = {  # a PAT of the owner alice, lacking one scope
    "scope-member-read": ("dckr_pat_alice-nomember", MEMBERS, "members"),
    "scope-group-read": ("dckr_pat_alice-nogroup", TEAMS, "teams"),
    "scope-repo-group-read": ("dckr_pat_alice-norepogroup", REPOSITORY_GROUPS, "grants"),
}


def credentials() -> dict[str, tuple[str, str]]:
    limited = {secret: ("alice", f"all -{scope}") for scope, (secret, _, _) in WITHOUT.items()}
    return {PAT: ("alice", "all"), OAT: (ORG, "all"), **limited}


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    """acme: 40 repositories (a third private), 24 people (two invitees), 3 teams, 25 tokens."""
    repos = make_repos(ORG, 40)
    server = FakeHub({ORG: repos}, credentials())
    server.access[ORG] = state = make_access(ORG, repos, members=24)
    for k in range(25 - len(state.tokens)):
        state.tokens.append(dict(state.tokens[k % 6], id=f"extra-{k}", label=f"extra-{k}"))
    with server:
        yield server


def repositories(hub: FakeHub) -> list[access.Repository]:
    return [access.parse_repository(repo) for repo in hub.repos[ORG]]


def truth(hub: FakeHub, names: list[str] | None = None) -> access.AccessNight:
    """The night as the fake Hub's own state has it, read by `access.parse_night`."""
    state = hub.access[ORG]
    names = [repo["name"] for repo in hub.repos[ORG]] if names is None else names
    return access.parse_night(
        NIGHT,
        members=[state.member_payload(username) for username in state.members],
        teams=[
            (state.team_payload(name), [state.team_member_payload(u) for u in team["members"]])
            for name, team in state.teams.items()
        ],
        grants={name: state.repo_groups_payload(name) for name in names},
        tokens=[
            (state.token_payload(t, resources=False), state.token_payload(t, resources=True))
            for t in state.tokens
        ],
    )


def read_night(hub: FakeHub, settings_for: Any, token: str = PAT, **overrides: Any) -> Any:
    username = None if token.startswith("dckr_oat_") else "alice"
    settings = settings_for(hub, token=token, username=username, **overrides)
    with open_session(settings) as session:
        return fetch_access(session, repositories(hub), night=NIGHT)


def without_time(night: access.AccessNight) -> tuple[Any, ...]:
    return (night.night, night.members, night.teams, night.grants, night.tokens)


def test_a_full_night_equals_the_hubs_members_invitees_teams_permissions_and_tokens(
    hub: FakeHub, settings_for: Any
) -> None:
    night, warnings = read_night(hub, settings_for)
    assert warnings == [] and night.taken_at is not None
    assert without_time(night) == without_time(truth(hub))
    state = hub.access[ORG]
    assert night.members is not None and len(night.members) == 24
    assert [m.username for m in night.members if m.role == access.INVITEE] == ["new000", "new001"]
    assert night.grants is not None and len(night.grants) == sum(map(len, state.permissions.values())) > 0
    assert night.tokens is not None and len(night.tokens) == 25
    assert all(token.resources for token in night.tokens)
    # One permission request per repository; the tokens 10 a page (counted by total); a detail each.
    groups = [r for r in hub.requests if r.path.endswith("/groups") and r.path.startswith("/v2/repositories")]
    assert sorted(r.path.split("/")[4] for r in groups) == sorted(repo["name"] for repo in hub.repos[ORG])
    listed = [r for r in hub.requests if r.path == f"/v2/orgs/{ORG}/access-tokens"]
    assert listed[0].query["page"] == ["1"] and sorted(r.query["page"][0] for r in listed) == ["1", "2", "3"]
    assert {r.query["page_size"][0] for r in listed} == {"10"}
    details = [r for r in hub.requests if r.path.startswith(f"/v2/orgs/{ORG}/access-tokens/")]
    assert len(details) == 25 and all(r.status == 200 for r in details)
    (members,) = [r for r in hub.requests if r.path == f"/v2/orgs/{ORG}/members"]
    assert members.query["invites"] == ["true"] and members.query["type"] == ["all"]


@pytest.mark.parametrize("scope", sorted(WITHOUT))
def test_a_token_lacking_a_scope_gives_that_listing_none_and_one_warning_naming_it_the_rest_exact(
    hub: FakeHub, settings_for: Any, scope: str
) -> None:
    secret, resource, listing = WITHOUT[scope]
    night, warnings = read_night(hub, settings_for, secret)
    assert warnings == [resource.refused(ORG)] and scope in warnings[0]
    assert getattr(night, listing) is None
    expected = truth(hub)
    for other in ("members", "teams", "grants", "tokens"):
        if other != listing:
            assert getattr(night, other) == getattr(expected, other), other
    assert night.listings() == frozenset(access.LISTINGS) - {{"grants": access.GRANTS}.get(listing, listing)}


def test_an_org_access_token_gets_no_tokens_and_the_warning_names_an_owners_pat(
    hub: FakeHub, settings_for: Any
) -> None:
    night, warnings = read_night(hub, settings_for, OAT)
    assert warnings == [ACCESS_TOKENS.refused(ORG)]
    assert "an owner's personal access token" in warnings[0]
    expected = truth(hub)
    assert night.tokens is None
    assert (night.members, night.teams, night.grants) == (expected.members, expected.teams, expected.grants)
    refused = [r for r in hub.requests if "/access-tokens" in r.path]
    assert [r.status for r in refused] == [403]  # the listing only: no detail is asked for


def test_a_permission_listing_that_keeps_failing_raises_after_its_retries_and_no_night_is_returned(
    hub: FakeHub, settings_for: Any
) -> None:
    name = hub.repos[ORG][5]["name"]
    hub.faults.fail_groups[name] = [503] * 10
    with pytest.raises(HubUnavailable, match=f"{name} team permissions page 1 after 3 attempts"):
        read_night(hub, settings_for, max_attempts=3)
    tried = [r for r in hub.requests if r.path == f"/v2/repositories/{ORG}/{name}/groups"]
    assert [r.status for r in tried] == [503, 503, 503]
    assert not any("/access-tokens" in r.path for r in hub.requests)  # the read stopped there


def test_a_permission_request_that_fails_once_is_retried_and_the_night_is_exact(
    hub: FakeHub, settings_for: Any
) -> None:
    name = hub.repos[ORG][5]["name"]
    hub.faults.fail_groups[name] = [503, 0]  # a 503, then a dropped connection
    night, warnings = read_night(hub, settings_for, max_attempts=3)
    assert warnings == [] and without_time(night) == without_time(truth(hub))


def test_a_404_on_every_repositorys_permissions_is_the_listing_missing_one_warning_no_data(
    hub: FakeHub, settings_for: Any
) -> None:
    hub.faults.fail_groups = {repo["name"]: [404] for repo in hub.repos[ORG]}
    night, warnings = read_night(hub, settings_for)
    assert night.grants is None and warnings == [REPOSITORY_GROUPS.refused(ORG)]
    assert "scope-repo-group-read" in warnings[0]
    assert night.members == truth(hub).members
    assert access.effective_access(night, repositories(hub)) is None  # unknown, not "nobody"


def test_a_repository_deleted_during_the_read_is_skipped_with_a_warning_the_rest_exact(
    hub: FakeHub, settings_for: Any
) -> None:
    listed = repositories(hub)
    gone = listed[7].name
    hub.repos[ORG] = [repo for repo in hub.repos[ORG] if repo["name"] != gone]
    with open_session(settings_for(hub, token=PAT, username="alice")) as session:
        night, warnings = fetch_access(session, listed, night=NIGHT)
    assert len(warnings) == 1 and gone in warnings[0] and "404" in warnings[0]
    assert night.grants == truth(hub, [r.name for r in listed if r.name != gone]).grants


# -- the CSVs -------------------------------------------------------------------------------------------


def person(username: str, role: str, full_name: str, email: str, **more: Any) -> dict[str, Any]:
    return {
        "id": f"id-{username}",
        "username": username,
        "full_name": full_name,
        "company": "",
        "location": "",
        "profile_url": "",
        "gravatar_url": "",
        "gravatar_email": "",
        "date_joined": more.get("joined"),
        "type": "User",
        "email": email,
        "primary_email": email,
        "role": role,
        "is_guest": more.get("guest", False),
        "last_logged_in_at": None,
        "last_seen_at": None,
        "desktop": None,
    }


def small_org() -> OrgAccess:
    """Two admins by role, a guest member in two teams (a name a spreadsheet would run), an invitee."""
    state = OrgAccess(ORG, insights=False)
    for member in (
        person("alice", "Owner", "Alice Liddell", "alice@acme.example", joined="2024-01-02T03:04:05.123456Z"),
        person("bob", "Editor", 'Bob "The Builder", Jr.', "bob@acme.example", joined="2024-02-01T00:00:00Z"),
        person("dev1", "Member", "=cmd", "dev1@gmail.example", joined="2023-05-06T07:08:09Z", guest=True),
        person("new1", "Invitee", "", "new1@acme.example"),
    ):
        state.members[member["username"]] = member
    for k, team in enumerate(("developers", "qa")):
        state.teams[team] = {"id": 1000 + k, "uuid": f"u{k}", "description": "", "members": ["dev1"]}
    state.set_permission("repo-000000", "developers", "read")  # public: a read is not listed
    state.set_permission("repo-000001", "qa", "admin")
    state.set_permission("repo-000002", "developers", "write")  # private
    state.set_permission("repo-000002", "qa", "write")
    resources = [
        {"type": "TYPE_REPO", "path": "acme/repo-000002", "scopes": ["repo-push", "repo-pull"]},
        {"type": "TYPE_ORG", "path": "acme", "scopes": ["scope-member-read"]},
    ]
    state.tokens.append(
        {
            "id": "tok-1",
            "label": "ci-pull",
            "created_by": "alice",
            "is_active": True,
            "created_at": "2025-11-01T10:00:00Z",
            "expires_at": None,
            "last_used_at": "2025-11-20T08:30:00.5Z",
            "resources": resources,
        }
    )
    return state


EXPECTED = {
    "members": """\
"namespace","username","full_name","email","role","is_guest","teams","date_joined"
"acme","alice","Alice Liddell","alice@acme.example","owner",false,"","2024-01-02T03:04:05.123456Z"
"acme","bob","Bob ""The Builder"", Jr.","bob@acme.example","editor",false,"","2024-02-01T00:00:00Z"
"acme","dev1","'=cmd","dev1@gmail.example","member",true,"developers;qa","2023-05-06T07:08:09Z"
"acme","new1","","new1@acme.example","invitee",false,"",
""",
    "permissions": """\
"namespace","repository","team","permission"
"acme","repo-000000","developers","read"
"acme","repo-000001","qa","admin"
"acme","repo-000002","developers","write"
"acme","repo-000002","qa","write"
""",
    "access": """\
"namespace","repository","username","permission","role","teams"
"acme","repo-000000","alice","admin","owner",""
"acme","repo-000000","bob","admin","editor",""
"acme","repo-000001","alice","admin","owner",""
"acme","repo-000001","bob","admin","editor",""
"acme","repo-000001","dev1","admin","member","qa"
"acme","repo-000002","alice","admin","owner",""
"acme","repo-000002","bob","admin","editor",""
"acme","repo-000002","dev1","write","member","developers;qa"
""",
    "tokens": """\
"namespace","id","label","created_by","is_active","created_at","expires_at","last_used_at","resources"
"acme","tok-1","ci-pull","alice",true,"2025-11-01T10:00:00Z",,"2025-11-20T08:30:00.5Z",\
"TYPE_REPO acme/repo-000002: repo-pull, repo-push; TYPE_ORG acme: scope-member-read"
""",
}


@pytest.fixture
def small_hub() -> Iterator[FakeHub]:
    repos = make_repos(ORG, 3)  # repo-000002 private
    server = FakeHub({ORG: repos}, credentials())
    server.access[ORG] = small_org()
    with server:
        yield server


def test_a_small_orgs_four_csvs_hold_exactly_its_access_private_ones_0600_and_no_email_is_logged(
    small_hub: FakeHub, settings_for: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    night, warnings = read_night(small_hub, settings_for)
    assert warnings == []
    paths = write_access_csvs(night, repositories(small_hub), tmp_path, ORG)
    assert [p.name for p in paths] == [f"{stem}-2026-12-04.csv" for stem in EXPECTED]
    assert {p.name.split("-")[0]: p.read_text(encoding="utf-8") for p in paths} == EXPECTED
    mask = os.umask(0o022)
    os.umask(mask)
    modes = {p.name.split("-")[0]: p.stat().st_mode & 0o777 for p in paths}
    public = 0o666 & ~mask
    assert modes == {"members": 0o600, "permissions": public, "access": 0o600, "tokens": public}
    assert list(tmp_path.glob(f"{ORG}/.*")) == []  # no temporary left behind
    emails = [m["email"] for m in small_hub.access[ORG].members.values()]
    logged = [record.getMessage() for record in caplog.records]
    assert logged and not [line for line in logged if any(email in line for email in emails)]
    assert any("4 members" in line for line in logged)


def test_a_private_csv_replacing_a_readable_one_is_0600_and_a_night_without_members_writes_neither(
    small_hub: FakeHub, settings_for: Any, tmp_path: Path
) -> None:
    stale = tmp_path / ORG / "members-2026-12-04.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("old\n")
    stale.chmod(0o644)
    night, _ = read_night(small_hub, settings_for)
    write_access_csvs(night, repositories(small_hub), tmp_path, ORG)
    assert stale.stat().st_mode & 0o777 == 0o600 and stale.read_text().startswith('"namespace"')
    unread, warnings = read_night(small_hub, settings_for, WITHOUT["scope-member-read"][0])
    paths = write_access_csvs(unread, repositories(small_hub), tmp_path / "again", ORG)
    assert [p.name.split("-")[0] for p in paths] == ["permissions", "tokens"] and len(warnings) == 1


def test_every_access_listing_is_optional_and_names_a_scope_or_an_owners_token() -> None:
    declared: list[Resource] = [MEMBERS, TEAMS, REPOSITORY_GROUPS, ACCESS_TOKENS]
    assert all(resource.optional and resource.without for resource in declared)
    assert all(scope in r.forbidden for scope, r in zip(WITHOUT, declared[:3], strict=True))
    assert "an owner's personal access token" in ACCESS_TOKENS.forbidden
