"""What changed in an org's access between two nights, and who changed it (``access-changes`` and the
nightly summary).

`changes_between` diffs two `AccessNight`s; `attribute` fills ``by``/``at`` from the newest stored
audit event that explains each change; `walk` does both for each consecutive pair of a sequence of
nights, so that someone who joined and left inside a window shows twice. A listing either night lacks
gives no changes (never "everyone removed"). A token's ``last_used_at`` moving is no change.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

from .access import INVITEE, AccessNight, moment, utc
from .audit import OVERLAP

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


# -- the diff -------------------------------------------------------------------------------------------


def changes_between(before: AccessNight, after: AccessNight) -> list[AccessChange]:
    """Every change from ``before`` to ``after`` (unattributed): members, team memberships, team
    permissions, tokens, in `KINDS` order, then by name."""
    found = [
        *_member_changes(before, after),
        *_team_changes(before, after),
        *_permission_changes(before, after),
        *_token_changes(before, after),
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


def _member_changes(before: AccessNight, after: AccessNight) -> list[AccessChange]:
    old, new = before.roles, after.roles
    if old is None or new is None or old == new:
        return []
    night = after.night
    found = [AccessChange(MEMBER_ADDED, night, username=u, to=new[u]) for u in new.keys() - old.keys()]
    found += [AccessChange(MEMBER_REMOVED, night, username=u, from_=old[u]) for u in old.keys() - new.keys()]
    changed = {u for u, _ in old.items() ^ new.items()} & old.keys() & new.keys()
    found += [AccessChange(ROLE_CHANGED, night, username=u, from_=old[u], to=new[u]) for u in changed]
    return found


def _team_changes(before: AccessNight, after: AccessNight) -> list[AccessChange]:
    old, new = before.memberships, after.memberships
    if old is None or new is None:
        return []
    found = [AccessChange(TEAM_MEMBER_ADDED, after.night, username=u, team=t) for t, u in new - old]
    found += [AccessChange(TEAM_MEMBER_REMOVED, after.night, username=u, team=t) for t, u in old - new]
    return found


def _permission_changes(before: AccessNight, after: AccessNight) -> list[AccessChange]:
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


def _token_changes(before: AccessNight, after: AccessNight) -> list[AccessChange]:
    old, new = before.token_index, after.token_index
    if old is None or new is None:
        return []
    found = [
        AccessChange(TOKEN_CREATED, after.night, token=new[i].label, token_id=i)
        for i in new.keys() - old.keys()
    ]
    found += [
        AccessChange(TOKEN_REMOVED, after.night, token=old[i].label, token_id=i)
        for i in old.keys() - new.keys()
    ]
    return found


# -- attribution ----------------------------------------------------------------------------------------


def event_window(
    before: AccessNight, after: AccessNight, overlap: timedelta = OVERLAP
) -> tuple[datetime, datetime]:
    """The times (aware UTC) in which an event may explain a change from ``before`` to ``after``: from
    ``before``'s run to ``after``'s, widened by the audit overlap on each side. A night whose run time is
    unknown counts from the start of its date (``before``) or to the end of it (``after``)."""
    start = before.taken_at or datetime.combine(before.night, time(), UTC)
    end = after.taken_at or datetime.combine(after.night, time(), UTC) + timedelta(days=1)
    return start - overlap, end + overlap


@dataclass(frozen=True, slots=True)
class _Event:
    when: datetime
    action: str
    values: frozenset[str]  # its name and the values of its data, casefolded
    actor: str | None
    timestamp: str


def _events(events: Iterable[Mapping[str, Any]]) -> list[_Event]:
    """The usable events (an action and a readable time), newest first."""
    found = []
    for event in events:
        when, action = moment(event.get("timestamp")), event.get("action")
        if when is None or not isinstance(action, str):
            continue
        data = event.get("data")
        values = [event.get("name"), *(data.values() if isinstance(data, Mapping) else ())]
        folded = frozenset(str(value).casefold() for value in values if value is not None and value != "")
        actor = event.get("actor")
        found.append(
            _Event(when, action, folded, None if actor is None else str(actor), str(event["timestamp"]))
        )
    found.sort(key=lambda item: item.when, reverse=True)
    return found


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
    return _attribute(changes, _events(events), window)


def _attribute(
    changes: Sequence[AccessChange], events: Sequence[_Event], window: tuple[datetime, datetime]
) -> list[AccessChange]:
    start, end = utc(window[0]), utc(window[1])
    usable = [event for event in events if start <= event.when <= end]
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
    nights: Sequence[AccessNight],
    events: Iterable[Mapping[str, Any]] = (),
    *,
    overlap: timedelta = OVERLAP,
) -> list[AccessChange]:
    """Every change between consecutive nights (sorted by date), attributed, oldest pair first."""
    ordered = sorted(nights, key=lambda night: night.night)
    parsed = _events(events)
    found: list[AccessChange] = []
    for before, after in pairwise(ordered):
        found += _attribute(changes_between(before, after), parsed, event_window(before, after, overlap))
    return found
