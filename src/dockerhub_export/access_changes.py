"""What changed in an org's access between nights, and who changed it: the one rule behind both
``access-changes`` (`access_queries.access_changes`) and the nightly summary (`access_review`).

`changes_between` diffs two nights; `attribute` fills ``by``/``at`` from the newest stored audit event
that explains each change; `walk` does both over a sequence of nights, so that someone who joined and
left inside a window shows twice. A night is an `AccessNight`, or the lighter `AccessState` the store
reads for a window (`store.access_states`): anything `Compared`.

- **Gaps.** A listing a night lacks gives no changes (never "everyone removed"): each kind of change is
  told between consecutive nights that have its listing (`ASPECTS`), across the nights that lack it.
- **When.** An event explains a change between two nights when it falls between their runs, widened by
  the audit `OVERLAP` (`event_window`). A run's time counts only if the run fell on its night's date
  (`run_time`): a night exported on another day (``--snapshot-date``, a simulated Hub) counts as its
  whole date, without the overlap.

A token's ``last_used_at`` moving is no change.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any, Protocol

from .access import GRANTS, INVITEE, MEMBERS, TEAMS, TOKENS, moment, utc
from .timestamps import OVERLAP

MEMBER_ADDED, MEMBER_REMOVED, ROLE_CHANGED = "member_added", "member_removed", "role_changed"
TEAM_MEMBER_ADDED, TEAM_MEMBER_REMOVED = "team_member_added", "team_member_removed"
PERMISSION_GRANTED, PERMISSION_REVOKED = "permission_granted", "permission_revoked"
PERMISSION_CHANGED = "permission_changed"
TOKEN_CREATED, TOKEN_REMOVED = "token_created", "token_removed"
KINDS = (
    MEMBER_ADDED,
    MEMBER_REMOVED,
    ROLE_CHANGED,
    TEAM_MEMBER_ADDED,
    TEAM_MEMBER_REMOVED,
    PERMISSION_GRANTED,
    PERMISSION_REVOKED,
    PERMISSION_CHANGED,
    TOKEN_CREATED,
    TOKEN_REMOVED,
)

# The audit actions that explain each kind of change. An accepted invite is logged as the new member
# adding themself (org.member.add); an invitation as org.member.invite.send. The Hub has no action for
# a repository's team permission: those changes stay unattributed.
MEMBER_ADD, MEMBER_REMOVE, ROLE_CHANGE = "org.member.add", "org.member.remove", "org.member.role.change"
INVITE_SEND = "org.member.invite.send"
TEAM_MEMBER_ADD, TEAM_MEMBER_REMOVE = "org.team.member.add", "org.team.member.remove"
TOKEN_CREATE, TOKEN_DELETE = "org.access_token.create", "org.access_token.delete"
AUDIT_ACTIONS = (
    MEMBER_ADD,
    MEMBER_REMOVE,
    ROLE_CHANGE,
    INVITE_SEND,
    TEAM_MEMBER_ADD,
    TEAM_MEMBER_REMOVE,
    TOKEN_CREATE,
    TOKEN_DELETE,
)  # what to read from the stored audit log (`store.audit.events(..., actions=AUDIT_ACTIONS)`)


@dataclass(frozen=True, slots=True)
class AccessChange:
    """One change between two consecutive nights; a field that does not apply is None.

    ``night``: the later night's date. ``token`` is the token's label, ``token_id`` its id.
    ``from_``/``to``: the role (member and role changes) or the permission (permission changes).
    ``by``/``at``: the actor and time of the audit event that explains it, if one does."""

    change: str
    night: date | None = None
    username: str | None = None
    team: str | None = None
    repository: str | None = None
    token: str | None = None
    from_: str | None = None
    to: str | None = None
    by: str | None = None
    at: str | None = None
    token_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """The ``access-changes`` item: change, username, team, repository, token, from, to, by, at."""
        return {
            "change": self.change,
            "username": self.username,
            "team": self.team,
            "repository": self.repository,
            "token": self.token,
            "from": self.from_,
            "to": self.to,
            "by": self.by,
            "at": self.at,
        }


# -- what is compared -------------------------------------------------------------------------------


class Compared(Protocol):
    """A night as the changes are diffed on (`AccessNight` is one): each part None when the night lacks
    the listing it comes from."""

    @property
    def night(self) -> date: ...

    @property
    def taken_at(self) -> datetime | None: ...  # its run's time, aware UTC

    @property
    def roles(self) -> Mapping[str, str] | None: ...  # username -> role

    @property
    def memberships(self) -> AbstractSet[tuple[str, str]] | None: ...  # (team, username)

    @property
    def permissions(self) -> Mapping[tuple[str, str], str] | None: ...  # (repository, team) -> permission

    @property
    def token_labels(self) -> Mapping[str, str] | None: ...  # token id -> label

    def listings(self) -> frozenset[str]: ...  # of `access.LISTINGS`


@dataclass(frozen=True, slots=True)
class AccessState:
    """A night reduced to what is compared (see `Compared`): no emails, names, dates or token resources.
    ``held``: the listings the night has (of `access.LISTINGS`)."""

    night: date
    taken_at: datetime | None = None
    held: frozenset[str] = frozenset()
    roles: Mapping[str, str] | None = None
    memberships: AbstractSet[tuple[str, str]] | None = None
    permissions: Mapping[tuple[str, str], str] | None = None
    token_labels: Mapping[str, str] | None = None

    def listings(self) -> frozenset[str]:
        return self.held


@dataclass(frozen=True)
class Aspect:
    """The changes one listing tells (`diff`), and the listings a night tells them from (any one)."""

    listing: str  # of `access.LISTINGS`: how notes and the summary name it
    sources: frozenset[str]
    diff: Callable[["Compared", "Compared"], list[AccessChange]]

    def told_by(self, listings: AbstractSet[str]) -> bool:
        return not self.sources.isdisjoint(listings)


# -- the diff -------------------------------------------------------------------------------------------


def _member_changes(before: Compared, after: Compared) -> list[AccessChange]:
    old, new = before.roles, after.roles
    if old is None or new is None or old == new:
        return []
    night = after.night
    found = [AccessChange(MEMBER_ADDED, night, username=u, to=new[u]) for u in new.keys() - old.keys()]
    found += [AccessChange(MEMBER_REMOVED, night, username=u, from_=old[u]) for u in old.keys() - new.keys()]
    changed = {u for u, _ in old.items() ^ new.items()} & old.keys() & new.keys()
    found += [AccessChange(ROLE_CHANGED, night, username=u, from_=old[u], to=new[u]) for u in changed]
    return found


def _team_changes(before: Compared, after: Compared) -> list[AccessChange]:
    old, new = before.memberships, after.memberships
    if old is None or new is None:
        return []
    found = [AccessChange(TEAM_MEMBER_ADDED, after.night, username=u, team=t) for t, u in new - old]
    found += [AccessChange(TEAM_MEMBER_REMOVED, after.night, username=u, team=t) for t, u in old - new]
    return found


def _permission_changes(before: Compared, after: Compared) -> list[AccessChange]:
    old, new = before.permissions, after.permissions
    if old is None or new is None or old == new:
        return []
    found = []
    for key in {key for key, _ in old.items() ^ new.items()}:
        was, now = old.get(key), new.get(key)
        kind = (
            PERMISSION_GRANTED if was is None else PERMISSION_REVOKED if now is None else PERMISSION_CHANGED
        )
        found.append(AccessChange(kind, after.night, repository=key[0], team=key[1], from_=was, to=now))
    return found


def _token_changes(before: Compared, after: Compared) -> list[AccessChange]:
    old, new = before.token_labels, after.token_labels
    if old is None or new is None:
        return []
    found = [
        AccessChange(TOKEN_CREATED, after.night, token=new[i], token_id=i) for i in new.keys() - old.keys()
    ]
    found += [
        AccessChange(TOKEN_REMOVED, after.night, token=old[i], token_id=i) for i in old.keys() - new.keys()
    ]
    return found


# In `LISTINGS` order. Team memberships come from the team listings, else from the members' teams.
ASPECTS: tuple[Aspect, ...] = (
    Aspect(MEMBERS, frozenset({MEMBERS}), _member_changes),  # added, removed, role changed
    Aspect(TEAMS, frozenset({TEAMS, MEMBERS}), _team_changes),  # team member added, removed
    Aspect(GRANTS, frozenset({GRANTS}), _permission_changes),  # granted, revoked, changed
    Aspect(TOKENS, frozenset({TOKENS}), _token_changes),  # created, removed
)


def changes_between(
    before: Compared, after: Compared, listings: AbstractSet[str] | None = None
) -> list[AccessChange]:
    """Every change from ``before`` to ``after`` (unattributed), of the aspects of ``listings`` when
    given: members, team memberships, team permissions, tokens, in `KINDS` order, then by name."""
    found = [
        change
        for aspect in ASPECTS
        if listings is None or aspect.listing in listings
        for change in aspect.diff(before, after)
    ]
    found.sort(key=_order)
    return found


def _order(change: AccessChange) -> tuple[int, str, str, str, str, str]:
    return (
        KINDS.index(change.change),
        change.username or "",
        change.team or "",
        change.repository or "",
        change.token or "",
        change.token_id or "",
    )


# -- which nights are compared ----------------------------------------------------------------------------


def holders(nights: Sequence[Compared]) -> dict[str, list[int]]:
    """For each aspect (by listing), the indices of ``nights`` that tell it."""
    held = [night.listings() for night in nights]
    return {aspect.listing: [k for k, has in enumerate(held) if aspect.told_by(has)] for aspect in ASPECTS}


def compared_from(held: AbstractSet[str], earlier: Sequence[AbstractSet[str]]) -> dict[str, int]:
    """For each aspect that a night holding the listings ``held`` tells, the index of the newest of
    ``earlier`` (the listings of the nights before it, oldest first) that tells it too: the night its
    changes of that aspect are counted from. An aspect no earlier night tells is left out."""
    found = {}
    for aspect in ASPECTS:
        if aspect.told_by(held):
            k = next((k for k in reversed(range(len(earlier))) if aspect.told_by(earlier[k])), None)
            if k is not None:
                found[aspect.listing] = k
    return found


# -- attribution ----------------------------------------------------------------------------------------


def run_time(night: Compared) -> datetime | None:
    """When the night's state was read, as far as its run tells: its run's time (aware UTC) when the run
    fell on the night's date, else None (unknown, or a night exported on another day: its whole date)."""
    taken = night.taken_at
    if taken is None:
        return None
    taken = utc(taken)
    return taken if taken.date() == night.night else None


def event_window(
    before: Compared, after: Compared, overlap: timedelta = OVERLAP
) -> tuple[datetime, datetime]:
    """The times (aware UTC, both ends included) in which an event may explain a change from ``before``
    to ``after``: from ``before``'s run to ``after``'s, each widened by ``overlap``; a night without a
    `run_time` from the start of its date (``before``) or to the end of it (``after``)."""
    start, end = run_time(before), run_time(after)
    return (
        start - overlap if start is not None else datetime.combine(before.night, time(), UTC),
        end + overlap if end is not None else datetime.combine(after.night + timedelta(days=1), time(), UTC),
    )


@dataclass(frozen=True, slots=True)
class _Event:
    when: datetime
    action: str
    values: frozenset[str]  # its name and the values of its data, casefolded
    actor: str | None
    timestamp: str


class _Events:
    """The usable events (an action and a readable time), read once, oldest first."""

    def __init__(self, events: Iterable[Mapping[str, Any]]) -> None:
        found = []
        for event in events:
            when, action = moment(event.get("timestamp")), event.get("action")
            if when is None or not isinstance(action, str):
                continue
            data = event.get("data")
            values = [event.get("name"), *(data.values() if isinstance(data, Mapping) else ())]
            folded = frozenset(str(value).casefold() for value in values if value is not None and value != "")
            actor = None if event.get("actor") is None else str(event["actor"])
            found.append(_Event(when, action, folded, actor, str(event["timestamp"])))
        found.sort(key=lambda item: item.when)
        self.events, self.times = found, [event.when for event in found]

    def within(self, window: tuple[datetime, datetime]) -> list[_Event]:
        start, end = utc(window[0]), utc(window[1])
        return self.events[bisect_left(self.times, start) : bisect_right(self.times, end)]


def _wanted(change: AccessChange) -> tuple[tuple[str, ...], list[set[str]]]:
    """The actions that explain ``change`` and what the event must name: each set one value of which is
    its ``name`` or among its ``data`` values (a token by its label or id)."""
    user = {(change.username or "").casefold()}
    if change.change == MEMBER_ADDED:
        return ((INVITE_SEND,) if change.to == INVITEE else (MEMBER_ADD,)), [user]
    if change.change == MEMBER_REMOVED:
        return (MEMBER_REMOVE,), [user]
    if change.change == ROLE_CHANGED:
        return ((ROLE_CHANGE, MEMBER_ADD) if change.from_ == INVITEE else (ROLE_CHANGE,)), [user]
    team = {(change.team or "").casefold()}
    if change.change == TEAM_MEMBER_ADDED:
        return (TEAM_MEMBER_ADD,), [user, team]
    if change.change == TEAM_MEMBER_REMOVED:
        return (TEAM_MEMBER_REMOVE,), [user, team]
    token = {value.casefold() for value in (change.token, change.token_id) if value}
    if change.change == TOKEN_CREATED:
        return (TOKEN_CREATE,), [token]
    if change.change == TOKEN_REMOVED:
        return (TOKEN_DELETE,), [token]
    return (), []  # permission changes: the Hub logs none


def attribute(
    changes: Sequence[AccessChange],
    events: Iterable[Mapping[str, Any]],
    window: tuple[datetime, datetime],
) -> list[AccessChange]:
    """``changes`` with ``by`` and ``at`` from the newest event that explains each: its action matches,
    it names the username (and the team; a token: its label or id) as its ``name`` or a value of its
    ``data``, and its time is inside ``window`` (both ends included; see `event_window`). ``events``
    as ``store.audit.events`` returns them. A change no event explains keeps None."""
    return _attribute(changes, _Events(events).within(window))


def _attribute(changes: Sequence[AccessChange], usable: Sequence[_Event]) -> list[AccessChange]:
    by_action: dict[str, list[_Event]] = {}
    for event in usable:
        by_action.setdefault(event.action, []).append(event)
    attributed = []
    for change in changes:
        actions, names = _wanted(change)
        candidates = [event for action in actions for event in by_action.get(action, ())]
        found = max(
            (event for event in candidates if all(event.values & wanted for wanted in names)),
            key=lambda event: event.when,
            default=None,
        )
        attributed.append(change if found is None else replace(change, by=found.actor, at=found.timestamp))
    return attributed


def walk(
    nights: Sequence[Compared],
    events: Iterable[Mapping[str, Any]] = (),
    *,
    overlap: timedelta = OVERLAP,
) -> list[AccessChange]:
    """Every change between nights (sorted by date) that follow each other among those that tell its
    kind (see the module docstring: gaps), attributed (`event_window`); by night, then in `KINDS` order,
    then by name."""
    ordered = sorted(nights, key=lambda night: night.night)
    pairs: dict[tuple[int, int], set[str]] = {}
    for listing, held in holders(ordered).items():
        for pair in pairwise(held):
            pairs.setdefault(pair, set()).add(listing)
    parsed = _Events(events)
    found: list[AccessChange] = []
    for (a, b), listings in sorted(pairs.items()):
        before, after = ordered[a], ordered[b]
        changes = changes_between(before, after, listings)
        if changes:
            found += _attribute(changes, parsed.within(event_window(before, after, overlap)))
    found.sort(key=lambda change: (change.night or date.min, *_order(change)))
    return found
