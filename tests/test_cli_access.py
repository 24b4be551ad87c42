"""access_cli: ``members``, ``access``, ``tokens`` and ``access-changes`` as a user runs them, over a
database that real `run --access` nights against the fake Hub filled: someone invited, joining a team,
then removed; a team permission changed; a token created and deleted; a night whose token lacked
scope-member-read. Each answer is compared with the fake Hub's own state of that night.

Also the truth helpers the end-to-end test shares: what the Hub's state says each query must answer."""

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakehub import FakeHub, make_repos
from hubaccess import OrgAccess, make_access
from hubdata import hub_time

from dockerhub_export.pipeline import RunOptions, export
from dockerhub_export.settings import Settings

ORG = "acme"
PAT, NO_MEMBERS = "dckr_pat_alice-owner", "dckr_pat_alice-no-members"
NIGHTS = [date(2026, 11, 10) + timedelta(days=k) for k in range(5)]
N0, N1, N2, N3, N4 = NIGHTS
RANK = {"read": 1, "write": 2, "admin": 3}


# -- what the Hub's state says each query must answer ------------------------------------------------


def true_members(state: OrgAccess) -> list[dict[str, Any]]:
    return [
        {
            "username": name,
            "full_name": member["full_name"] or "",
            "email": member["email"] or "",
            "role": member["role"].lower(),
            "is_guest": bool(member["is_guest"]),
            "teams": state.groups_of(name),
            "date_joined": member["date_joined"],
        }
        for name, member in sorted(state.members.items())
    ]


def true_access(state: OrgAccess, repos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Docker's rules on the Hub's own state: owners and editors admin everywhere; a member the highest
    permission of their teams, the teams that grant it; no invitee; no read of a public repository."""
    private = {repo["name"]: bool(repo["is_private"]) for repo in repos}
    rows = []
    for name, member in state.members.items():
        role = member["role"].lower()
        if role in ("owner", "editor"):
            rows += [
                {"repository": repo, "username": name, "permission": "admin", "role": role, "teams": []}
                for repo in private
            ]
            continue
        for repo, granted in state.permissions.items() if role == "member" else ():
            mine = {team: p for team, p in granted.items() if name in state.teams[team]["members"]}
            top = max(mine.values(), key=RANK.__getitem__, default=None)
            if repo in private and top is not None and (top != "read" or private[repo]):
                teams = sorted(team for team, p in mine.items() if p == top)
                rows.append(
                    {"repository": repo, "username": name, "permission": top, "role": role, "teams": teams}
                )
    return sorted(rows, key=lambda row: (row["repository"], row["username"]))


def true_flags(token: dict[str, Any], night: date, expiring: int = 30, unused: int = 90) -> list[str]:
    """The flags, by dates alone, from the token's own text."""
    flags = []
    expires = token["expires_at"] and date.fromisoformat(token["expires_at"][:10])
    if not expires:
        flags.append("never_expires")
    elif expires < night:
        flags.append("expired")
    elif (expires - night).days <= expiring:
        flags.append("expires_soon")
    used = token["last_used_at"] and date.fromisoformat(token["last_used_at"][:10])
    if not used or (night - used).days > unused:
        flags.append("unused")
    if not token["is_active"]:
        flags.append("inactive")
    return flags


def true_tokens(state: OrgAccess, night: date) -> list[dict[str, Any]]:
    """The tokens as the ``tokens`` query gives them, in id order (compare sorted)."""
    found = [
        {**state.token_payload(token, resources=True), "flags": true_flags(token, night)}
        for token in state.tokens
    ]
    return sorted(found, key=lambda token: token["id"])


# -- the nights -----------------------------------------------------------------------------------------


@dataclass
class History:
    database_url: str
    export_dir: Path
    truth: dict[date, dict[str, Any]]  # night -> members, access, tokens the Hub had that night
    events: list[dict[str, Any]]  # the audit events of the changes below, as the Hub logged them
    expiring_id: str


def at(day: date, minute: int) -> float:
    return datetime(day.year, day.month, day.day, 0, minute, tzinfo=UTC).timestamp()


def run_night(hub: FakeHub, folder: Path, night: date, token: str) -> Any:
    settings = Settings.load(
        None, org=ORG, token=token, username="alice", api_url=hub.url, export_dir=folder, concurrency=4,
    )  # fmt: skip
    return export(settings, RunOptions(night, include_access=True))


def _changes(hub: FakeHub, state: OrgAccess, night: date, repos: list[dict[str, Any]]) -> None:
    """What happens in the hour before each night (the audit log records all but the permission)."""
    log = hub.audit.setdefault(ORG, []).append
    if night == N1:
        import random

        log(state.invite("zed", when=at(N1, 30), actor="alice", rnd=random.Random(1)))
        token = {**state.tokens[0], "id": "tok-deploy-n1", "label": "deploy-n1", "created_by": "carol",
                 "created_at": hub_time(at(N1, 40)), "last_used_at": None}  # fmt: skip
        log(state.create_token(token, when=at(N1, 40)))
    elif night == N2:
        log(state.accept("zed", when=at(N2, 10)))
        log(state.join_team("zed", "qa", when=at(N2, 20), actor="carol"))
        repo, granted = min(state.permissions.items())
        team = min(granted)  # a grant that changes level: no event (the Hub has no action for it)
        state.set_permission(repo, team, "admin" if granted[team] != "admin" else "write")
    elif night == N3:
        for event in state.remove_member("zed", when=at(N3, 30), actor="bob"):
            log(event)
        log(state.delete_token("tok-deploy-n1", when=at(N3, 40), actor="alice"))


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    folder = tmp_path_factory.mktemp("access-cli") / "exports"
    repos = make_repos(ORG, 24)
    hub = FakeHub({ORG: repos}, {PAT: ("alice", "all"), NO_MEMBERS: ("alice", "all -scope-member-read")})
    state = hub.access[ORG] = make_access(ORG, repos, members=10)
    expiring = {**state.tokens[0], "id": "tok-expiring", "label": "expiring", "is_active": True,
                "created_at": "2026-11-01T00:00:00Z", "expires_at": "2026-11-12T12:00:00Z",
                "last_used_at": "2026-11-09T08:00:00.25Z"}  # fmt: skip
    state.tokens.append(expiring)
    truth = {}
    with hub:
        for night in NIGHTS:
            _changes(hub, state, night, repos)
            result = run_night(hub, folder, night, NO_MEMBERS if night == N4 else PAT)
            assert result.access is not None and result.access.missing == (
                ("members",) if night == N4 else ()
            )
            truth[night] = {
                "members": true_members(state),
                "access": true_access(state, repos),
                "tokens": true_tokens(state, night),
            }
    yield History(f"sqlite:///{folder / 'snapshots.db'}", folder, truth, list(hub.audit[ORG]), "tok-expiring")


def cli(history: History, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dockerhub_export",
            *args,
            "--org",
            ORG,
            "--database-url",
            history.database_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def runner(history: History, *args: str) -> Any:
    """The same command through Typer's runner (in-process: faster), the main app with every command."""
    from typer.testing import CliRunner

    from dockerhub_export.cli import app

    return CliRunner().invoke(app, [*args, "--org", ORG, "--database-url", history.database_url])


def answer(history: History, *args: str) -> dict[str, Any]:
    result = runner(history, *args, "--format", "json")
    assert result.exit_code == 0, (result.output, result.exception)
    value: dict[str, Any] = json.loads(result.stdout)
    return value


# -- members --------------------------------------------------------------------------------------------


def test_members_json_is_exactly_the_hubs_members_of_each_night(history: History) -> None:
    for night in (N0, N1, N2, N3):
        assert answer(history, "members", "--date", night.isoformat()) == {
            "snapshot_date": night.isoformat(),
            "members": history.truth[night]["members"],
        }
    invitees = answer(history, "members", "--date", N1.isoformat(), "--role", "invitee")["members"]
    assert [m["username"] for m in invitees] == [
        m["username"] for m in history.truth[N1]["members"] if m["role"] == "invitee"
    ] and "zed" in [m["username"] for m in invitees]


def test_members_of_a_night_without_member_data_is_one_line_and_exit_1(history: History) -> None:
    result = cli(history, "members", "--date", N4.isoformat())
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: acme's night {N4} has no member data: its run could not read it (the token lacks "
        "scope-member-read, to read the org's members)\n"
    )
    newest = runner(history, "members", "--format", "json")  # default: the newest night that has them
    assert json.loads(newest.stdout)["snapshot_date"] == N3.isoformat()
    assert f"acme's newest access night, {N4}, has no member data: showing {N3}" in newest.stderr


def test_members_csv_and_table(history: History) -> None:
    result = runner(history, "members", "--date", N2.isoformat(), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    truth = history.truth[N2]["members"]
    assert list(rows[0]) == ["username", "full_name", "email", "role", "is_guest", "teams", "date_joined"]
    assert [(r["username"], r["teams"], r["is_guest"]) for r in rows] == [
        (m["username"], ";".join(m["teams"]), "true" if m["is_guest"] else "false") for m in truth
    ]
    table = runner(history, "members", "--date", N2.isoformat()).stdout
    assert table.splitlines()[0].strip() == f"acme: {len(truth)} members (night of {N2})"
    several = next(m for m in truth if len(m["teams"]) > 1)
    line = next(line for line in table.splitlines() if f" {several['username']} " in line)
    assert ", ".join(several["teams"]) in line and several["email"] in line


# -- access ---------------------------------------------------------------------------------------------


def test_access_json_equals_the_hubs_effective_access_and_each_filter_narrows_it(history: History) -> None:
    truth = history.truth[N2]["access"]
    day = ("--date", N2.isoformat())
    assert answer(history, "access", *day) == {"snapshot_date": N2.isoformat(), "access": truth}
    member = next(row["username"] for row in truth if row["role"] == "member")
    repo = truth[-1]["repository"]
    assert answer(history, "access", *day, "--user", member)["access"] == [
        r for r in truth if r["username"] == member
    ]
    assert answer(history, "access", *day, "--repo", repo)["access"] == [
        r for r in truth if r["repository"] == repo
    ]
    for floor in ("write", "admin"):
        wanted = [r for r in truth if RANK[r["permission"]] >= RANK[floor]]
        assert answer(history, "access", *day, "--min-permission", floor)["access"] == wanted
        assert answer(history, "access", *day, "--min-permission", floor, "--user", member)["access"] == [
            r for r in wanted if r["username"] == member
        ]
    assert {"read", "write", "admin"} == {r["permission"] for r in truth}  # each filter had work to do


def test_an_unknown_user_or_repository_is_one_line_with_the_nearest_names_and_exit_1(
    history: History,
) -> None:
    user = cli(history, "access", "--user", "zedd", "--date", N2.isoformat())
    assert (user.returncode, user.stdout) == (1, "")
    assert user.stderr == f"error: acme has no member 'zedd' on the night of {N2}: the nearest: zed\n"
    repo = cli(history, "access", "--repo", "repo-00001", "--date", N2.isoformat())
    assert repo.returncode == 1 and repo.stderr.count("\n") == 1
    assert repo.stderr.startswith(
        f"error: acme has no repository 'repo-00001' on the night of {N2}: the nearest: "
    )
    assert "repo-000001" in repo.stderr


# -- tokens ---------------------------------------------------------------------------------------------


def test_tokens_json_with_flags_on_the_nights_date(history: History) -> None:
    for night in NIGHTS:
        report = answer(history, "tokens", "--date", night.isoformat())
        assert report["snapshot_date"] == night.isoformat()
        assert sorted(report["tokens"], key=lambda token: token["id"]) == history.truth[night]["tokens"]
    expiring = {
        night: next(t["flags"] for t in answer(history, "tokens", "--date", night.isoformat())["tokens"]
                    if t["id"] == history.expiring_id)
        for night in (N0, N3)
    }  # fmt: skip
    assert expiring == {N0: ["expires_soon"], N3: ["expired"]}  # expires 2026-11-12: relative to the night
    narrow = answer(history, "tokens", "--date", N0.isoformat(), "--expiring-days", "1", "--unused-days", "0")
    flags = next(t["flags"] for t in narrow["tokens"] if t["id"] == history.expiring_id)
    assert flags == ["unused"]  # 2 days out is not within 1; last used the day before the night


def test_tokens_csv_lists_flags_and_resources_readably(history: History) -> None:
    result = runner(history, "tokens", "--date", N0.isoformat(), "--format", "csv")
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    assert rows[history.expiring_id]["flags"] == "expires_soon"
    assert rows[history.expiring_id]["resources"].startswith("TYPE_")


# -- access-changes -------------------------------------------------------------------------------------


def _event(history: History, action: str, **match: str) -> tuple[str, str]:
    found = [e for e in history.events if e["action"] == action
             and all(e.get(k) == v or e["data"].get(k) == v for k, v in match.items())]  # fmt: skip
    assert len(found) == 1, (action, match, found)
    return found[0]["actor"], found[0]["timestamp"]


def test_access_changes_lists_each_change_with_who_made_it_and_a_joiner_who_left_twice(
    history: History,
) -> None:
    report = answer(history, "access-changes", "--since", N0.isoformat(), "--until", N3.isoformat())
    assert set(report) == {"since", "until", "changes"}
    assert (report["since"], report["until"]) == (N0.isoformat(), N3.isoformat())
    changes = report["changes"]
    assert all(
        set(c) == {"change", "username", "team", "repository", "token", "from", "to", "by", "at"}
        for c in changes
    )
    zed = [
        (c["change"], c["team"], c["from"], c["to"], c["by"], c["at"])
        for c in changes
        if c["username"] == "zed"
    ]
    assert zed == [
        ("member_added", None, None, "invitee", *_event(history, "org.member.invite.send", invitee="zed")),
        ("role_changed", None, "invitee", "member", *_event(history, "org.member.add", username="zed")),
        ("team_member_added", "qa", None, None, *_event(history, "org.team.member.add", name="zed")),
        ("member_removed", None, "member", None, *_event(history, "org.member.remove", username="zed")),
        ("team_member_removed", "qa", None, None, *_event(history, "org.team.member.remove", name="zed")),
    ]
    [permission] = [c for c in changes if c["change"].startswith("permission_")]
    assert permission["change"] == "permission_changed" and (permission["by"], permission["at"]) == (
        None,
        None,
    )
    tokens = [(c["change"], c["token"], c["by"], c["at"]) for c in changes if c["token"]]
    assert tokens == [
        ("token_created", "deploy-n1", *_event(history, "org.access_token.create", label="deploy-n1")),
        ("token_removed", "deploy-n1", *_event(history, "org.access_token.delete", label="deploy-n1")),
    ]
    assert len(changes) == 8  # nothing else changed


def test_access_changes_csv_and_table_carry_the_night(history: History) -> None:
    result = runner(
        history, "access-changes", "--since", N0.isoformat(), "--until", N3.isoformat(), "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["night"], r["change"]) for r in rows if r["username"] == "zed"][0] == (
        N1.isoformat(),
        "member_added",
    )
    table = runner(history, "access-changes", "--since", N0.isoformat()).stdout
    assert table.splitlines()[0].strip() == f"acme: 8 access changes from {N0} to {N4} (5 nights)"
    line = next(line for line in table.splitlines() if "member_removed" in line)
    assert "zed" in line and "member → —" in line and "bob" in line


def test_access_queries_load_neither_httpx_nor_pandas_nor_prefect(history: History) -> None:
    code = (
        "import sys\n"
        "from dockerhub_export.cli import app\n"
        f"for args in (['members'], ['access'], ['tokens'], ['access-changes', '--since', '{N0}']):\n"
        "    try:\n"
        f"        app(args + ['--org', 'acme', '--database-url', {history.database_url!r},\n"
        "                    '--format', 'json'])\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code in (0, None), exit.code\n"
        "print('LOADED', [m for m in ('httpx', 'pandas', 'prefect') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "LOADED []"
