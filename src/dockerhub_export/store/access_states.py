"""The stored access nights of a window as `access_changes` compares them (`AccessState`): who has which
role, who is in which team, each team's permission on each repository, each token's label.

``access-changes`` over a quarter compares 91 nights of thousands of permissions each. One query per
history reads the versions valid in the window (as `access_nights.access_nights` does, but only the
columns compared: no emails, names or token resources), then one pass over their boundaries in date
order carries the state from night to night: a night is the one before it plus the versions that
began or ended since, never rebuilt from every version. A listing the night lacks is None.
"""

from collections.abc import Iterator, Sequence
from datetime import date
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from ..access import GRANTS, MEMBERS, TEAMS, TOKENS
from ..access_changes import AccessState
from .access_nights import HISTORIES, History, StoredAccessNight, _headers, _versions
from .engine import reading
from .tables import access_members, access_permissions, access_team_members, access_tokens

# The histories compared, by listing, and the value columns read (after the key).
_READ: dict[str, tuple[sa.Table, tuple[str, ...]]] = {
    MEMBERS: (access_members, ("role", "teams")),
    TEAMS: (access_team_members, ()),
    GRANTS: (access_permissions, ("permission",)),
    TOKENS: (access_tokens, ("label",)),
}
_HISTORY = {history.table.name: history for history in HISTORIES}

State = dict[Any, Any]  # a history's key (one column: its value) -> its values (one column: its value)


def access_states(engine: sa.Engine, org: str, since: date, until: date) -> list[AccessState]:
    """Every stored access night of the org in [since, until], oldest first, as `AccessState`s."""
    with reading(engine, f"read the {org} access history") as connection:
        headers = _headers(connection, org, since, until)
        if not headers:
            return []
        first, last = headers[0].snapshot_date, headers[-1].snapshot_date
        held = frozenset().union(*(header.listings() for header in headers))
        versions = {name: _read(connection, org, name, first, last) for name in _READ if name in held}
    days = [header.snapshot_date for header in headers]
    sweeps = {name: _sweep(found, days) for name, found in versions.items()}
    return [_state(header, {name: next(sweep) for name, sweep in sweeps.items()}) for header in headers]


def _read(
    connection: sa.Connection, org: str, listing: str, first: date, last: date
) -> list[tuple[date, date | None, Any, Any]]:
    """(valid_from, valid_to, key, values) of the listing's compared history over the window."""
    table, values = _READ[listing]
    history: History = _HISTORY[table.name]
    width = len(history.keys)
    found = []
    for begun, ended, row in _versions(connection, org, history, first, last, (*history.keys, *values)):
        key = row[0] if width == 1 else row[:width]
        value = row[width] if len(values) == 1 else row[width:] or None
        found.append((begun, ended, key, value))
    return found


def _sweep(versions: Sequence[tuple[date, date | None, Any, Any]], days: Sequence[date]) -> Iterator[State]:
    """The state on each of ``days`` (ascending): the versions valid that day, key -> values. The same
    dict each time, moved on: read it before the next."""
    marks = [(begun, 1, key, value) for begun, _, key, value in versions]
    marks += [(ended, 0, key, None) for _, ended, key, _ in versions if ended is not None]
    marks.sort(key=itemgetter(0, 1))  # on a date, a version ends before the key's next one begins
    state: State = {}
    k = 0
    for day in days:
        while k < len(marks) and marks[k][0] <= day:
            _, begins, key, value = marks[k]
            if begins:
                state[key] = value
            else:
                state.pop(key, None)
            k += 1
        yield state


def _state(header: StoredAccessNight, states: dict[str, State]) -> AccessState:
    held = header.listings()
    roles = memberships = permissions = labels = None
    if MEMBERS in held:
        roles = {username: role for username, (role, _teams) in states[MEMBERS].items()}
    if TEAMS in held:
        memberships = frozenset(states[TEAMS])
    elif MEMBERS in held:  # as `AccessNight.memberships`: the members' own teams
        memberships = frozenset(
            (team, username)
            for username, (_role, teams) in states[MEMBERS].items()
            for team in (teams or "").split(";")
            if team
        )
    if GRANTS in held:
        permissions = dict(states[GRANTS])
    if TOKENS in held:
        labels = {token_id: label or "" for token_id, label in states[TOKENS].items()}
    return AccessState(header.snapshot_date, header.taken_at, held, roles, memberships, permissions, labels)


__all__ = ["access_states"]
