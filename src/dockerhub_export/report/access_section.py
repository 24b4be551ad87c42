"""The report's access section, read through the access queries (`access_queries`: what ``members``,
``access``, ``tokens`` and ``access-changes`` answer): members by role, the window's changes and who made
them, who may push to or administer private repositories, and the tokens to look at.

Usernames, token labels and counts only: the members' emails and full names are never kept here, so
the page can be forwarded.
"""

from datetime import date, timedelta
from typing import TYPE_CHECKING

from .. import access_queries
from ..access import (
    ADMIN,
    EXPIRED,
    EXPIRES_SOON,
    EXPIRING_DAYS,
    GRANTS,
    INVITEE,
    LISTINGS,
    MEMBERS,
    NEVER_EXPIRES,
    TOKENS,
    WRITE,
    Repository,
    effective_access,
    filter_access,
    moment,
    role_counts,
)
from ..access_changes import AccessChange
from ..store.access_nights import access_night_list, newest_access_night, read_access_night
from ..store.days import repository_visibility
from .model import Access, Figure, Gap, PrivilegedUser, TokenRow

if TYPE_CHECKING:
    import sqlalchemy as sa

TOP_CHANGES = 50  # the newest changes shown; `access-changes` lists them all
NAMED_REPOSITORIES = 5  # repositories named per privileged user; the rest counted
REVIEWED = (EXPIRED, EXPIRES_SOON, NEVER_EXPIRES)  # the tokens the report names, in this order


def access_section(
    engine: "sa.Engine", org: str, day: date, since: date, gaps: list[Gap]
) -> tuple[Access | None, Figure]:
    """The access night of ``day`` (or the newest before it) and the members figure against the window's
    first access night with members; what the night lacks goes to ``gaps``."""
    header = newest_access_night(engine, org, before=day + timedelta(days=1))
    if header is None:
        gaps.append(
            Gap(
                "access",
                f"no access data on or before {day.isoformat()}: the night was exported without --access",
            )
        )
        return None, Figure("members", "Members", "", None)
    access_day, held = header.snapshot_date, header.listings()
    note = ""
    if access_day != day:
        note = f"from the access night of {access_day.isoformat()}"
        gaps.append(Gap("access", f"the night has no access data: access is {note}", missing=False))
    for listing in LISTINGS:
        if listing not in held:
            what, forbidden = access_queries.DATA[listing]
            gaps.append(
                Gap("access", f"the night has no {what} data: its run could not read it ({forbidden})")
            )
    roles = None
    if MEMBERS in held:
        roles = role_counts(access_queries.members(engine, org, access_day).members)
    visibility = repository_visibility(engine, org, access_day) or {}
    private = {name for name, is_private in visibility.items() if is_private}
    changes, left_out, notes = _changes(engine, org, since, access_day)
    access = Access(
        night=access_day,
        roles=roles,
        changes=changes,
        changes_left_out=left_out,
        changes_notes=notes,
        private_repositories=len(private),
        # the night has both listings: the night `access` reads (`access_queries.choose_night`)
        privileged=_privileged(engine, org, access_day, private) if {MEMBERS, GRANTS} <= held else None,
        tokens=_tokens(engine, org, access_day) if TOKENS in held else None,
        expiring_days=EXPIRING_DAYS,
    )
    return access, _members_figure(engine, org, since, access_day, roles, note)


def _joined(roles: dict[str, int]) -> int:
    """Members who joined: every role but pending invitees."""
    return sum(count for role, count in roles.items() if role != INVITEE)


def _members_figure(
    engine: "sa.Engine", org: str, since: date, day: date, roles: dict[str, int] | None, note: str
) -> Figure:
    if roles is None:
        return Figure("members", "Members", "", None, note=note)
    earlier = next(
        (h for h in access_night_list(engine, org, since=since, until=day) if MEMBERS in h.listings()), None
    )
    if earlier is None or earlier.snapshot_date == day:
        return Figure("members", "Members", "", _joined(roles), note=note)
    before = _joined(role_counts(access_queries.members(engine, org, earlier.snapshot_date).members))
    return Figure("members", "Members", "", _joined(roles), before, earlier.snapshot_date, note)


def _changes(
    engine: "sa.Engine", org: str, since: date, day: date
) -> tuple[tuple[AccessChange, ...] | None, int, tuple[str, ...]]:
    """The window's changes, newest night first, at most `TOP_CHANGES` (and how many more), and what the
    window cannot tell; None when it holds fewer than two access nights."""
    nights = access_night_list(engine, org, since=since, until=day)
    if len(nights) < 2:
        return None, 0, (f"the window holds {len(nights)} access night: a change needs two",)
    report = access_queries.access_changes(engine, org, since, day)
    newest_first = sorted(report.changes, key=lambda change: change.night or date.min, reverse=True)
    return tuple(newest_first[:TOP_CHANGES]), max(0, len(newest_first) - TOP_CHANGES), tuple(report.notes)


def _privileged(engine: "sa.Engine", org: str, day: date, private: set[str]) -> tuple[PrivilegedUser, ...]:
    """Each user with write or admin on a private repository, widest first: the rows of ``access
    --min-permission write`` on the private repositories, computed for those alone (`effective_access`
    is per repository, and owners and editors hold a row on each: two thirds of the rows are public)."""
    night = read_access_night(engine, org, day)
    rows = effective_access(night, [Repository(name, True) for name in sorted(private)]) or []
    users: dict[str, dict[str, list[str]]] = {}
    roles: dict[str, str] = {}
    teams: dict[str, set[str]] = {}
    for row in filter_access(rows, min_permission=WRITE):
        users.setdefault(row.username, {ADMIN: [], WRITE: []})[row.permission].append(row.repository)
        roles[row.username] = row.role
        teams.setdefault(row.username, set()).update(row.teams)
    found = [
        PrivilegedUser(
            username,
            roles[username],
            len(held[ADMIN]),
            len(held[WRITE]),
            tuple((held[ADMIN] + held[WRITE])[:NAMED_REPOSITORIES]),
            tuple(sorted(teams[username])),
        )
        for username, held in users.items()
    ]
    found.sort(key=lambda user: (-user.admin, -user.write, user.username))
    return tuple(found)


def _tokens(engine: "sa.Engine", org: str, day: date) -> tuple[TokenRow, ...]:
    """The tokens expired, expiring within `EXPIRING_DAYS` or never expiring (as ``tokens`` flags them):
    expired first, then by expiry, never-expiring last."""
    found = []
    for row in access_queries.tokens(engine, org, day).tokens:
        flags = tuple(flag for flag in row.flags if flag in REVIEWED)
        if flags:
            token = row.token
            found.append(
                TokenRow(
                    token.label, token.created_by, token.expires_at, token.last_used_at, tuple(row.flags)
                )
            )

    def order(token: TokenRow) -> tuple[bool, str, str]:
        expires = moment(token.expires_at)
        return expires is None, "" if expires is None else expires.isoformat(), token.label

    return tuple(sorted(found, key=order))
