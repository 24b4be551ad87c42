"""The access review's queries over the stored access nights: `members`, `access`, `tokens` and
`access_changes` (the ``members``, ``access``, ``tokens`` and ``access-changes`` commands).

A night is ``night`` when given, else the newest night that has the data the query needs (members;
members and permissions; tokens). A date without an access night takes the nearest one before it, and
the report's ``note`` says so. A night whose run could not read a listing the query needs is a
`ConfigError` naming what the token lacked, never an empty answer as if the org had none. An unknown
user, repository or role is a `ConfigError` naming the nearest names.

No HTTP, no Prefect, no pandas: the store's nights and the pure functions of `access` and
`access_changes`.
"""

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .access import (
    EXPIRING_DAYS,
    GRANTS,
    MEMBERS,
    PERMISSIONS,
    ROLES,
    TEAMS,
    TOKENS,
    UNUSED_DAYS,
    AccessRow,
    Member,
    Repository,
    Token,
    effective_access,
    filter_access,
    moment,
    token_flags,
)
from .access_changes import AUDIT_ACTIONS, AccessChange, holders, walk
from .errors import ConfigError
from .humanize import plural
from .resources import ACCESS_TOKENS, REPOSITORY_GROUPS
from .resources import MEMBERS as MEMBER_LISTING
from .resources import TEAMS as TEAM_LISTING
from .store import audit as stored_audit
from .store import redact
from .store.access_nights import (
    StoredAccessNight,
    access_night_list,
    newest_access_night,
    read_access_night,
)
from .store.access_states import access_states
from .store.days import repository_visibility

if TYPE_CHECKING:
    import sqlalchemy as sa

# What each listing is called in messages, and what a run that could not read it lacked.
DATA = {
    MEMBERS: ("member", MEMBER_LISTING.forbidden),
    TEAMS: ("team", TEAM_LISTING.forbidden),
    GRANTS: ("permission", REPOSITORY_GROUPS.forbidden),
    TOKENS: ("token", ACCESS_TOKENS.forbidden),
}


# -- the reports ------------------------------------------------------------------------------------------


@dataclass
class MembersReport:
    org: str
    snapshot_date: date
    members: list[Member]
    note: str | None = None  # for stderr: the night used is not the one asked for, or not the newest

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "snapshot_date": self.snapshot_date.isoformat(),
            "members": [member.as_dict() for member in self.members],
        }


@dataclass
class AccessReport:
    org: str
    snapshot_date: date
    access: list[AccessRow]
    note: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "snapshot_date": self.snapshot_date.isoformat(),
            "access": [row.as_dict() for row in self.access],
        }


@dataclass(frozen=True)
class TokenRow:
    token: Token
    flags: tuple[str, ...]  # `access.token_flags` on the night

    def as_dict(self) -> dict[str, Any]:
        return {**self.token.as_dict(), "flags": list(self.flags)}


@dataclass
class TokensReport:
    org: str
    snapshot_date: date
    tokens: list[TokenRow]
    expiring_days: int = EXPIRING_DAYS
    unused_days: int = UNUSED_DAYS
    note: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "snapshot_date": self.snapshot_date.isoformat(),
            "tokens": [row.as_dict() for row in self.tokens],
        }


@dataclass
class ChangesReport:
    org: str
    since: date
    until: date
    changes: list[AccessChange]  # oldest night first; each night's in `access_changes.KINDS` order
    nights: list[date]  # the stored access nights of the window
    notes: list[str]  # for stderr: kinds of change the window cannot tell (a listing missing)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "changes": [change.as_dict() for change in self.changes],
        }


# -- which night ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chosen:
    night: StoredAccessNight
    note: str | None


def no_data(org: str, day: date, listing: str) -> ConfigError:
    """The night has no data of ``listing`` (its run could not read it)."""
    what, forbidden = DATA[listing]
    return ConfigError(
        f"{org}'s night {day.isoformat()} has no {what} data: its run could not read it ({forbidden})"
    )


def choose_night(engine: "sa.Engine", org: str, asked: date | None, needs: Sequence[str]) -> Chosen:
    """The night a query reads: ``asked`` (or the nearest access night before it), else the newest night
    that has every listing of ``needs``; a `ConfigError` when there is none, or the night asked for
    lacks a listing."""
    if asked is None:
        headers = access_night_list(engine, org)
        if not headers:
            raise _nothing_stored(engine, org)
        having = [header for header in headers if set(needs) <= header.listings()]
        if not having:
            count = plural(len(headers), "access night")
            never = [name for name in needs if all(name not in h.listings() for h in headers)]
            if not never:  # each listing on some night, never all on one
                both = " and ".join(DATA[name][0] for name in needs)
                raise ConfigError(
                    f"none of {org}'s {count} has both {both} data, which effective access needs: each "
                    "run could read one of them"
                )
            what, forbidden = DATA[never[0]]
            raise ConfigError(
                f"none of {org}'s {count} has {what} data: their runs could not read it ({forbidden})"
            )
        newest, chosen = headers[-1], having[-1]
        note = None
        if chosen is not newest:
            what = " or ".join(DATA[name][0] for name in needs if name not in newest.listings())
            note = (
                f"{org}'s newest access night, {newest.snapshot_date.isoformat()}, has no {what} data: "
                f"showing {chosen.snapshot_date.isoformat()}, the newest that has"
            )
        return Chosen(chosen, note)
    found = newest_access_night(engine, org, before=asked + timedelta(days=1))
    if found is None:
        first = next(iter(access_night_list(engine, org)), None)
        if first is None:
            raise _nothing_stored(engine, org)
        raise ConfigError(
            f"no access night of {org} on or before {asked.isoformat()}: "
            f"the first is {first.snapshot_date.isoformat()}"
        )
    for name in needs:
        if name not in found.listings():
            raise no_data(org, found.snapshot_date, name)
    note = None
    if found.snapshot_date != asked:
        note = (
            f"{asked.isoformat()} has no access night: "
            f"the nearest night before it is {found.snapshot_date.isoformat()}"
        )
    return Chosen(found, note)


def _nothing_stored(engine: "sa.Engine", org: str) -> ConfigError:
    return ConfigError(
        f"no access night of {org} in {redact(engine.url)}: run `dockerhub-export run --org {org} --access` "
        "first"
    )


def unknown(org: str, day: date, what: str, name: str, known: Iterable[str]) -> ConfigError:
    """``name`` is no ``what`` of the night: the nearest names, if any is close."""
    names = sorted(set(known))
    nearest = nearest_names(name, names)
    hint = (
        f"the nearest: {', '.join(nearest)}"
        if nearest
        else f"none is close ({plural(len(names), what)} that night)"
    )
    return ConfigError(f"{org} has no {what} {name!r} on the night of {day.isoformat()}: {hint}")


def nearest_names(name: str, names: Sequence[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` of ``names`` nearest to ``name`` (case ignored): by similarity, ties in name order;
    then those that contain it."""
    wanted, matcher = name.lower(), difflib.SequenceMatcher()
    matcher.set_seq2(wanted)
    scored = []
    for known in names:
        matcher.set_seq1(known.lower())
        if matcher.real_quick_ratio() >= cutoff and matcher.quick_ratio() >= cutoff:
            score = matcher.ratio()
            if score >= cutoff:
                scored.append((-score, known))
    found = [known for _score, known in sorted(scored)[:n]]
    found += [known for known in names if wanted in known.lower() and known not in found]
    return found[:n]


# -- members, access, tokens ------------------------------------------------------------------------------


def members(
    engine: "sa.Engine", org: str, night: date | None = None, role: str | None = None
) -> MembersReport:
    """The night's members and pending invitees (role ``invitee``), by username; of one role if given."""
    chosen = choose_night(engine, org, night, (MEMBERS,))
    day = chosen.night.snapshot_date
    state = read_access_night(engine, org, day)
    found = list(state.members or ())
    if role is not None:
        wanted = role.strip().lower()
        present = {member.role for member in found}
        if wanted not in ROLES and wanted not in present:
            raise unknown(org, day, "role", role, [*ROLES, *present])
        found = [member for member in found if member.role == wanted]
    return MembersReport(org, day, found, chosen.note)


def access(
    engine: "sa.Engine",
    org: str,
    night: date | None = None,
    user: str | None = None,
    repo: str | None = None,
    min_permission: str | None = None,
) -> AccessReport:
    """The night's effective access (`access.effective_access`) over the repositories of the snapshot of
    the same date, by repository then username; of one user, one repository and at least one permission
    when given. A repository of unknown visibility counts as public, as the run's access CSV has it."""
    if min_permission is not None and min_permission not in PERMISSIONS:
        raise ConfigError(f"invalid --min-permission {min_permission!r}: one of {', '.join(PERMISSIONS)}")
    chosen = choose_night(engine, org, night, (MEMBERS, GRANTS))
    day = chosen.night.snapshot_date
    visibility = repository_visibility(engine, org, day)
    if visibility is None:
        raise ConfigError(
            f"no repository snapshot of {org} on {day.isoformat()}, which its access night needs (the "
            "visibility of each repository): was it removed from the database?"
        )
    state = read_access_night(engine, org, day)
    if user is not None and user not in (state.roles or {}):
        raise unknown(org, day, "member", user, state.roles or {})
    if repo is not None and repo not in visibility:
        raise unknown(org, day, "repository", repo, visibility)
    # Only what was asked for is computed: one user's rows, or one repository's, of 100,000s.
    wanted = visibility if repo is None else {repo: visibility[repo]}
    repositories = [Repository(name, bool(private)) for name, private in wanted.items()]
    rows = effective_access(state, repositories, username=user, repository=repo) or []
    return AccessReport(org, day, filter_access(rows, min_permission=min_permission), chosen.note)


def tokens(
    engine: "sa.Engine",
    org: str,
    night: date | None = None,
    expiring_days: int = EXPIRING_DAYS,
    unused_days: int = UNUSED_DAYS,
) -> TokensReport:
    """The night's org access tokens, oldest first, each with its flags on the night's date."""
    if expiring_days < 0 or unused_days < 0:
        raise ConfigError("--expiring-days and --unused-days must be 0 or more")
    chosen = choose_night(engine, org, night, (TOKENS,))
    day = chosen.night.snapshot_date
    state = read_access_night(engine, org, day)
    rows = [
        TokenRow(token, tuple(token_flags(token, day, expiring_days=expiring_days, unused_days=unused_days)))
        for token in sorted(state.tokens or (), key=_oldest_first)
    ]
    return TokensReport(org, day, rows, expiring_days, unused_days, chosen.note)


def _oldest_first(token: Token) -> tuple[datetime, str]:
    """By creation (an unknown one last), then id."""
    return moment(token.created_at) or datetime.max.replace(tzinfo=UTC), token.id


# -- access-changes ---------------------------------------------------------------------------------------


def access_changes(engine: "sa.Engine", org: str, since: date, until: date | None = None) -> ChangesReport:
    """Every change between consecutive stored access nights inside [since, until] (``until`` default:
    the newest night), each attributed where a stored audit event explains it; someone who joined and
    left inside the window shows twice. `access_changes.walk` over the window's nights: the rule the
    nightly summary follows too (its gaps, its times).

    The window's nights only: its first night is where it starts (the changes that led to it are those
    of the window before), so that a review of night D, then ``access-changes --since D``, covers every
    change once. A night without a listing is skipped for that listing's changes, which are then told
    between the nights around it (never "everyone removed", never a change lost); a listing held by
    fewer than two of the window's nights gives a note instead of its changes.
    """
    if until is not None and since > until:
        raise ConfigError(f"--since {since.isoformat()} is after --until {until.isoformat()}")
    headers = access_night_list(engine, org)
    if not headers:
        raise _nothing_stored(engine, org)
    end = until if until is not None else max(headers[-1].snapshot_date, since)
    nights = access_states(engine, org, since, end)
    if len(nights) < 2:
        stored = f"{org}'s access nights run from {headers[0].snapshot_date} to {headers[-1].snapshot_date}"
        count = plural(len(nights), "access night")
        raise ConfigError(
            f"{since.isoformat()} to {end.isoformat()} holds {count} of {org}: a change needs two ({stored})"
        )
    first = nights[0].night - timedelta(days=1)  # the window's events, and an overlap's worth around them
    events = stored_audit.events(
        engine, org, since=first, until=nights[-1].night + timedelta(days=1), actions=AUDIT_ACTIONS
    )
    notes = []
    for listing, held in holders(nights).items():
        if len(held) < 2:
            what, forbidden = DATA[listing]
            nights_with = f"{plural(len(held), 'night')} of the window {'has' if len(held) == 1 else 'have'}"
            notes.append(f"no {what} changes: {nights_with} {what} data ({forbidden})")
    found = walk(nights, events)
    return ChangesReport(org, since, end, found, [night.night for night in nights], notes)


__all__ = [
    "AccessReport",
    "ChangesReport",
    "MembersReport",
    "TokenRow",
    "TokensReport",
    "access",
    "access_changes",
    "choose_night",
    "members",
    "tokens",
]
