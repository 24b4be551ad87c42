"""The fake Hub's access routes (members, teams, repository team permissions, org access tokens), over
real HTTP as the access review will read them, and their day-by-day history (``build(access=True)``)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakehub import FakeHub
from hubaccess import make_access
from hubdata import make_repos
from hubhistory import build, night_moment, night_of
from test_fakehub_days import BANNER, instant

ORG, START = "acme", date(2026, 11, 2)
PAT, OAT, NOAUDIT, PUBLIC = "pat-alice", "dckr_oat_acme", "oat-noaudit", "oat-public"
MEMBER_KEYS = {"id", "username", "full_name", "email", "role", "groups", "is_guest", "date_joined", "type"}
TOKEN_KEYS = {"id", "label", "created_by", "is_active", "created_at", "expires_at", "last_used_at"}
ORG_ACTIONS = (
    "org.member.add",
    "org.member.remove",
    "org.member.role.change",
    "org.member.invite.send",
    "org.team.member.add",
    "org.team.member.remove",
    "org.access_token.create",
    "org.access_token.delete",
    "org.access_token.update",
)


def make_hub(
    *,
    members: int = 60,
    tokens: int = 0,
    insights: bool = True,
    more: dict[str, tuple[str, str]] | None = None,
) -> FakeHub:
    repos = make_repos(ORG, 90)
    hub = FakeHub({ORG: repos}, {PAT: ("alice", "all"), OAT: (ORG, "all"), **(more or {})})
    hub.access[ORG] = state = make_access(ORG, repos, members=members, insights=insights)
    for k in range(tokens - len(state.tokens)):
        state.tokens.append(dict(state.tokens[k % 6], id=f"extra-{k}", label=f"extra-{k}"))
    return hub


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with make_hub(tokens=25) as started:
        yield started


def login(url: str, secret: str, identifier: str = ORG) -> dict[str, str]:
    response = httpx.post(f"{url}/v2/auth/token", json={"identifier": identifier, "secret": secret})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def pages(base: str, path: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every page of a listing, following ``next`` as a client does."""
    found: list[dict[str, Any]] = []
    url: str | None = f"{base}{path}"
    while url:
        response = httpx.get(url, headers=headers, params=params if not found else None)
        assert response.status_code == 200, response.text
        found.append(response.json())
        url = found[-1]["next"]
    return found


def results(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for page in listed for item in page["results"]]


# -- shapes and paging -----------------------------------------------------------------------------------


def test_members_come_25_a_page_under_the_cap_and_invitees_only_with_invites_true(hub: FakeHub) -> None:
    hub.faults.page_size_cap = 25
    owner, state = login(hub.url, PAT, "alice"), hub.access[ORG]
    listed = pages(hub.url, f"/v2/orgs/{ORG}/members", owner, invites="true", type="all", page_size=100)
    assert [len(page["results"]) for page in listed] == [25, 25, 10]
    assert {page["count"] for page in listed} == {60} and listed[-1]["next"] is None
    assert listed[1]["previous"].startswith(f"{hub.url}/v2/orgs/{ORG}/members?page=1&page_size=25")
    everyone = results(listed)
    assert [m["username"] for m in everyone] == sorted(state.members)
    assert all(MEMBER_KEYS <= set(member) for member in everyone)
    assert {m["role"] for m in everyone} == {"Owner", "Editor", "Member", "Invitee"}
    joined = results(pages(hub.url, f"/v2/orgs/{ORG}/members", owner))
    assert [m["username"] for m in joined] == [m["username"] for m in everyone if m["role"] != "Invitee"]
    invitees = results(pages(hub.url, f"/v2/orgs/{ORG}/members", owner, invites="true", type="invitee"))
    assert [m["role"] for m in invitees] == ["Invitee", "Invitee"]
    assert all(m["groups"] == [] and m["date_joined"] is None for m in invitees)
    owners = results(pages(hub.url, f"/v2/orgs/{ORG}/members", owner, role="owner"))
    assert [m["username"] for m in owners] == ["alice", "carol"]
    (found,) = results(pages(hub.url, f"/v2/orgs/{ORG}/members", owner, search="DEV007"))
    assert found["username"] == "dev007"


@pytest.mark.parametrize("insights", [True, False])
def test_last_logged_in_and_last_seen_are_served_only_when_the_org_has_insights(insights: bool) -> None:
    with make_hub(insights=insights) as hub:
        members = results(pages(hub.url, f"/v2/orgs/{ORG}/members", login(hub.url, OAT)))
    extra = {"last_logged_in_at", "last_seen_at", "last_desktop_version"}
    assert all((extra <= set(m)) == insights and (not extra & set(m)) == (not insights) for m in members)


def teams_agree(url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Assert that each member's ``groups`` are the teams whose member listings name them; the teams."""
    teams = results(pages(url, f"/v2/orgs/{ORG}/groups", headers, page_size=2))
    assert all(set(team) == {"id", "uuid", "name", "description", "member_count"} for team in teams)
    members = results(pages(url, f"/v2/orgs/{ORG}/members", headers, invites="true"))
    in_team: dict[str, list[str]] = {m["username"]: [] for m in members}
    for team in teams:
        listed = results(pages(url, f"/v2/orgs/{ORG}/groups/{team['name']}/members", headers, page_size=3))
        assert len(listed) == team["member_count"]
        assert all({"id", "username", "full_name", "email", "date_joined"} <= set(p) for p in listed)
        for person in listed:
            in_team[person["username"]].append(team["name"])
    assert {m["username"]: m["groups"] for m in members} == in_team
    assert all(not m["groups"] for m in members if m["role"] == "Invitee")
    return teams


def test_teams_and_their_members_page_and_agree_with_each_members_groups(hub: FakeHub) -> None:
    headers = login(hub.url, OAT)
    teams = teams_agree(hub.url, headers)
    assert [t["name"] for t in teams] == sorted(hub.access[ORG].teams) and len(teams) == 6
    assert all(team["member_count"] > 0 for team in teams)
    someone = hub.access[ORG].teams["qa"]["members"][0]
    theirs = results(pages(hub.url, f"/v2/orgs/{ORG}/groups", headers, username=someone))
    assert "qa" in [t["name"] for t in theirs] == hub.access[ORG].groups_of(someone)


def test_a_night_of_the_history_served_agrees_and_a_deleted_repository_has_no_permissions() -> None:
    hub, before = access_on(6), access_on(5)
    deleted = {r["name"] for r in before.repos[ORG]} - {r["name"] for r in hub.repos[ORG]}
    hub.credentials[OAT] = (ORG, "all")
    with hub:
        headers = login(hub.url, OAT)
        teams_agree(hub.url, headers)
        for name in sorted(deleted):
            response = httpx.get(f"{hub.url}/v2/repositories/{ORG}/{name}/groups", headers=headers)
            assert response.status_code == 404
    assert deleted and not set(hub.access[ORG].permissions) & deleted


def test_the_default_org_grows_to_400_members_in_40_teams_at_4000_repositories() -> None:
    state = make_access(ORG, make_repos(ORG, 4000))
    assert (len(state.members), len(state.teams)) == (400, 40)


def test_a_repositorys_team_permissions_are_one_request_each_and_name_the_teams_ids(hub: FakeHub) -> None:
    headers, state = login(hub.url, OAT), hub.access[ORG]
    ids = {name: team["id"] for name, team in state.teams.items()}
    seen = 0
    for repo in hub.repos[ORG]:
        (page,) = pages(hub.url, f"/v2/repositories/{ORG}/{repo['name']}/groups", headers)
        assert set(page) == {"count", "next", "previous", "results"}
        for grant in page["results"]:
            assert set(grant) == {"group_name", "permission", "group_id"}
            assert (
                grant["permission"] in ("read", "write", "admin")
                and grant["group_id"] == ids[grant["group_name"]]
            )
        assert {g["group_name"]: g["permission"] for g in page["results"]} == state.permissions.get(
            repo["name"], {}
        )
        seen += len(page["results"])
    assert seen > 30
    assert sum(r.path.endswith("/groups") for r in hub.requests) == len(hub.repos[ORG])


def test_tokens_are_counted_by_total_at_10_a_page_and_the_detail_adds_resources(hub: FakeHub) -> None:
    owner = login(hub.url, PAT, "alice")
    listed = pages(hub.url, f"/v2/orgs/{ORG}/access-tokens", owner)
    assert [len(page["results"]) for page in listed] == [10, 10, 5]
    assert all(page["total"] == 25 and "count" not in page for page in listed)
    tokens = results(listed)
    assert all(set(token) == TOKEN_KEYS for token in tokens)
    assert any(t["expires_at"] is None for t in tokens) and any(t["last_used_at"] is None for t in tokens)
    detail = httpx.get(f"{hub.url}/v2/orgs/{ORG}/access-tokens/{tokens[0]['id']}", headers=owner).json()
    assert set(detail) == TOKEN_KEYS | {"resources"} and {k: detail[k] for k in TOKEN_KEYS} == tokens[0]
    assert detail["resources"] and all(set(r) == {"type", "path", "scopes"} for r in detail["resources"])
    assert {r["type"] for r in detail["resources"]} <= {"TYPE_REPO", "TYPE_ORG"}


# -- who may read what ---------------------------------------------------------------------------------

LISTINGS = {
    "scope-member-read": [f"/v2/orgs/{ORG}/members"],
    "scope-group-read": [f"/v2/orgs/{ORG}/groups", f"/v2/orgs/{ORG}/groups/developers/members"],
    "scope-repo-group-read": [f"/v2/repositories/{ORG}/repo-000000/groups"],
}


@pytest.mark.parametrize("missing", sorted(LISTINGS))
def test_a_token_without_a_scope_gets_403_on_its_listings_and_reads_the_others(missing: str) -> None:
    with make_hub(more={"limited": (ORG, f"all -{missing}")}) as hub:
        headers = login(hub.url, "limited")
        for scope, paths in LISTINGS.items():
            for path in paths:
                response = httpx.get(f"{hub.url}{path}", headers=headers)
                if scope == missing:
                    assert response.status_code == 403, path
                    body = response.json()
                    assert set(body) == {"detail", "errinfo", "message"} and missing in body["detail"]
                else:
                    assert response.status_code == 200, path
        assert httpx.get(f"{hub.url}/v2/auditlogs/{ORG}", headers=headers).status_code == 200


def test_an_org_access_token_cannot_list_tokens_an_owners_pat_can_and_a_members_pat_cannot() -> None:
    with make_hub(more={"pat-dev": ("dev000", "all")}) as hub:
        token_id = hub.access[ORG].tokens[0]["id"]
        for secret, who, status in ((OAT, ORG, 403), (PAT, "alice", 200), ("pat-dev", "dev000", 403)):
            headers = login(hub.url, secret, who)
            for path in (f"/v2/orgs/{ORG}/access-tokens", f"/v2/orgs/{ORG}/access-tokens/{token_id}"):
                response = httpx.get(f"{hub.url}{path}", headers=headers)
                assert response.status_code == status, (secret, path)
            assert httpx.get(f"{hub.url}/v2/orgs/{ORG}/members", headers=headers).status_code == 200


@pytest.mark.parametrize(("scope", "status"), [("all", 200), ("all-noaudit", 200), ("public", 403)])
def test_the_existing_credential_scopes_keep_their_meaning_on_the_access_routes(
    scope: str, status: int
) -> None:
    repos = make_repos(ORG, 30)
    with FakeHub({ORG: repos}, {"secret": (ORG, scope)}) as hub:
        hub.access[ORG] = make_access(ORG, repos)
        headers = login(hub.url, "secret")
        for paths in LISTINGS.values():
            for path in paths:
                assert httpx.get(f"{hub.url}{path}", headers=headers).status_code == status, path
        listed = httpx.get(
            f"{hub.url}/v2/namespaces/{ORG}/repositories", headers=headers, params={"page_size": 100}
        )
        assert listed.json()["count"] == (30 if scope != "public" else 20)


@pytest.mark.parametrize(
    "path",
    [
        "/v2/orgs/nobody/members",
        "/v2/orgs/nobody/groups",
        f"/v2/orgs/{ORG}/groups/no-such-team/members",
        f"/v2/repositories/{ORG}/no-such-repo/groups",
        "/v2/repositories/nobody/repo-000000/groups",
        f"/v2/orgs/{ORG}/access-tokens/no-such-id",
        "/v2/orgs/nobody/access-tokens",
        f"/v2/orgs/{ORG}/members?page=9",
    ],
)
def test_an_unknown_org_team_repository_token_or_page_is_a_404(hub: FakeHub, path: str) -> None:
    response = httpx.get(f"{hub.url}{path}", headers=login(hub.url, PAT, "alice"))
    assert response.status_code == 404 and "detail" in response.json()


def test_a_permission_request_can_fail_once_for_one_repository_and_then_answer(hub: FakeHub) -> None:
    hub.faults.fail_groups["repo-000003"] = [503, 0]
    headers = login(hub.url, OAT)
    url = f"{hub.url}/v2/repositories/{ORG}/repo-000003/groups"
    assert httpx.get(url, headers=headers).status_code == 503
    with pytest.raises(httpx.TransportError):
        httpx.get(url, headers=headers)
    assert httpx.get(url, headers=headers).status_code == 200


# -- the history ----------------------------------------------------------------------------------------


def access_on(day: int, *, access: bool = True) -> FakeHub:
    hub = FakeHub()
    build(hub, ORG, 150, tags=2, seed=0, day=day, start=START, access=access)
    return hub


def day_events(hub: FakeHub, day: int) -> list[dict[str, Any]]:
    iso = night_of(START, day).isoformat()
    return [
        e for e in hub.audit.get(ORG, []) if e["timestamp"].startswith(iso) and e["action"].startswith("org.")
    ]


def test_access_history_is_repeatable_and_leaves_the_repositories_tags_and_their_events_alone() -> None:
    with_access, again, without = access_on(4), access_on(4), access_on(4, access=False)
    assert with_access.access[ORG] == again.access[ORG] and with_access.audit == again.audit
    assert (with_access.repos, with_access.tags) == (without.repos, without.tags)
    repo_events = [e for e in with_access.audit[ORG] if not e["action"].startswith("org.")]
    assert repo_events == without.audit[ORG] and without.access == {}
    assert len(with_access.audit[ORG]) > len(repo_events)


def _state(hub: FakeHub) -> dict[str, Any]:
    state = hub.access[ORG]
    return {
        "roles": {name: m["role"] for name, m in state.members.items()},
        "teams": {(u, t) for t, team in state.teams.items() for u in team["members"]},
        "tokens": {t["label"]: t["is_active"] for t in state.tokens},
        "permissions": {(r, t, p) for r, granted in state.permissions.items() for t, p in granted.items()},
    }


def _explained(old: dict[str, Any], new: dict[str, Any]) -> set[tuple[str, str, str]]:
    """The (action, name, detail) of the events that each member, team and token change calls for."""
    want: set[tuple[str, str, str]] = set()
    for user in old["roles"].keys() - new["roles"].keys():
        want.add(("org.member.remove", ORG, user))
    for user, role in new["roles"].items():
        before = old["roles"].get(user)
        if before is None:
            want.add(("org.member.invite.send" if role == "Invitee" else "org.member.add", ORG, user))
        elif before == "Invitee" and role != "Invitee":
            want.add(("org.member.add", ORG, user))
        elif before != role:
            want.add(("org.member.role.change", ORG, f"{user}:{before.lower()}>{role.lower()}"))
    want |= {("org.team.member.add", user, team) for user, team in new["teams"] - old["teams"]}
    want |= {("org.team.member.remove", user, team) for user, team in old["teams"] - new["teams"]}
    want |= {("org.access_token.create", ORG, label) for label in new["tokens"].keys() - old["tokens"].keys()}
    want |= {("org.access_token.delete", ORG, label) for label in old["tokens"].keys() - new["tokens"].keys()}
    for label, active in new["tokens"].items():
        if old["tokens"].get(label) and not active:
            want.add(("org.access_token.update", ORG, label))
    return want


def _logged(event: dict[str, Any]) -> tuple[str, str, str]:
    data, action = event["data"], event["action"]
    if action == "org.member.role.change":
        return action, event["name"], f"{data['username']}:{data['from']}>{data['to']}"
    detail = data.get("team") or data.get("label") or data.get("username") or data.get("invitee")
    return action, event["name"], detail


def test_the_audit_log_explains_every_member_team_and_token_change_and_no_permission_change() -> None:
    hubs = [access_on(day) for day in range(9)]
    kinds: set[str] = set()
    permission_changes = 0
    for day in range(1, 9):
        old, new = _state(hubs[day - 1]), _state(hubs[day])
        events = day_events(hubs[day], day)
        assert all(e["action"] in ORG_ACTIONS and e["actor"] for e in events)
        assert sorted(_explained(old, new)) == sorted(_logged(e) for e in events), day
        assert len({_logged(e) for e in events}) == len(events)
        assert all(instant(e["timestamp"]) < night_moment(START, day) for e in events)
        kinds |= {e["action"] for e in events}
        permission_changes += len(old["permissions"] ^ new["permissions"])
    assert set(ORG_ACTIONS) - kinds <= {"org.access_token.update"}, kinds  # each kind happens
    assert permission_changes >= 8  # they happen too, and no event explains them


@pytest.mark.parametrize("day", [0, 3, 7])
def test_each_night_is_consistent_invitees_have_no_teams_and_nothing_is_dated_after_it(day: int) -> None:
    hub = access_on(day)
    state, night = hub.access[ORG], night_moment(START, day)
    repos = {repo["name"] for repo in hub.repos[ORG]}
    for name, member in state.members.items():
        payload = state.member_payload(name)
        if member["role"] == "Invitee":
            assert (
                payload["groups"] == [] and payload["date_joined"] is None and payload["last_seen_at"] is None
            )
        else:
            assert instant(payload["date_joined"]) < night
            assert payload["last_seen_at"] is None or instant(payload["last_seen_at"]) <= night
    for team in state.teams.values():
        assert all(state.role(user) not in (None, "Invitee") for user in team["members"])
    assert set(state.permissions) <= repos and all(
        set(g) <= set(state.teams) for g in state.permissions.values()
    )
    assert {"alice", "carol"} <= {n for n, m in state.members.items() if m["role"] == "Owner"}
    for token in state.tokens:
        assert instant(token["created_at"]) < night
        assert (
            token["last_used_at"] is None
            or instant(token["created_at"]) < instant(token["last_used_at"]) < night
        )


def test_an_invitee_becomes_a_member_on_a_later_day_and_tokens_are_used_daily() -> None:
    hubs = [access_on(day) for day in range(6)]
    accepted = [
        (day, name)
        for day in range(1, 6)
        for name, member in hubs[day].access[ORG].members.items()
        if member["role"] != "Invitee" and hubs[day - 1].access[ORG].role(name) == "Invitee"
    ]
    assert accepted and all(hubs[day - 1].access[ORG].role(name) == "Invitee" for day, name in accepted)
    assert any(name.startswith("joiner") for _, name in accepted)  # invited on one day, joined on a later one
    used = [{t["id"]: t["last_used_at"] for t in hub.access[ORG].tokens} for hub in hubs]
    assert all(any(used[d][k] != used[d - 1].get(k) for k in used[d]) for d in range(1, 6))


# -- the script ----------------------------------------------------------------------------------------


def test_the_script_serves_access_with_access_and_refuses_it_to_the_limited_token() -> None:
    script = Path(__file__).with_name("fakehub.py")
    args = ["--org", ORG, "--repos", "40", "--token", "demo", "--port", "0", "--access", "--day", "2"]
    proc = subprocess.Popen(
        [sys.executable, str(script), *args, "--limited-token", "lim"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = BANNER.match(line)
        assert match and "members" in line and "limited token: lim" in line, line
        url, night = match.group(1), date.fromisoformat(match.group(3))
        expected = FakeHub()  # what the script serves: the same generator, started two days before
        build(expected, ORG, 40, day=2, start=night - timedelta(days=2), access=True)
        for secret, status in (("demo", 200), ("lim", 403)):
            response = httpx.get(f"{url}/v2/orgs/{ORG}/members", headers=login(url, secret))
            assert response.status_code == status
        members = results(
            pages(url, f"/v2/orgs/{ORG}/members", login(url, "demo"), invites="true", page_size=100)
        )
        state = expected.access[ORG]
        assert [m["username"] for m in members] == sorted(state.members)
        assert [m["groups"] for m in members] == [state.groups_of(name) for name in sorted(state.members)]
        tokens = results(pages(url, f"/v2/orgs/{ORG}/access-tokens", login(url, "demo")))
        assert [t["label"] for t in tokens] == [t["label"] for t in state.tokens]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=10) == 0
        finally:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/v2/orgs/{ORG}/members?page_size=101", ""),
        (f"/v2/orgs/{ORG}/access-tokens?page_size=0", ""),
        (f"/v2/orgs/{ORG}/members?type=everyone", "type"),
        (f"/v2/orgs/{ORG}/members?role=admin", "role"),
    ],
)
def test_a_page_size_over_100_or_an_unknown_filter_is_a_400(hub: FakeHub, path: str, field: str) -> None:
    response = httpx.get(f"{hub.url}{path}", headers=login(hub.url, PAT, "alice"))
    assert response.status_code == 400
    assert field in response.json().get("fields", {}) if field else "detail" in response.json()
