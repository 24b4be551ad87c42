"""The access review end to end, as the issue will be checked: the fake Hub's day-by-day history (joins,
leaves, role changes, team moves, permission changes, token churn, audit events wherever Docker has an
action), one `run --access` a night, on SQLite, PostgreSQL and MariaDB alike:

- on each night, every access CSV and every query (``members``, ``access``, ``tokens``) equals what the
  fake Hub held that night;
- ``access-changes`` over the window lists exactly what changed between consecutive nights, each change
  attributed to the audit event the Hub logged for it (none for a team permission);
- a night read with an org access token: the tokens listing is refused with one warning, the rest exact,
  and ``tokens`` says that night has no token data;
- a night read with a token without scope-member-read: one warning, and ``members`` says that night has
  no member data; the changes are still told across those nights, none lost.
"""

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from dbs import BACKENDS, fresh_database, server_url
from fakehub import FakeHub
from hubaccess import OrgAccess
from hubhistory import build, night_of
from test_cli_access import true_access, true_members, true_tokens

from dockerhub_export.access_changes import KINDS
from dockerhub_export.pipeline import RunOptions, export
from dockerhub_export.settings import Settings

ORG, REPOS, START = "acme", 40, date(2026, 11, 2)
SEED = 26  # a history with every kind of change by day 7, and tokens and members changing on days 8 and 9
PAT, OAT, NO_MEMBERS = "dckr_pat_alice-e2e", "dckr_oat_acme-e2e", "dckr_pat_alice-e2e-no-members"
CREDENTIALS = {PAT: ("alice", "all"), OAT: (ORG, "all"), NO_MEMBERS: ("alice", "all -scope-member-read")}
FULL_DAYS = 8  # days 0-7 read whole with an owner's personal access token
TOKEN_OF_DAY = {FULL_DAYS: OAT, FULL_DAYS + 1: NO_MEMBERS}  # then one night each with less
MISSING = {PAT: (), OAT: ("tokens",), NO_MEMBERS: ("members",)}


@dataclass
class Night:
    day: int
    date: date
    token: str
    hub: FakeHub  # the Hub as it was that night (its state, its repositories, its audit log)
    result: Any  # the run's result

    @property
    def state(self) -> OrgAccess:
        return self.hub.access[ORG]

    @property
    def repos(self) -> list[dict[str, Any]]:
        return self.hub.repos[ORG]


@dataclass
class World:
    database_url: str
    export_dir: Path
    nights: list[Night]


def run_nights(database_url: str, export_dir: Path) -> World:
    nights = []
    for day in range(FULL_DAYS + len(TOKEN_OF_DAY)):
        hub = FakeHub(credentials=dict(CREDENTIALS))
        build(hub, ORG, REPOS, seed=SEED, day=day, start=START, access=True)
        token, night = TOKEN_OF_DAY.get(day, PAT), night_of(START, day)
        with hub:  # started first: its url names its port
            settings = Settings.load(
                None, org=ORG, token=token, username=None if token == OAT else "alice", api_url=hub.url,
                export_dir=export_dir, snapshot_database_url=database_url, concurrency=4,
            )  # fmt: skip
            result = export(settings, RunOptions(night, include_access=True))
        nights.append(Night(day, night, token, hub, result))
    return World(database_url, export_dir, nights)


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One history per backend, its nights run once for every test of this module."""
    folder = tmp_path_factory.mktemp(f"access-e2e-{request.param}") / "exports"
    if request.param == "sqlite":
        yield run_nights(f"sqlite:///{folder.parent / 'snapshots.db'}", folder)
        return
    with fresh_database(server_url(request.param)) as url:
        yield run_nights(url, folder)


def query(world: World, *args: str) -> Any:
    """A query command through Typer's runner on the main app (in-process), as JSON; or its error."""
    from typer.testing import CliRunner

    from dockerhub_export.cli import app

    result = CliRunner().invoke(
        app, [*args, "--org", ORG, "--database-url", world.database_url, "--format", "json"]
    )
    if result.exit_code != 0:
        return result.exception
    return json.loads(result.stdout)


def rows(world: World, stem: str, night: date) -> list[dict[str, str]] | None:
    path = world.export_dir / ORG / f"{stem}-{night.isoformat()}.csv"
    if not path.exists():
        return None
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


# -- each night: the run, its CSVs, its queries ----------------------------------------------------------


def test_each_run_warns_once_for_each_listing_its_token_may_not_read(world: World) -> None:
    for night in world.nights:
        access = night.result.access
        assert access is not None and access.missing == MISSING[night.token], night.date
        refused = [w for w in night.result.warnings if "cannot be read" in w]
        assert len(refused) == len(MISSING[night.token]), (night.date, night.result.warnings)
    oat, no_members = (night.result.warnings for night in world.nights[FULL_DAYS:])
    assert any("owner's personal access token" in w for w in oat)
    assert any("scope-member-read" in w for w in no_members)


def test_every_access_csv_of_every_night_equals_the_hubs_state(world: World) -> None:
    for night in world.nights:
        state, day = night.state, night.date
        members, access = rows(world, "members", day), rows(world, "access", day)
        permissions, tokens = rows(world, "permissions", day), rows(world, "tokens", day)
        if "members" in MISSING[night.token]:
            assert members is None and access is None  # no data is not an empty org
        else:
            assert members is not None and access is not None
            assert [_member(row) for row in members] == true_members(state), day
            assert [_access(row) for row in access] == true_access(state, night.repos), day
        assert permissions is not None
        assert sorted((r["repository"], r["team"], r["permission"]) for r in permissions) == sorted(
            (repo, team, p) for repo, granted in state.permissions.items() for team, p in granted.items()
        )
        if "tokens" in MISSING[night.token]:
            assert tokens is None
        else:
            assert tokens is not None
            assert sorted(map(_token, tokens), key=lambda t: t["id"]) == [
                {key: value for key, value in t.items() if key != "flags"} | {"resources": _resources(t)}
                for t in true_tokens(state, day)
            ]
        assert {
            row["namespace"] for table in (members, access, permissions, tokens) for row in table or ()
        } <= {ORG}


def _member(row: dict[str, str]) -> dict[str, Any]:
    return {
        "username": row["username"], "full_name": row["full_name"], "email": row["email"],
        "role": row["role"], "is_guest": row["is_guest"] == "true",
        "teams": [t for t in row["teams"].split(";") if t], "date_joined": row["date_joined"] or None,
    }  # fmt: skip


def _access(row: dict[str, str]) -> dict[str, Any]:
    teams = [team for team in row["teams"].split(";") if team]
    return {key: row[key] for key in ("repository", "username", "permission", "role")} | {"teams": teams}


def _token(row: dict[str, str]) -> dict[str, Any]:
    keys = ("id", "label", "created_by", "created_at", "expires_at", "last_used_at", "resources")
    found: dict[str, Any] = {key: row[key] or None for key in keys}
    return found | {"is_active": row["is_active"] == "true"}


def _resources(token: dict[str, Any]) -> str | None:
    text = "; ".join(f"{r['type']} {r['path']}: {', '.join(sorted(r['scopes']))}" for r in token["resources"])
    return text or None


def test_every_query_of_every_night_equals_the_hubs_state(world: World) -> None:
    for night in world.nights:
        day, state, missing = night.date.isoformat(), night.state, MISSING[night.token]
        members, access, tokens = (
            query(world, name, "--date", day) for name in ("members", "access", "tokens")
        )
        if "members" in missing:
            assert str(members).startswith(
                f"acme's night {day} has no member data: its run could not read it"
            )
            assert str(access).startswith(f"acme's night {day} has no member data")
        else:
            assert members == {"snapshot_date": day, "members": true_members(state)}
            assert access == {"snapshot_date": day, "access": true_access(state, night.repos)}
        if "tokens" in missing:
            assert str(tokens) == (
                f"acme's night {day} has no token data: its run could not read it (listing them takes an "
                "owner's personal access token; an organization access token may not)"
            )
        else:
            assert {**tokens, "tokens": sorted(tokens["tokens"], key=lambda t: t["id"])} == {
                "snapshot_date": day,
                "tokens": true_tokens(state, night.date),
            }


def test_by_default_each_query_reads_the_newest_night_that_has_its_data(world: World) -> None:
    oat, no_members = world.nights[FULL_DAYS:]
    assert query(world, "members")["snapshot_date"] == oat.date.isoformat()
    assert query(world, "access")["snapshot_date"] == oat.date.isoformat()
    assert query(world, "tokens")["snapshot_date"] == no_members.date.isoformat()


def test_access_filters_on_a_night_equal_the_same_filters_on_the_hubs_state(world: World) -> None:
    night = world.nights[FULL_DAYS - 1]
    truth = true_access(night.state, night.repos)
    day = ("--date", night.date.isoformat())
    user = next(row["username"] for row in truth if row["role"] == "member")
    assert query(world, "access", *day, "--user", user)["access"] == [
        r for r in truth if r["username"] == user
    ]
    repo = truth[0]["repository"]
    assert query(world, "access", *day, "--repo", repo, "--min-permission", "write")["access"] == [
        r for r in truth if r["repository"] == repo and r["permission"] != "read"
    ]


# -- access-changes over the window ---------------------------------------------------------------------


def test_access_changes_over_the_full_nights_are_exactly_the_hubs_changes_each_attributed(
    world: World,
) -> None:
    full = world.nights[:FULL_DAYS]
    window = ("--since", full[0].date.isoformat(), "--until", full[-1].date.isoformat())
    report = query(world, "access-changes", *window)
    assert (report["since"], report["until"]) == (full[0].date.isoformat(), full[-1].date.isoformat())
    events = world.nights[-1].hub.audit[ORG]
    expected = [
        change
        for before, after in zip(full, full[1:], strict=False)
        for change in true_changes(before.state, after.state, before.date, after.date, events)
    ]
    assert sorted(report["changes"], key=repr) == sorted(expected, key=repr)
    assert {change["change"] for change in expected} == set(KINDS)  # the history made every kind of change
    assert all(c["by"] and c["at"] for c in expected if not c["change"].startswith("permission_"))


def test_nights_without_a_listing_are_skipped_for_its_changes_none_lost(world: World) -> None:
    """The OAT's night has no token data, the next no member data: the token changes of both days show
    between the nights around them, the member changes stop at the OAT's night (the last with members),
    the team and permission changes go on night by night."""
    last, oat, no_members = world.nights[FULL_DAYS - 1 :]
    events = no_members.hub.audit[ORG]
    report = query(world, "access-changes", "--since", last.date.isoformat())
    assert report["until"] == no_members.date.isoformat()
    members, tokens = ("member_added", "member_removed", "role_changed"), ("token_created", "token_removed")
    first = true_changes(last.state, oat.state, last.date, oat.date, events)
    second = true_changes(oat.state, no_members.state, oat.date, no_members.date, events)
    across = [c for c in true_changes(last.state, no_members.state, last.date, no_members.date, events)
              if c["change"] in tokens]  # fmt: skip
    expected = [c for c in first if c["change"] not in tokens]
    expected += [c for c in second if c["change"] not in members + tokens] + across
    assert sorted(report["changes"], key=repr) == sorted(expected, key=repr)
    assert {c["night"] for c in _csv_changes(world, last.date) if c["change"] in tokens} == {
        str(no_members.date)
    }
    unseen = [c for c in second if c["change"] in members]  # the Hub changed members: that night cannot tell
    assert across and unseen and {c["change"] for c in first} & set(members)


def _csv_changes(world: World, since: date) -> list[dict[str, str]]:
    from typer.testing import CliRunner

    from dockerhub_export.cli import app

    args = [
        "access-changes",
        "--since",
        since.isoformat(),
        "--org",
        ORG,
        "--database-url",
        world.database_url,
    ]
    result = CliRunner().invoke(app, [*args, "--format", "csv"])
    return list(csv.DictReader(io.StringIO(result.stdout)))


def true_changes(
    old: OrgAccess, new: OrgAccess, since: date, night: date, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """What changed from ``old`` to ``new``, as ``access-changes`` items, each with the one event the Hub
    logged for it after ``since``'s night and by ``night``'s (none for a permission)."""
    was = {name: m["role"].lower() for name, m in old.members.items()}
    now = {name: m["role"].lower() for name, m in new.members.items()}
    teams_was = {(t, u) for t, team in old.teams.items() for u in team["members"]}
    teams_now = {(t, u) for t, team in new.teams.items() for u in team["members"]}
    grants_was = {(r, t): p for r, granted in old.permissions.items() for t, p in granted.items()}
    grants_now = {(r, t): p for r, granted in new.permissions.items() for t, p in granted.items()}
    tokens_was = {t["id"]: t["label"] for t in old.tokens}
    tokens_now = {t["id"]: t["label"] for t in new.tokens}
    found = [_item("member_added", username=u, to=now[u]) for u in now.keys() - was.keys()]
    found += [_item("member_removed", username=u, from_=was[u]) for u in was.keys() - now.keys()]
    found += [_item("role_changed", username=u, from_=was[u], to=now[u]) for u in was.keys() & now.keys()
              if was[u] != now[u]]  # fmt: skip
    found += [_item("team_member_added", username=u, team=t) for t, u in teams_now - teams_was]
    found += [_item("team_member_removed", username=u, team=t) for t, u in teams_was - teams_now]
    for key in grants_was.keys() | grants_now.keys():
        before, after = grants_was.get(key), grants_now.get(key)
        if before != after:
            kind = (
                "permission_granted"
                if before is None
                else "permission_revoked"
                if after is None
                else "permission_changed"
            )
            found.append(_item(kind, repository=key[0], team=key[1], from_=before, to=after))
    found += [_item("token_created", token=tokens_now[i]) for i in tokens_now.keys() - tokens_was.keys()]
    found += [_item("token_removed", token=tokens_was[i]) for i in tokens_was.keys() - tokens_now.keys()]
    between = [e for e in events if since.isoformat() < e["timestamp"][:10] <= night.isoformat()]
    return [_attributed(change, between) for change in found]


def _item(change: str, *, from_: str | None = None, **values: str | None) -> dict[str, Any]:
    """An ``access-changes`` item, its keys in the query's order."""
    item = {"change": change, "username": None, "team": None, "repository": None, "token": None}
    return item | {"from": from_, "to": None, "by": None, "at": None} | values


EXPLAINED = {  # change -> the action the Hub logs, and the event's keys that must name the change's values
    "member_added": ("org.member.invite.send", {"invitee": "username"}),
    "member_removed": ("org.member.remove", {"username": "username"}),
    "team_member_added": ("org.team.member.add", {"name": "username", "team": "team"}),
    "team_member_removed": ("org.team.member.remove", {"name": "username", "team": "team"}),
    "token_created": ("org.access_token.create", {"label": "token"}),
    "token_removed": ("org.access_token.delete", {"label": "token"}),
}


def _attributed(change: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    if change["change"].startswith("permission_"):
        return change
    if change["change"] == "role_changed":
        action = "org.member.add" if change["from"] == "invitee" else "org.member.role.change"
        action, keys = action, {"username": "username"}
    else:
        action, keys = EXPLAINED[change["change"]]
    found = [
        e for e in events
        if e["action"] == action
        and all({**e["data"], "name": e["name"]}.get(key) == change[field] for key, field in keys.items())
    ]  # fmt: skip
    assert len(found) == 1, (change, found)
    return {**change, "by": found[0]["actor"], "at": found[0]["timestamp"]}
