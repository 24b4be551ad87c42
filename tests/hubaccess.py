"""Who may do what in a fake org: members (invitees included), teams, each repository's team permissions
and the org's access tokens, for the fake Hub's access routes (``fakehub_access``) and its history
(``hubhistory``, ``--access``).

`OrgAccess` holds one org's state; its change methods change it the way the Hub does and return the
audit-log event the Hub records, if any (a repository's team permission has no action). The payloads
are the live API's: a member's ``groups`` are always derived from the teams, so the members listing and
the team-member listings cannot disagree. An invitee has no teams, no ``date_joined`` (null) and role
``Invitee``; ``last_logged_in_at``/``last_seen_at`` are only served when the org has Insights.

Stdlib only, like fakehub.py.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from hubdata import audit_event, hub_time

__all__ = ["PERMISSIONS", "ROLES", "OrgAccess", "make_access"]

ROLES = ("Owner", "Editor", "Member", "Invitee")
PERMISSIONS = ("read", "write", "admin")
# The users the repository history already names as actors: owners and an editor of every generated org.
CORE = (("alice", "Owner"), ("carol", "Owner"), ("bob", "Editor"))
_FIRST = ("Ana", "Björn", "Chloé", "Dev", "Emeka", "Fatima", "Gao", "Hiro", "Inès", "José", "Kai", "Lena")
_LAST = ("Smith", "O'Brien", "Núñez", "Li", "Okafor", "Dubois, Jr.", "Kowalski", "Sato", "Müller", "Ivanova")
_TEAMS = (
    "developers",
    "platform",
    "qa",
    "data",
    "security",
    "release",
    "contractors",
    "sre",
    "mobile",
    "web",
)
_TOKEN_LABELS = ("ci-pull", "deploy", "scanner", "backup", "mirror", "release", "metrics", "audit-export")


def _uid(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _uuid(text: str) -> str:
    h = _uid(text)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


@dataclass(eq=False)
class OrgAccess:
    """One org's members, teams, repository permissions and tokens. ``insights``: the org has Insights,
    so members carry ``last_logged_in_at`` and ``last_seen_at``."""

    org: str
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # username -> member (no groups)
    teams: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> team, "members" a list
    permissions: dict[str, dict[str, str]] = field(default_factory=dict)  # repository -> team -> permission
    tokens: list[dict[str, Any]] = field(default_factory=list)  # oldest first, each with "resources"
    insights: bool = True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OrgAccess):
            return NotImplemented
        return self.snapshot() == other.snapshot()

    def snapshot(self) -> tuple[Any, ...]:
        return (self.org, self.members, self.teams, self.permissions, self.tokens, self.insights)

    # -- reading ---------------------------------------------------------------------------------------

    def groups_of(self, username: str) -> list[str]:
        return sorted(name for name, team in self.teams.items() if username in team["members"])

    def role(self, username: str) -> str | None:
        member = self.members.get(username)
        return None if member is None else str(member["role"])

    def member_payload(self, username: str) -> dict[str, Any]:
        member = dict(self.members[username])
        insights = (member.pop("last_logged_in_at"), member.pop("last_seen_at"), member.pop("desktop"))
        member["groups"] = self.groups_of(username)
        if self.insights:
            member.update(last_logged_in_at=insights[0], last_seen_at=insights[1])
            member["last_desktop_version"] = insights[2]
        return member

    def team_payload(self, name: str) -> dict[str, Any]:
        team = self.teams[name]
        return {
            "id": team["id"],
            "uuid": team["uuid"],
            "name": name,
            "description": team["description"],
            "member_count": len(team["members"]),
        }

    def team_member_payload(self, username: str) -> dict[str, Any]:
        member = self.members[username]
        keys = ("id", "username", "full_name", "email", "company", "date_joined", "type")
        return {key: member[key] for key in keys}

    def repo_groups_payload(self, repository: str) -> list[dict[str, Any]]:
        granted = self.permissions.get(repository, {})
        return [
            {"group_name": team, "permission": permission, "group_id": self.teams[team]["id"]}
            for team, permission in sorted(granted.items())
        ]

    def token_payload(self, token: dict[str, Any], *, resources: bool) -> dict[str, Any]:
        shown = {key: value for key, value in token.items() if key != "resources"}
        if resources:
            shown["resources"] = [dict(item, scopes=list(item["scopes"])) for item in token["resources"]]
        return shown

    # -- changes: each returns the audit event the Hub records, or None ---------------------------------

    def _event(self, action: str, name: str, actor: str, when: float, **data: str) -> dict[str, Any]:
        return audit_event(self.org, action, name, actor, when, **data)

    def invite(self, username: str, *, when: float, actor: str, rnd: random.Random) -> dict[str, Any]:
        self.members[username] = _person(self.org, username, "Invitee", None, rnd)
        return self._event("org.member.invite.send", self.org, actor, when, invitee=username, role="member")

    def accept(self, username: str, *, when: float) -> dict[str, Any]:
        """The invitee accepts: a member from now; the Hub logs it as the user adding themself."""
        member = self.members[username]
        assert member["role"] == "Invitee", username
        member.update(role="Member", date_joined=hub_time(when))
        return self._event("org.member.add", self.org, username, when, username=username, role="member")

    def remove_member(self, username: str, *, when: float, actor: str) -> list[dict[str, Any]]:
        """Taken out of each team (each logged), then out of the org."""
        events = [
            self.leave_team(username, team, when=when, actor=actor) for team in self.groups_of(username)
        ]
        del self.members[username]
        events.append(self._event("org.member.remove", self.org, actor, when + 1, username=username))
        return events

    def set_role(self, username: str, role: str, *, when: float, actor: str) -> dict[str, Any]:
        member = self.members[username]
        old, member["role"] = member["role"], role
        data = {"username": username, "from": old.lower(), "to": role.lower()}
        return self._event("org.member.role.change", self.org, actor, when, **data)

    def join_team(self, username: str, team: str, *, when: float, actor: str) -> dict[str, Any]:
        assert self.role(username) not in (None, "Invitee"), username
        members = self.teams[team]["members"]
        assert username not in members, (username, team)
        members.append(username)
        members.sort()
        return self._event("org.team.member.add", username, actor, when, team=team)

    def leave_team(self, username: str, team: str, *, when: float, actor: str) -> dict[str, Any]:
        self.teams[team]["members"].remove(username)
        return self._event("org.team.member.remove", username, actor, when, team=team)

    def set_permission(self, repository: str, team: str, permission: str | None) -> None:
        """Grant, change or (None) revoke: the audit log has no action for it."""
        granted = self.permissions.setdefault(repository, {})
        if permission is None:
            granted.pop(team, None)
        else:
            granted[team] = permission
        if not granted:
            del self.permissions[repository]

    def create_token(self, token: dict[str, Any], *, when: float) -> dict[str, Any]:
        self.tokens.append(token)
        data = {"label": token["label"], "id": token["id"]}
        return self._event("org.access_token.create", self.org, token["created_by"], when, **data)

    def delete_token(self, token_id: str, *, when: float, actor: str) -> dict[str, Any]:
        token = next(item for item in self.tokens if item["id"] == token_id)
        self.tokens.remove(token)
        data = {"label": token["label"], "id": token_id}
        return self._event("org.access_token.delete", self.org, actor, when, **data)

    def deactivate_token(self, token_id: str, *, when: float, actor: str) -> dict[str, Any]:
        token = next(item for item in self.tokens if item["id"] == token_id)
        token["is_active"] = False
        data = {"label": token["label"], "id": token_id, "is_active": "false"}
        return self._event("org.access_token.update", self.org, actor, when, **data)


# -- the org on day 0 ---------------------------------------------------------------------------------


def _person(org: str, username: str, role: str, joined: float | None, rnd: random.Random) -> dict[str, Any]:
    """A member as the members listing gives it, without ``groups`` (derived from the teams)."""
    guest = rnd.random() < 0.1
    domain = "gmail.example" if guest else f"{org}.example"
    seen = None if joined is None or rnd.random() < 0.1 else joined + 86400 * 30 * rnd.random()
    return {
        "id": _uid(f"user/{username}"),
        "username": username,
        "full_name": f"{rnd.choice(_FIRST)} {rnd.choice(_LAST)}" if rnd.random() < 0.9 else "",
        "company": "",
        "location": "",
        "profile_url": "",
        "gravatar_url": "",
        "gravatar_email": "",
        "date_joined": None if joined is None else hub_time(joined),
        "type": "User",
        "email": f"{username}@{domain}",
        "primary_email": f"{username}@{domain}",
        "role": role,
        "is_guest": guest,
        "last_logged_in_at": None if seen is None else hub_time(seen - 600),
        "last_seen_at": None if seen is None else hub_time(seen),
        "desktop": None if seen is None else f"4.{30 + int(rnd.random() * 10)}.0",
    }


def make_access(
    org: str,
    repos: list[dict[str, Any]],
    *,
    seed: int = 0,
    now: float = 1764547200.0,
    members: int | None = None,
    teams: int | None = None,
    insights: bool = True,
) -> OrgAccess:
    """``org``'s access on day 0: alice and carol own it, bob edits; ``members`` people in all (default:
    one for every ten repositories, 8 to 400), ``teams`` teams (default: one for every ten members, at
    least 3), two pending invitees, team grants on most private and some public repositories, and a few
    tokens (never expiring, expired, expiring soon; some never used). Everything happens before ``now``."""
    rnd = random.Random(f"{org}/{seed}/access")
    count = members if members is not None else max(8, min(400, len(repos) // 10))
    access = OrgAccess(org, insights=insights)
    people = [*CORE, *((f"dev{k:03d}", "Member") for k in range(max(0, count - len(CORE) - 2)))]
    for username, role in people:
        access.members[username] = _person(org, username, role, now - 86400 * (30 + 900 * rnd.random()), rnd)
    for k in range(2):
        access.members[f"new{k:03d}"] = _person(org, f"new{k:03d}", "Invitee", None, rnd)
    _make_teams(access, teams or max(3, count // 10), rnd)
    for repo in sorted(repos, key=lambda repo: repo["name"]):
        if rnd.random() < (0.8 if repo.get("is_private") else 0.3):
            for team in rnd.sample(sorted(access.teams), min(len(access.teams), 1 + int(rnd.random() * 2))):
                access.set_permission(repo["name"], team, rnd.choice(PERMISSIONS))
    for k in range(6):
        access.tokens.append(make_token(access, k, now - 86400 * (20 + 300 * rnd.random()), rnd, repos))
    return access


def _make_teams(access: OrgAccess, count: int, rnd: random.Random) -> None:
    joined = sorted(name for name, member in access.members.items() if member["role"] != "Invitee")
    for k in range(count):
        name = _TEAMS[k] if k < len(_TEAMS) else f"team{k:02d}"
        chosen = rnd.sample(joined, min(len(joined), 1 + int(rnd.random() * 6)))
        access.teams[name] = {
            "id": 1000 + k,
            "uuid": _uuid(f"{access.org}/team/{name}"),
            "description": f"The {name} team" if rnd.random() < 0.8 else "",
            "members": sorted(chosen),
        }


def make_token(
    access: OrgAccess, k: int, created: float, rnd: random.Random, repos: list[dict[str, Any]]
) -> dict[str, Any]:
    """Token ``k`` of the org, created at ``created`` by one of its owners."""
    owners = sorted(name for name, member in access.members.items() if member["role"] == "Owner")
    label = f"{_TOKEN_LABELS[k % len(_TOKEN_LABELS)]}-{k}"
    kind = k % 4  # never expires, expired, expires within days, expires in a year
    expires = (None, created + 86400 * 10, created + 86400 * (25 + 10 * rnd.random()), created + 86400 * 365)
    names = sorted(repo["name"] for repo in repos)
    resources: list[dict[str, Any]] = [
        {"type": "TYPE_ORG", "path": access.org, "scopes": ["scope-member-read"]}
    ]
    if names:
        path = f"{access.org}/{rnd.choice(names)}"
        resources.insert(0, {"type": "TYPE_REPO", "path": path, "scopes": ["repo-pull", "repo-push"]})
    if k % 3 == 1:
        resources.append({"type": "TYPE_REPO", "path": "*/*/public", "scopes": ["repo-pull"]})
    used = None if k % 5 == 4 else created + 3600 * (1 + 48 * rnd.random())
    return {
        "id": _uuid(f"{access.org}/token/{k}/{created}"),
        "label": label,
        "created_by": rnd.choice(owners),
        "is_active": True,
        "created_at": hub_time(created),
        "expires_at": None if (expiry := expires[kind]) is None else hub_time(expiry),
        "last_used_at": None if used is None else hub_time(min(used, created + 86400 * 9)),
        "resources": resources,
    }
