"""Forgetting one person's contact data (an erasure request, GDPR art. 17), in one transaction.

The access history keeps every version of every member, with their full name and email, for as long as
the database lives. A former member's name and email are cleared from each of their versions, and their
email address from the data of the audit events that hold it. Their username stays: it is the key of
who could do what and of who changed what, which an access review must still answer for those nights.
An invitee invited by email may have that email as their username: such a username is replaced by a
pseudonym (``forgotten-`` and random hex), the same in every version.

A current member is refused: the next night would store their name and email again.
"""

import difflib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import sqlalchemy as sa

from ..errors import ConfigError
from .access_nights import HISTORIES, _signature
from .engine import WRITE, reading
from .tables import access_members, access_nights, access_team_members, audit_events
from .translate import translate, with_retries

MEMBERS_HISTORY = next(history for history in HISTORIES if history.table is access_members)
PSEUDONYM_PREFIX = "forgotten-"
T = TypeVar("T")


@dataclass
class PersonSummary:
    """What forgetting ``user`` in ``org`` changed (or, in a dry run, would change)."""

    org: str
    user: str  # as asked
    usernames: tuple[str, ...]  # the stored usernames that matched (one, but for a changed email)
    renamed: dict[str, str]  # username that was an email address -> its pseudonym
    versions: int  # member versions whose name and email were cleared
    first: date  # the first night that listed them
    gone: date  # the night from which no night lists them
    events: int  # audit events whose data held one of the addresses


def forget_person(engine: sa.Engine, org: str, user: str, *, apply: bool) -> PersonSummary:
    """Clear the full name and email of the former member or invitee ``user`` (a username or an email,
    case ignored) from every version of ``org``'s member history, and their addresses from its audit
    events' data. Raises `ConfigError` for a name never listed, or a person still a member."""

    def erase(connection: sa.Connection) -> PersonSummary:
        return _erase(connection, org, user, _usernames(connection, org, user))

    return _in_transaction(engine, f"forget {org}'s member {user!r}", erase, apply=apply)


def forget_departed(engine: sa.Engine, org: str, before: date, *, apply: bool) -> list[PersonSummary]:
    """`forget_person` for every former member or invitee of ``org`` whose last night listed was before
    ``before`` (the first night without them on or before it) and whose name or email is still kept:
    a retention rule, in one transaction."""

    def erase(connection: sa.Connection) -> list[PersonSummary]:
        m = access_members
        kept = sa.or_(sa.func.coalesce(m.c.email, "") != "", sa.func.coalesce(m.c.full_name, "") != "")
        still_kept = _departed(org, before).having(sa.func.max(sa.case((kept, 1), else_=0)) == 1)
        return [_erase(connection, org, name, (name,)) for name in connection.execute(still_kept).scalars()]

    return _in_transaction(engine, f"forget {org}'s members gone before {before}", erase, apply=apply)


def departed(engine: sa.Engine, org: str, before: date) -> list[str]:
    """Every former member or invitee of ``org`` gone before ``before``, erased or not: whose lines the
    members CSVs must not hold either (a file left as it was by a rewrite that failed)."""
    with reading(engine, f"read {org}'s former members") as connection:
        return list(connection.execute(_departed(org, before)).scalars())


def _departed(org: str, before: date) -> "sa.Select[Any]":
    m = access_members
    return (
        sa.select(m.c.username)
        .where(m.c.namespace == org)
        .group_by(m.c.username)
        .having(sa.func.count(m.c.valid_to) == sa.func.count())  # no open version: gone
        .having(sa.func.max(m.c.valid_to) <= before)
        .order_by(m.c.username)
    )


def _in_transaction(engine: sa.Engine, what: str, erase: Callable[[sa.Connection], T], *, apply: bool) -> T:
    """``erase`` in one write transaction, rolled back unless ``apply`` (a dry run reports the same)."""

    def work() -> T:
        with translate(engine, what):
            with engine.connect() as connection:
                connection.execution_options(**{WRITE: True})
                with connection.begin() as transaction:
                    done = erase(connection)
                    if not apply:
                        transaction.rollback()
        return done

    return with_retries(work)


def _usernames(connection: sa.Connection, org: str, user: str) -> tuple[str, ...]:
    """The stored usernames ``user`` names (as a username, or as an address one of them had)."""
    m = access_members
    wanted = user.strip().lower()
    found = connection.execute(
        sa.select(m.c.username)
        .where(m.c.namespace == org)
        .where(sa.or_(sa.func.lower(m.c.username) == wanted, sa.func.lower(m.c.email) == wanted))
        .distinct()
    ).scalars()
    usernames = tuple(sorted(found))
    if not usernames:
        hint = _hint(connection, org, user)
        raise ConfigError(f"{org} has no member or invitee {user!r} in its access history: {hint}")
    return usernames


def _erase(connection: sa.Connection, org: str, user: str, usernames: tuple[str, ...]) -> PersonSummary:
    m = access_members
    # Every version of those usernames, also those listed under another address.
    rows = connection.execute(
        sa.select(m).where(m.c.namespace == org, m.c.username.in_(usernames)).order_by(m.c.valid_from)
    ).all()
    current = [row for row in rows if row.valid_to is None]
    if current:
        newest = connection.execute(
            sa.select(sa.func.max(access_nights.c.snapshot_date)).where(
                access_nights.c.namespace == org, access_nights.c.members.is_not(None)
            )
        ).scalar()
        raise ConfigError(
            f"{current[0].username} is still a member of {org} (the night of {newest} lists them): the next "
            "night would store their name and email again; remove them on Docker Hub, let a night run, "
            "then forget them"
        )
    addresses = tuple(dict.fromkeys(row.email.lower() for row in rows if row.email))
    renamed = {name: PSEUDONYM_PREFIX + secrets.token_hex(6) for name in usernames if "@" in name}
    versions = sum(_clear(connection, org, row, renamed.get(row.username, row.username)) for row in rows)
    _rename(connection, org, renamed)
    events = _scrub_audit(connection, org, (*addresses, *renamed))
    return PersonSummary(
        org, user, usernames, renamed, versions,
        first=rows[0].valid_from, gone=max(row.valid_to for row in rows), events=events,
    )  # fmt: skip


def _clear(connection: sa.Connection, org: str, row: Any, username: str) -> int:
    """Clear one version's name and email (and give it ``username``); 1 when it held any, else 0."""
    if not row.full_name and not row.email and username == row.username:
        return 0
    # The fingerprint of what the version now holds, as a night's write computes it for a member with
    # neither (`_member_rows`: ""): it must not keep a hash of the address either.
    kept = {"full_name": "", "email": "", "role": row.role, "is_guest": bool(row.is_guest)}
    kept |= {"teams": row.teams, "date_joined": row.date_joined}
    (fingerprint,) = _signature(MEMBERS_HISTORY, (username, *(kept[name] for name in MEMBERS_HISTORY.values)))
    m = access_members
    connection.execute(
        sa.update(m)
        .where(m.c.namespace == org, m.c.username == row.username, m.c.valid_from == row.valid_from)
        .values(username=username, full_name=None, email=None, fingerprint=fingerprint)
    )
    return 1


def _rename(connection: sa.Connection, org: str, renamed: dict[str, str]) -> None:
    """Give a username that was an email address its pseudonym in the team memberships and as the audit
    events' name and actor."""
    tm, a = access_team_members, audit_events
    for old, new in renamed.items():
        connection.execute(
            sa.update(tm).where(tm.c.namespace == org, tm.c.username == old).values(username=new)
        )
        for column in (a.c.name, a.c.actor):
            connection.execute(sa.update(a).where(a.c.namespace == org, column == old).values({column: new}))


def _scrub_audit(connection: sa.Connection, org: str, addresses: tuple[str, ...]) -> int:
    """Remove ``addresses`` from the data of ``org``'s audit events; how many events held one."""
    if not addresses:
        return 0
    a = audit_events
    lowered = [address.lower() for address in addresses]
    holding = sa.or_(*(sa.func.lower(a.c.data).contains(address, autoescape=True) for address in lowered))
    changed = 0
    for event_id, data in connection.execute(
        sa.select(a.c.event_id, a.c.data).where(a.c.namespace == org, holding)
    ).all():
        # As `audit.store_events` writes it.
        scrubbed = json.dumps(_without(json.loads(data), lowered), sort_keys=True, ensure_ascii=False)
        connection.execute(
            sa.update(a).where(a.c.namespace == org, a.c.event_id == event_id).values(data=scrubbed)
        )
        changed += 1
    return changed


def _without(value: Any, addresses: list[str]) -> Any:
    """``value`` (decoded JSON) with each string equal to an address null, and each address inside a
    longer string cut out."""
    if isinstance(value, dict):
        return {key: _without(item, addresses) for key, item in value.items()}
    if isinstance(value, list):
        return [_without(item, addresses) for item in value]
    if isinstance(value, str):
        if value.strip().lower() in addresses:
            return None
        for address in addresses:
            start = value.lower().find(address)
            while start >= 0:
                value = value[:start] + "[forgotten]" + value[start + len(address) :]
                start = value.lower().find(address)
    return value


def _hint(connection: sa.Connection, org: str, user: str) -> str:
    names = (
        connection.execute(
            sa.select(access_members.c.username).where(access_members.c.namespace == org).distinct()
        )
        .scalars()
        .all()
    )
    nearest = difflib.get_close_matches(user, sorted(names), n=3, cutoff=0.6)
    if nearest:
        return f"the nearest: {', '.join(nearest)}"
    return f"none is close ({len(names):,} usernames stored); check --org and --user"


__all__ = ["PSEUDONYM_PREFIX", "PersonSummary", "departed", "forget_departed", "forget_person"]
