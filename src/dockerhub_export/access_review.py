"""The night's access review, as the nightly summary shows it: members by role, what changed since the
previous stored access night and who changed it, who may push to or administer private repositories,
and which tokens have expired, expire soon or never expire.

`review` is a plain function of the night (and, for the changes, the nights before it and the audit
events); `review_night` is the pipeline's stage: it reads those from the snapshot database, after the
night and the night's audit events are stored. The changes follow `access_changes`' one rule, so the
summary of a night lists what ``access-changes`` lists for it. Usernames, labels and counts only: never
an email.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from . import store
from .access import (
    ADMIN,
    EXPIRED,
    EXPIRES_SOON,
    EXPIRING_DAYS,
    NEVER_EXPIRES,
    RANK,
    WRITE,
    AccessNight,
    Repository,
    effective_access,
    moment,
    role_counts,
    token_flags,
)
from .access_changes import (
    ASPECTS,
    AUDIT_ACTIONS,
    AccessChange,
    Compared,
    compared_from,
    event_window,
    walk,
)
from .results import AccessReview, PrivateAccess, TokenStanding
from .store.access_states import access_states

if TYPE_CHECKING:
    import sqlalchemy as sa

ALERT_DAYS = 14  # a token expiring within this many days makes a Prefect event (<= EXPIRING_DAYS)
REVIEWED_FLAGS = (EXPIRED, EXPIRES_SOON, NEVER_EXPIRES)  # the tokens the review names


def private_access(
    night: AccessNight, repositories: Iterable[Repository]
) -> tuple[PrivateAccess, ...] | None:
    """Each user with write or admin on some private repository of the night: their highest such
    permission and on how many private repositories they hold write or admin. Widest first (admin
    before write, then more repositories), then by username; None when the night lacks its members or
    its permissions (`access.effective_access`)."""
    private = [repository for repository in repositories if repository.is_private]
    rows = effective_access(night, private)
    if rows is None:
        return None
    held: dict[str, tuple[str, str, int]] = {}  # username -> role, highest permission, repositories
    for row in rows:
        if row.permission not in (WRITE, ADMIN):
            continue
        role, highest, number = held.get(row.username, (row.role, row.permission, 0))
        if RANK[row.permission] > RANK[highest]:
            highest = row.permission
        held[row.username] = (role, highest, number + 1)
    found = [PrivateAccess(user, role, permission, n) for user, (role, permission, n) in held.items()]
    found.sort(key=lambda item: (-RANK[item.permission], -item.repositories, item.username))
    return tuple(found)


def token_standings(
    night: AccessNight, *, expiring_days: int = EXPIRING_DAYS
) -> tuple[TokenStanding, ...] | None:
    """The night's tokens that have expired, expire within ``expiring_days`` days or never expire, soonest
    expiry first (expired ones first, never-expiring ones last), then by label; None without the tokens
    listing."""
    if night.tokens is None:
        return None
    found = []
    for token in night.tokens:
        flags = tuple(token_flags(token, night.night, expiring_days=expiring_days))
        if not set(flags) & set(REVIEWED_FLAGS):
            continue
        days = days_until(token.expires_at, night.night)
        found.append(TokenStanding(token.id, token.label, token.created_by, token.expires_at, days, flags))
    found.sort(key=lambda t: (t.days_left is None, t.days_left or 0, t.label, t.id))
    return tuple(found)


def uncompared(previous: Compared | Sequence[Compared], night: Compared) -> tuple[str, ...]:
    """The listings whose changes up to ``night`` are unknown: ``night`` lacks them, or so does every
    night of ``previous`` (a night's team memberships come from its team listings, else from its
    members' teams)."""
    told = compared_from(night.listings(), [n.listings() for n in _nights(previous)])
    return tuple(aspect.listing for aspect in ASPECTS if aspect.listing not in told)


def _nights(previous: Compared | Sequence[Compared]) -> list[Compared]:
    return sorted(previous if isinstance(previous, Sequence) else [previous], key=attrgetter("night"))


def review(
    night: AccessNight,
    repositories: Sequence[Repository],
    *,
    previous: Compared | Sequence[Compared] | None = None,
    events: Iterable[Mapping[str, Any]] = (),
    history: bool = True,
    expiring_days: int = EXPIRING_DAYS,
    alert_days: int = ALERT_DAYS,
) -> AccessReview:
    """The night's review. ``previous``: the stored access night before it, or the stored nights before
    it (`review_night` reads them back to the newest night that has each listing the night has); None:
    there is none, or no history. ``history``: the night is kept in a snapshot database.

    The changes are those ``access-changes`` lists for the night (`access_changes.walk`; ``events`` as
    `store.audit.events` gives them): each listing's from the newest earlier night that has it, so that
    a night that could not read a listing loses none of its changes. ``previous_night``: the oldest
    night a change is counted from (``access-changes --since`` it ``--until`` the night lists them all).
    """
    changes: tuple[AccessChange, ...] | None = None
    since = None
    if previous is not None:
        earlier = _nights(previous)
        told = compared_from(night.listings(), [n.listings() for n in earlier])
        since = min((earlier[k].night for k in told.values()), default=earlier[-1].night)
        found = walk([n for n in earlier if n.night >= since] + [night], events)
        changes = tuple(change for change in found if change.night == night.night)
    return AccessReview(
        night=night.night,
        history=history,
        roles=None if night.members is None else role_counts(night.members),
        previous_night=since,
        changes=changes,
        uncompared=() if previous is None else uncompared(previous, night),
        private_repositories=sum(1 for repository in repositories if repository.is_private),
        private_access=private_access(night, repositories),
        tokens=token_standings(night, expiring_days=expiring_days),
        expiring_days=expiring_days,
        alert_days=alert_days,
    )


def review_night(
    engine: "sa.Engine | None", org: str, night: AccessNight, repositories: Sequence[Repository]
) -> AccessReview:
    """The pipeline's review of the night just stored, compared with the org's stored access nights
    before it (each listing from the newest that has it: see `review`), its changes attributed from the
    stored audit log (synced earlier in the run). Without a snapshot database (``engine`` None) nothing
    is compared."""
    if engine is None:
        return review(night, repositories, history=False)
    headers = store.access_night_list(engine, org, until=night.night - timedelta(days=1))
    if not headers:
        return review(night, repositories)
    told = compared_from(night.listings(), [header.listings() for header in headers])
    oldest = min((headers[k].snapshot_date for k in told.values()), default=headers[-1].snapshot_date)
    earlier = access_states(engine, org, oldest, headers[-1].snapshot_date)
    since = event_window(earlier[0], night)[0]  # `walk` keeps each pair's events inside its window
    events = store.audit.events(engine, org, since=since, actions=AUDIT_ACTIONS)
    return review(night, repositories, previous=earlier, events=events)


def days_until(expires_at: str | None, night: date) -> int | None:
    """Whole days from ``night`` to the expiry's UTC date (negative: expired); None: never expires."""
    expires = moment(expires_at)
    return None if expires is None else (expires.date() - night).days
