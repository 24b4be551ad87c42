"""One night's access state of an org, read from the Hub's JSON, and what follows from it: who may do
what on each repository (the effective access) and how each access token stands (its flags).

Plain data in, plain data out: no HTTP, no database. The Hub's listings map to these types:

- ``GET /v2/orgs/{org}/members?invites=true&type=all`` -> `Member` (`parse_member`);
- ``GET /v2/orgs/{org}/groups`` and each ``.../groups/{team}/members`` -> `Team` (`parse_team`);
- ``GET /v2/repositories/{ns}/{repo}/groups`` -> `Grant` (`parse_grants`);
- ``GET /v2/orgs/{org}/access-tokens`` and each ``.../access-tokens/{id}`` -> `Token` (`parse_token`).

A listing the night could not read (a scope denied, an OAT that may not list tokens) is None in
`AccessNight`, never an empty tuple: "no data" is not "none".
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any

from .timestamps import CANONICAL, OLDEST_TIMESTAMP, format_timestamp

OWNER, EDITOR, MEMBER, INVITEE = "owner", "editor", "member", "invitee"
ROLES = (OWNER, EDITOR, MEMBER, INVITEE)
READ, WRITE, ADMIN = "read", "write", "admin"
PERMISSIONS = (READ, WRITE, ADMIN)  # lowest first: team permissions add up, the highest wins
RANK = {permission: rank for rank, permission in enumerate(PERMISSIONS, start=1)}
# The listings a night may have: each is None in `AccessNight` when the night could not read it.
MEMBERS, TEAMS, GRANTS, TOKENS = "members", "teams", "permissions", "tokens"
LISTINGS = (MEMBERS, TEAMS, GRANTS, TOKENS)
# Token flags, in the order `token_flags` gives them.
EXPIRED, EXPIRES_SOON, NEVER_EXPIRES, UNUSED, INACTIVE = (
    "expired",
    "expires_soon",
    "never_expires",
    "unused",
    "inactive",
)
EXPIRING_DAYS, UNUSED_DAYS = 30, 90  # the `tokens` query's defaults


@dataclass(frozen=True, slots=True)
class Member:
    """A member or a pending invitee (role ``invitee``, no teams, no ``date_joined``)."""

    username: str
    full_name: str = ""
    email: str = ""
    role: str = MEMBER  # lowercase: owner, editor, member, invitee (a custom role as the Hub names it)
    is_guest: bool = False
    teams: tuple[str, ...] = ()  # sorted
    date_joined: str | None = None  # canonical timestamp text

    def as_dict(self) -> dict[str, Any]:
        """The ``members`` query's item (``teams`` a list)."""
        return {
            "username": self.username,
            "full_name": self.full_name,
            "email": self.email,
            "role": self.role,
            "is_guest": self.is_guest,
            "teams": list(self.teams),
            "date_joined": self.date_joined,
        }


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    members: tuple[str, ...] = ()  # usernames, sorted


@dataclass(frozen=True, slots=True)
class Grant:
    """A team's permission on a repository (``repository`` without the namespace)."""

    repository: str
    team: str
    permission: str  # read, write or admin


@dataclass(frozen=True, slots=True)
class TokenResource:
    type: str  # TYPE_REPO or TYPE_ORG
    path: str
    scopes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "path": self.path, "scopes": list(self.scopes)}


@dataclass(frozen=True, slots=True)
class Token:
    """An org access token. Timestamps are canonical text; None: never expires / never used."""

    id: str
    label: str = ""
    created_by: str = ""
    is_active: bool = True
    created_at: str | None = None
    expires_at: str | None = None
    last_used_at: str | None = None
    resources: tuple[TokenResource, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The ``tokens`` query's item, without its ``flags`` (see `token_flags`)."""
        return {
            "id": self.id,
            "label": self.label,
            "created_by": self.created_by,
            "is_active": self.is_active,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "last_used_at": self.last_used_at,
            "resources": [resource.as_dict() for resource in self.resources],
        }


@dataclass(frozen=True, slots=True)
class Repository:
    """What effective access needs of a repository of the night: its name and its visibility."""

    name: str
    is_private: bool


@dataclass(frozen=True)
class AccessNight:
    """One night's access state of an org. A listing the night does not have is None (no data);
    an empty tuple means the org has none. ``taken_at``: when the night's run read it (aware UTC), if
    known; audit events are matched to changes between two runs."""

    night: date
    taken_at: datetime | None = None
    members: tuple[Member, ...] | None = None
    teams: tuple[Team, ...] | None = None
    grants: tuple[Grant, ...] | None = None
    tokens: tuple[Token, ...] | None = None

    def __post_init__(self) -> None:
        if self.taken_at is not None:  # compared with audit events' aware times
            object.__setattr__(self, "taken_at", utc(self.taken_at))

    def listings(self) -> frozenset[str]:
        """The listings this night has (of `LISTINGS`)."""
        held = zip(LISTINGS, (self.members, self.teams, self.grants, self.tokens), strict=True)
        return frozenset(name for name, value in held if value is not None)

    @cached_property
    def memberships(self) -> frozenset[tuple[str, str]] | None:
        """(team, username) pairs: from the team listings, else from the members' ``groups``, else None
        (the night knows no team's members)."""
        if self.teams is not None:
            return frozenset((team.name, user) for team in self.teams for user in team.members)
        if self.members is not None:
            return frozenset((team, m.username) for m in self.members for team in m.teams)
        return None

    @cached_property
    def roles(self) -> dict[str, str] | None:
        """username -> role, None without the members listing."""
        return None if self.members is None else {m.username: m.role for m in self.members}

    @cached_property
    def permissions(self) -> dict[tuple[str, str], str] | None:
        """(repository, team) -> permission, None without the permission listings."""
        return None if self.grants is None else {(g.repository, g.team): g.permission for g in self.grants}

    @cached_property
    def token_labels(self) -> dict[str, str] | None:
        """id -> label (what `access_changes` compares), None without the tokens listing."""
        return None if self.tokens is None else {token.id: token.label for token in self.tokens}


@dataclass(frozen=True, slots=True)
class AccessRow:
    """One user's effective permission on one repository: ``teams`` the teams that grant it (empty for
    an owner or an editor, whose ``role`` grants admin on every repository)."""

    repository: str
    username: str
    permission: str
    role: str
    teams: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The ``access`` query's item (``teams`` a list)."""
        return {
            "repository": self.repository,
            "username": self.username,
            "permission": self.permission,
            "role": self.role,
            "teams": list(self.teams),
        }


# -- timestamps -----------------------------------------------------------------------------------------


def moment(value: object) -> datetime | None:
    """A Hub timestamp (RFC 3339, 0-9 fraction digits, "Z" or an offset; naive means UTC) as an aware
    UTC datetime; None if absent, unreadable or Go's zero time (the Hub's "never")."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    parsed = utc(parsed)
    return None if parsed.year < OLDEST_TIMESTAMP.year else parsed


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (a naive one is UTC already)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def timestamp_text(value: object) -> str | None:
    """A Hub timestamp as canonical text: kept exactly when it is canonical already (as the CSVs keep
    the Hub's own text), rewritten in the Hub's style otherwise, None when absent or unreadable."""
    parsed = moment(value)
    if parsed is None:
        return None
    if isinstance(value, str) and CANONICAL.fullmatch(value.strip()):
        return value.strip()
    return format_timestamp(parsed)


# -- the Hub's records ----------------------------------------------------------------------------------


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _names(values: object, *keys: str) -> tuple[str, ...]:
    """Sorted distinct names from a list of names or of objects naming one under one of ``keys``."""
    found: set[str] = set()
    for value in values if isinstance(values, list | tuple) else ():
        if isinstance(value, Mapping):
            value = next((value[key] for key in keys if value.get(key)), None)
        if value:
            found.add(str(value))
    return tuple(sorted(found))


def parse_member(record: Mapping[str, Any]) -> Member:
    """A member of ``GET /v2/orgs/{org}/members`` (nulls tolerated, the role in any case)."""
    return Member(
        username=_text(record.get("username")),
        full_name=_text(record.get("full_name")),
        email=_text(record.get("email") or record.get("primary_email")),
        role=_text(record.get("role") or MEMBER).strip().lower(),
        is_guest=bool(record.get("is_guest")),
        teams=_names(record.get("groups"), "name", "group_name"),
        date_joined=timestamp_text(record.get("date_joined")),
    )


def parse_team(record: Mapping[str, Any] | str, members: Iterable[Mapping[str, Any]]) -> Team:
    """A team of ``GET /v2/orgs/{org}/groups`` (or its name) with the records of its members listing."""
    name = record if isinstance(record, str) else _text(record.get("name"))
    return Team(name, _names(list(members), "username"))


def parse_grants(repository: str, records: Iterable[Mapping[str, Any]]) -> tuple[Grant, ...]:
    """A repository's ``GET /v2/repositories/{ns}/{repo}/groups`` results; a team listed twice keeps its
    highest permission."""
    best: dict[str, str] = {}
    for record in records:
        team = _text(record.get("group_name"))
        permission = _text(record.get("permission")).strip().lower()
        if team and permission and RANK.get(permission, 0) >= RANK.get(best.get(team, ""), 0):
            best[team] = permission
    return tuple(Grant(repository, team, best[team]) for team in sorted(best))


def parse_token(record: Mapping[str, Any], detail: Mapping[str, Any] | None = None) -> Token:
    """A token of ``GET /v2/orgs/{org}/access-tokens``, with ``resources`` from its detail
    (``.../access-tokens/{id}``) when given. A null ``is_active`` counts as active."""
    source = detail if detail is not None else record
    resources = tuple(
        TokenResource(_text(item.get("type")), _text(item.get("path")), _names(item.get("scopes")))
        for item in source.get("resources") or ()
        if isinstance(item, Mapping)
    )
    return Token(
        id=_text(record.get("id")),
        label=_text(record.get("label")),
        created_by=_text(record.get("created_by")),
        is_active=record.get("is_active") is not False,
        created_at=timestamp_text(record.get("created_at")),
        expires_at=timestamp_text(record.get("expires_at")),
        last_used_at=timestamp_text(record.get("last_used_at")),
        resources=resources,
    )


def parse_repository(record: Mapping[str, Any]) -> Repository:
    """A repository of the night's list (``name``, ``is_private``; a null visibility counts as private,
    so that its access is listed rather than hidden)."""
    return Repository(_text(record.get("name")), record.get("is_private") is not False)


def parse_night(
    night: date,
    *,
    taken_at: datetime | None = None,
    members: Iterable[Mapping[str, Any]] | None = None,
    teams: Iterable[tuple[Mapping[str, Any] | str, Iterable[Mapping[str, Any]]]] | None = None,
    grants: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
    tokens: Iterable[tuple[Mapping[str, Any], Mapping[str, Any] | None]] | None = None,
) -> AccessNight:
    """A night from the Hub's records; a listing left None is one the night does not have.

    ``teams``: (team record or name, its members' records); ``grants``: repository -> its team
    permission records; ``tokens``: (listing record, detail record or None)."""
    return AccessNight(
        night,
        taken_at=taken_at,
        members=None if members is None else tuple(sorted(map(parse_member, members), key=_by_user)),
        teams=None
        if teams is None
        else tuple(sorted((parse_team(t, m) for t, m in teams), key=lambda t: t.name)),
        grants=None
        if grants is None
        else tuple(g for repo in sorted(grants) for g in parse_grants(repo, grants[repo])),
        tokens=None if tokens is None else tuple(parse_token(r, d) for r, d in tokens),
    )


def _by_user(member: Member) -> str:
    return member.username


# -- effective access -----------------------------------------------------------------------------------


def effective_access(
    night: AccessNight,
    repositories: Iterable[Repository],
    *,
    username: str | None = None,
    repository: str | None = None,
) -> list[AccessRow] | None:
    """Who may do what on each repository of the night, as Docker's roles define it; None when the
    night lacks its members or its permissions. Only the rows of ``username`` and of ``repository``
    when given: filtered before the rows are built (an owner alone has a row per repository).

    - an owner or an editor has admin on every repository (``teams`` empty);
    - a member (a guest too, or any other role) has, on each repository, the highest permission any
      of their teams has there, ``teams`` the teams granting that level;
    - an invitee has nothing;
    - everyone may read a public repository: a read on one is not listed.

    Grants on repositories not in ``repositories`` (deleted since) are ignored. Sorted by repository,
    then username."""
    memberships, roles = night.memberships, night.roles
    if roles is None or night.grants is None or memberships is None:
        return None
    if username is not None:
        roles = {username: roles[username]} if username in roles else {}
    repos = {repo.name: repo for repo in repositories if repository in (None, repo.name)}
    rows = [
        AccessRow(repo, user, ADMIN, role)
        for user, role in roles.items()
        if role in (OWNER, EDITOR)
        for repo in repos
    ]
    in_team: dict[str, list[str]] = {}
    for team, user in memberships:
        if roles.get(user) not in (None, OWNER, EDITOR, INVITEE):
            in_team.setdefault(team, []).append(user)
    best: dict[tuple[str, str], tuple[str, list[str]]] = {}  # (repository, user) -> permission, teams
    for grant in night.grants:
        if grant.repository not in repos:
            continue
        for user in in_team.get(grant.team, ()):
            held = best.get((grant.repository, user))
            if held is None or RANK.get(grant.permission, 0) > RANK.get(held[0], 0):
                best[grant.repository, user] = (grant.permission, [grant.team])
            elif grant.permission == held[0]:
                held[1].append(grant.team)
    for (repo, user), (permission, teams) in best.items():
        if permission != READ or repos[repo].is_private:
            rows.append(AccessRow(repo, user, permission, roles[user], tuple(sorted(teams))))
    rows.sort(key=lambda row: (row.repository, row.username))
    return rows


def filter_access(
    rows: Iterable[AccessRow],
    *,
    username: str | None = None,
    repository: str | None = None,
    min_permission: str | None = None,
) -> list[AccessRow]:
    """The rows of one user, one repository and at least one permission (each when given)."""
    floor = RANK.get(min_permission or READ, 0)
    return [
        row
        for row in rows
        if (username is None or row.username == username)
        and (repository is None or row.repository == repository)
        and RANK.get(row.permission, 0) >= floor
    ]


def role_counts(members: Sequence[Member]) -> dict[str, int]:
    """Members by role, every core role present (invitees included), in `ROLES` order."""
    counts = dict.fromkeys(ROLES, 0)
    for member in members:
        counts[member.role] = counts.get(member.role, 0) + 1
    return counts


# -- tokens ---------------------------------------------------------------------------------------------


def token_flags(
    token: Token, night: date, *, expiring_days: int = EXPIRING_DAYS, unused_days: int = UNUSED_DAYS
) -> list[str]:
    """How ``token`` stands on ``night``, by UTC dates, in this order:

    - ``expired``: it expired on a day before the night;
    - ``expires_soon``: not expired, and expires within ``expiring_days`` days of the night (that
      many days out included);
    - ``never_expires``: no expiry;
    - ``unused``: never used, or last used more than ``unused_days`` days before the night;
    - ``inactive``: deactivated.
    """
    flags: list[str] = []
    expires = moment(token.expires_at)
    if expires is None:
        flags.append(NEVER_EXPIRES)
    elif expires.date() < night:
        flags.append(EXPIRED)
    elif expires.date() <= night + timedelta(days=expiring_days):
        flags.append(EXPIRES_SOON)
    used = moment(token.last_used_at)
    if used is None or used.date() < night - timedelta(days=unused_days):
        flags.append(UNUSED)
    if not token.is_active:
        flags.append(INACTIVE)
    return flags


def resources_text(token: Token) -> str:
    """A token's resources for a CSV cell: ``TYPE_REPO acme/api: repo-pull, repo-push; TYPE_ORG acme:
    scope-member-read``."""
    return "; ".join(
        f"{resource.type} {resource.path}: {', '.join(resource.scopes)}" for resource in token.resources
    )
