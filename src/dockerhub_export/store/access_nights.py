"""Access history as validity intervals, like the tags': each night's changes written in one transaction;
any night, or every night of a window, read back with a query per history.

A night (`access.AccessNight`) has up to four listings. Each listing feeds one or two histories
(`HISTORIES`): members; teams and their memberships; repository team permissions; tokens and, apart,
each token's last use (it moves daily: in the token's own versions it would make one a day). A version
ends when its values change (their fingerprint tells, or the value itself for a one-value history) or
its key is gone. A listing the night does not have leaves its histories as they are, and the night's
header (`access_nights`) records it as NULL: no data is not "everyone removed".

Access history runs forward, as the tags' does: a night older than the newest stored is refused; the
newest may be written again (a rerun replaces it as a whole).
"""

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

import sqlalchemy as sa

from ..access import LISTINGS, MEMBERS, AccessNight, Grant, Member, Team, Token, TokenResource
from ..errors import StoreError
from . import tables, tag_nights
from .bulk import insert_or_update, write_rows
from .engine import keep_private, reading, writing
from .runlog import utcnow
from .tables import (
    access_members,
    access_permissions,
    access_team_members,
    access_teams,
    access_token_use,
    access_tokens,
)
from .translate import with_retries

nights_table = tables.access_nights  # the module's own name is `access_nights`, the reader's too

log = logging.getLogger("dockerhub_export.store")

Row = tuple[Any, ...]  # a history's key columns, then its value columns


@dataclass(frozen=True)
class History:
    """One interval table: the listing that feeds it, its key and value columns, and its rows from a
    night (keys first, in the table's order)."""

    table: sa.Table
    listing: str  # of `access.LISTINGS`
    keys: tuple[str, ...]
    values: tuple[str, ...]
    rows: Callable[[AccessNight], list[Row]]

    @property
    def name(self) -> str:
        return self.table.name

    @cached_property
    def fingerprinted(self) -> bool:
        return "fingerprint" in self.table.c

    @cached_property
    def compared(self) -> tuple[str, ...]:
        """The columns that tell two versions of a key apart."""
        return ("fingerprint",) if self.fingerprinted else self.values


def _member_rows(night: AccessNight) -> list[Row]:
    return [
        (m.username, m.full_name, m.email, m.role, m.is_guest, ";".join(m.teams), m.date_joined)
        for m in night.members or ()
    ]


def _token_rows(night: AccessNight) -> list[Row]:
    return [
        (t.id, t.label, t.created_by, t.is_active, t.created_at, t.expires_at, _resources(t))
        for t in night.tokens or ()
    ]


def _resources(token: Token) -> str:
    return json.dumps([resource.as_dict() for resource in token.resources], separators=(",", ":"))


HISTORIES: tuple[History, ...] = (
    History(
        access_members, "members", ("username",),
        ("full_name", "email", "role", "is_guest", "teams", "date_joined"), _member_rows,
    ),
    History(access_teams, "teams", ("team",), (), lambda n: [(t.name,) for t in n.teams or ()]),
    History(
        access_team_members, "teams", ("team", "username"), (),
        lambda n: [(t.name, user) for t in n.teams or () for user in t.members],
    ),
    History(
        access_permissions, "permissions", ("repository", "team"), ("permission",),
        lambda n: [(g.repository, g.team, g.permission) for g in n.grants or ()],
    ),
    History(
        access_tokens, "tokens", ("token_id",),
        ("label", "created_by", "is_active", "created_at", "expires_at", "resources"), _token_rows,
    ),
    History(
        access_token_use, "tokens", ("token_id",), ("last_used_at",),
        lambda n: [(t.id, t.last_used_at) for t in n.tokens or ()],
    ),
)  # fmt: skip


@dataclass(frozen=True)
class StoredAccessNight:
    """A stored night's header: when its run read it, and each listing's count (None: not listed)."""

    snapshot_date: date
    started_at: datetime
    taken_at: datetime | None
    members: int | None
    teams: int | None
    permissions: int | None
    tokens: int | None

    def listings(self) -> frozenset[str]:
        return frozenset(name for name in LISTINGS if getattr(self, name) is not None)


@dataclass
class AccessNightSummary:
    night: StoredAccessNight
    opened: int  # versions begun that night, over every history
    closed: int  # versions ended that night


def _signature(history: History, row: Row) -> Row:
    """What tells two versions of a key apart: the md5 of the values, or the values themselves."""
    values = row[len(history.keys) :]
    if not history.fingerprinted:
        return values
    return (hashlib.md5("\x1f".join(map(repr, values)).encode(), usedforsecurity=False).hexdigest(),)


def _naive(moment: datetime | None) -> datetime | None:
    """Naive UTC, as the TIMESTAMP columns keep it."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def backwards(org: str, newest: date | None, night: date) -> str | None:
    """Why ``night`` cannot be an access night when ``newest`` is the newest one (None: it can)."""
    return tag_nights.backwards(org, newest, night, history="access", option="--access / include_access")


# -- writing ----------------------------------------------------------------------------------------------


def write_access_night(
    engine: sa.Engine,
    org: str,
    night: AccessNight,
    *,
    started_at: datetime,
    run_id: int | None = None,
) -> AccessNightSummary:
    """Make ``night`` the org's newest access night, in one transaction (see the module docstring)."""
    day = night.night
    incoming = {h.name: _incoming(org, day, h, night) for h in HISTORIES if h.listing in night.listings()}
    if MEMBERS in night.listings():
        keep_private(engine)  # members' emails are personal data

    def write() -> AccessNightSummary:
        opened = closed = 0
        with writing(engine, f"store the {org} access of {day.isoformat()}") as connection:
            header = _claim(connection, org, night, started_at, run_id)
            for history in HISTORIES:
                if header.rerun:
                    undo_newest(connection, org, day, history)
                if history.name in incoming:
                    begun, ended = _write_history(connection, org, day, history, incoming[history.name])
                    opened, closed = opened + begun, closed + ended
        return AccessNightSummary(header.stored, opened, closed)

    summary = with_retries(write)
    counts = ", ".join(f"{name} {getattr(summary.night, name)}" for name in LISTINGS)
    log.info(
        "stored the %s access of %s (%s; %d versions begun, %d ended)",
        org, day, counts, summary.opened, summary.closed,
    )  # fmt: skip
    return summary


def _incoming(org: str, day: date, history: History, night: AccessNight) -> dict[Row, Row]:
    """The night's rows of ``history``, each by the row the table compares (its key and its values, or
    its key and their fingerprint); a repeated key is refused."""
    rows, width = history.rows(night), len(history.keys)
    if len({row[:width] for row in rows}) != len(rows):
        raise StoreError(
            f"cannot store the {org} access of {day.isoformat()}: a {'/'.join(history.keys)} repeats "
            f"in {history.listing}"
        )
    if history.fingerprinted:
        return {(*row[:width], *_signature(history, row)): row for row in rows}
    return {row: row for row in rows}


@dataclass(frozen=True)
class _Claim:
    stored: StoredAccessNight
    rerun: bool  # the night was stored already: undone first


def _claim(
    connection: sa.Connection, org: str, night: AccessNight, started_at: datetime, run_id: int | None
) -> _Claim:
    """Refuse a night older than the newest; take the night's header row (its lock serializes writers)."""
    table = nights_table
    newest = connection.execute(
        sa.select(sa.func.max(table.c.snapshot_date)).where(table.c.namespace == org)
    ).scalar()
    problem = backwards(org, newest, night.night)
    if problem:
        raise StoreError(problem)
    listed = (night.members, night.teams, night.grants, night.tokens)
    counts = {name: None if rows is None else len(rows) for name, rows in zip(LISTINGS, listed, strict=True)}
    started = _naive(started_at)
    assert started is not None
    values = {
        "started_at": started,
        "taken_at": _naive(night.taken_at),
        "written_at": utcnow(),
        "run_id": run_id,
    }
    statement = insert_or_update(table, connection.dialect.name, lambda _row: {**values, **counts})
    connection.execute(statement.values(namespace=org, snapshot_date=night.night, **values, **counts))
    stored = StoredAccessNight(night.night, started, night.taken_at, *counts.values())
    return _Claim(stored, rerun=newest == night.night)


def _open_versions(connection: sa.Connection, org: str, history: History) -> set[Row]:
    """The open versions as the table compares them: key and values, or key and fingerprint."""
    table = history.table
    query = sa.select(*(table.c[name] for name in (*history.keys, *history.compared))).where(
        table.c.namespace == org, table.c.valid_to.is_(None)
    )
    return set(map(tuple, connection.execute(query).all()))  # all(): fetched in bulk


def _write_history(
    connection: sa.Connection, org: str, day: date, history: History, incoming: dict[Row, Row]
) -> tuple[int, int]:
    """Close the open versions the night changed or lost, open its new ones; (opened, closed). Set
    differences of whole compared rows: a night's thousands of unchanged rows cost no Python per row."""
    current = _open_versions(connection, org, history)
    width, table = len(history.keys), history.table
    closing = [row[:width] for row in current.difference(incoming)]
    opening = [incoming[row] for row in incoming.keys() - current]
    if closing:
        where = [table.c[name] == sa.bindparam(f"k_{name}") for name in history.keys]
        connection.execute(
            sa.update(table)
            .where(table.c.namespace == org, table.c.valid_to.is_(None), *where)
            .values(valid_to=day),
            [{f"k_{name}": value for name, value in zip(history.keys, key, strict=True)} for key in closing],
        )
    if opening:
        names = (*history.keys, *history.values)
        columns: dict[str, list[Any]] = {name: [row[i] for row in opening] for i, name in enumerate(names)}
        if history.fingerprinted:
            columns["fingerprint"] = [_signature(history, row)[0] for row in opening]
        write_rows(connection, table, {"namespace": org, "valid_from": day}, columns, first=True)
    return len(opening), len(closing)


# -- undoing a night (a rerun, `db forget`) ---------------------------------------------------------------


def undo_newest(connection: sa.Connection, org: str, day: date, history: History) -> tuple[int, int]:
    """``day`` is the newest night with the history's listing: back to before it was written (every
    version begun on it is still open). Returns (versions deleted, versions open again)."""
    table = history.table
    begun = connection.execute(sa.delete(table).where(table.c.namespace == org, table.c.valid_from == day))
    ended = connection.execute(
        sa.update(table).where(table.c.namespace == org, table.c.valid_to == day).values(valid_to=None)
    )
    return _count(begun), _count(ended)


def _count(result: sa.CursorResult[Any]) -> int:
    return max(int(result.rowcount or 0), 0)


def forget_history(connection: sa.Connection, org: str, day: date, history: History) -> list[tuple[int, str]]:
    """Remove ``day`` from one history, as `db forget` removes a tag night: undone when no later night
    has the listing, else its changes handed on to the next night that has it. (rows, what was done)."""
    table = nights_table
    following = connection.execute(
        sa.select(sa.func.min(table.c.snapshot_date)).where(
            table.c.namespace == org, table.c.snapshot_date > day, table.c[history.listing].is_not(None)
        )
    ).scalar()
    if following is None:
        begun, ended = undo_newest(connection, org, day, history)
        return [
            (begun, "deleted (versions begun that night)"),
            (ended, "open again (versions that night ended)"),
        ]
    versions = history.table
    mine = (versions.c.namespace == org, versions.c.valid_from == day)
    # Valid on that night only: the version before it now lasts until `following`.
    only = connection.execute(sa.delete(versions).where(*mine, versions.c.valid_to == following))
    begun_later = connection.execute(sa.update(versions).where(*mine).values(valid_from=following))
    ended_later = connection.execute(
        sa.update(versions)
        .where(versions.c.namespace == org, versions.c.valid_to == day)
        .values(valid_to=following)
    )
    joined = _join_identical(connection, org, following, history)
    on = following.isoformat()
    return [
        (_count(only), "deleted (versions valid that night only)"),
        (_count(begun_later), f"begun on {on} instead"),
        (_count(ended_later), f"ended on {on} instead"),
        (joined, f"joined with the identical version before them on {on}"),
    ]


def _join_identical(connection: sa.Connection, org: str, boundary: date, history: History) -> int:
    """Join each version begun on ``boundary`` to the one ending there when their values are the same:
    a night's write opens no version for an unchanged key."""
    table, width = history.table, len(history.keys)
    picked = [table.c[name] for name in (*history.keys, *history.compared)]
    ending = {
        tuple(row[:width]): (row[width], tuple(row[width + 1 :]))
        for row in connection.execute(
            sa.select(*picked[:width], table.c.valid_from, *picked[width:]).where(
                table.c.namespace == org, table.c.valid_to == boundary
            )
        )
    }
    if not ending:
        return 0
    joins = []
    for row in connection.execute(
        sa.select(*picked[:width], table.c.valid_to, *picked[width:]).where(
            table.c.namespace == org, table.c.valid_from == boundary
        )
    ):
        key, before = tuple(row[:width]), ending.get(tuple(row[:width]))
        if before is not None and before[1] == tuple(row[width + 1 :]):
            joins.append({**{f"k_{n}": v for n, v in zip(history.keys, key, strict=True)},
                          "f": before[0], "to": row[width]})  # fmt: skip
    if joins:
        key_match = [table.c[name] == sa.bindparam(f"k_{name}") for name in history.keys]
        delete = sa.delete(table).where(table.c.namespace == org, table.c.valid_from == boundary, *key_match)
        connection.execute(delete, [{k: v for k, v in join.items() if k.startswith("k_")} for join in joins])
        connection.execute(
            sa.update(table)
            .where(table.c.namespace == org, table.c.valid_from == sa.bindparam("f"), *key_match)
            .values(valid_to=sa.bindparam("to")),
            joins,
        )
    return len(joins)


def delete_header(connection: sa.Connection, org: str, day: date) -> frozenset[str] | None:
    """Delete the night's header; the listings it had, None if it had none stored."""
    table = nights_table
    here = (table.c.namespace == org, table.c.snapshot_date == day)
    row = connection.execute(sa.select(table).where(*here)).mappings().first()
    if row is None:
        return None
    connection.execute(sa.delete(table).where(*here))
    return _header(row).listings()


# -- reading ----------------------------------------------------------------------------------------------


def _header(row: Any) -> StoredAccessNight:
    taken = row["taken_at"]
    return StoredAccessNight(
        row["snapshot_date"],
        row["started_at"],
        None if taken is None else taken.replace(tzinfo=UTC),
        *(row[name] for name in LISTINGS),
    )


def access_night_list(
    engine: sa.Engine, org: str, *, since: date | None = None, until: date | None = None
) -> list[StoredAccessNight]:
    """The headers of the org's stored access nights in [since, until], oldest first."""
    with reading(engine, f"read the {org} access nights") as connection:
        return _headers(connection, org, since, until)


def _headers(
    connection: sa.Connection, org: str, since: date | None, until: date | None
) -> list[StoredAccessNight]:
    table = nights_table
    query = sa.select(table).where(table.c.namespace == org)
    if since is not None:
        query = query.where(table.c.snapshot_date >= since)
    if until is not None:
        query = query.where(table.c.snapshot_date <= until)
    return [_header(row) for row in connection.execute(query.order_by(table.c.snapshot_date)).mappings()]


def newest_access_night(
    engine: sa.Engine, org: str, *, before: date | None = None, having: str | None = None
) -> StoredAccessNight | None:
    """The org's newest access night (before ``before``, and with the listing ``having``, of
    `access.LISTINGS`, when given): "the newest night that has the data"."""
    if having is not None and having not in LISTINGS:
        raise ValueError(f"unknown access listing {having!r}: one of {', '.join(LISTINGS)}")
    table = nights_table
    query = sa.select(table).where(table.c.namespace == org)
    if before is not None:
        query = query.where(table.c.snapshot_date < before)
    if having is not None:
        query = query.where(table.c[having].is_not(None))
    query = query.order_by(table.c.snapshot_date.desc()).limit(1)
    with reading(engine, f"read the {org} access nights") as connection:
        row = connection.execute(query).mappings().first()
    return None if row is None else _header(row)


def access_nights(
    engine: sa.Engine, org: str, since: date | None = None, until: date | None = None
) -> list[AccessNight]:
    """Every stored access night of the org in [since, until], oldest first, as written (tokens in id
    order). One query per history over the versions valid in the window, not one per night."""
    with reading(engine, f"read the {org} access history") as connection:
        headers = _headers(connection, org, since, until)
        if not headers:
            return []
        first, last = headers[0].snapshot_date, headers[-1].snapshot_date
        held = frozenset().union(*(header.listings() for header in headers))
        versions = {
            h.name: _versions(connection, org, h, first, last) for h in HISTORIES if h.listing in held
        }
    return [_assemble(header, versions) for header in headers]


def read_access_night(engine: sa.Engine, org: str, night: date) -> AccessNight:
    """The night as written (tokens in id order; a listing it does not have None); `StoreError` when no
    access night of the org is stored on that date."""
    found = access_nights(engine, org, night, night)
    if not found:
        newest = newest_access_night(engine, org)
        hint = f"the newest is {newest.snapshot_date.isoformat()}" if newest else "none is stored yet"
        raise StoreError(f"no {org} access night on {night.isoformat()}: {hint}")
    return found[0]


_Version = tuple[date, date | None, Row]


def _versions(
    connection: sa.Connection,
    org: str,
    history: History,
    first: date,
    last: date,
    names: Sequence[str] | None = None,
) -> list[_Version]:
    """The versions valid on some night of [first, last]: two index ranges of (namespace, valid_to).
    Each row: the key and value columns, or ``names`` when given."""
    table = history.table
    picked = (*history.keys, *history.values) if names is None else names
    columns = (table.c.valid_from, table.c.valid_to, *(table.c[n] for n in picked))
    begun = sa.and_(table.c.namespace == org, table.c.valid_from <= last)
    still_open = sa.select(*columns).where(begun, table.c.valid_to.is_(None))
    ended_later = sa.select(*columns).where(begun, table.c.valid_to > first)
    return [
        (row[0], row[1], tuple(row[2:])) for row in connection.execute(sa.union_all(still_open, ended_later))
    ]


def _valid(versions: Sequence[_Version], day: date) -> list[Row]:
    return [row for begun, ended, row in versions if begun <= day and (ended is None or ended > day)]


def _assemble(header: StoredAccessNight, versions: dict[str, list[_Version]]) -> AccessNight:
    day, held = header.snapshot_date, header.listings()
    members = teams = grants = tokens = None
    if MEMBERS in held:
        members = tuple(sorted((_member(row) for row in _valid(versions[access_members.name], day)),
                               key=lambda m: m.username))  # fmt: skip
    if "teams" in held:
        belong: dict[str, list[str]] = {}
        for team, username in _valid(versions[access_team_members.name], day):
            belong.setdefault(team, []).append(username)
        names = sorted(row[0] for row in _valid(versions[access_teams.name], day))
        teams = tuple(Team(name, tuple(sorted(belong.get(name, ())))) for name in names)
    if "permissions" in held:
        grants = tuple(Grant(*row) for row in sorted(_valid(versions[access_permissions.name], day)))
    if "tokens" in held:
        used: dict[str, str | None] = dict(_valid(versions[access_token_use.name], day))
        tokens = tuple(
            _token(row, used.get(row[0])) for row in sorted(_valid(versions[access_tokens.name], day))
        )
    return AccessNight(
        day, taken_at=header.taken_at, members=members, teams=teams, grants=grants, tokens=tokens
    )


def _member(row: Row) -> Member:
    username, full_name, email, role, is_guest, teams, date_joined = row
    return Member(
        username, full_name or "", email or "", role, bool(is_guest),
        tuple(team for team in (teams or "").split(";") if team), date_joined,
    )  # fmt: skip


def _token(row: Row, last_used_at: str | None) -> Token:
    token_id, label, created_by, is_active, created_at, expires_at, resources = row
    listed = json.loads(resources) if resources else []
    return Token(
        token_id, label or "", created_by or "", bool(is_active), created_at, expires_at, last_used_at,
        tuple(TokenResource(r["type"], r["path"], tuple(r["scopes"])) for r in listed),
    )  # fmt: skip


__all__ = [
    "HISTORIES",
    "AccessNightSummary",
    "History",
    "StoredAccessNight",
    "access_night_list",
    "access_nights",
    "backwards",
    "delete_header",
    "forget_history",
    "newest_access_night",
    "read_access_night",
    "undo_newest",
    "write_access_night",
]
