"""Tag history as validity intervals: each night's changes, written in one transaction; any night's
inventory, one query.

A night's write takes the tags of the repositories whose tags were listed that night (`fetched`) and
the night's repository listing (`present`). For a fetched repository, a tag whose values changed gets
a new version (the old one ends that night), a new tag a first version, a tag that is gone its end.
The other repositories' tags carry on unchanged, unless their repository is no longer `present`: then
they end. Tag history runs forward: a night older than the newest written is refused; the newest
night may be written again (a rerun replaces it as a whole).
"""

import hashlib
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from sys import intern
from typing import Any

import sqlalchemy as sa

from ..errors import StoreError
from .bulk import insert_or_update, write_rows
from .engine import reading, writing
from .runlog import utcnow
from .tables import data_columns, tag_fetches, tag_nights, tag_storage, tags
from .translate import with_retries

log = logging.getLogger("dockerhub_export.store")

TAG_COLUMNS = tuple(name for name in data_columns(tags) if name not in ("valid_to", "fingerprint"))
"""The values of a tag version, in the table's order: what the fingerprint covers."""


@dataclass(frozen=True)
class TagNight:
    """A night with a complete tag inventory: what it holds and how it was written."""

    snapshot_date: date
    started_at: datetime
    tags: int
    repositories: int
    fetched: int
    bytes: int


@dataclass
class TagNightSummary:
    night: TagNight
    opened: int  # versions begun that night (new tags and changed ones)
    closed: int  # versions ended that night (changed, deleted, or their repository gone)


def fingerprints(columns: dict[str, list[Any]]) -> list[str]:
    """The md5 of each row's values (driver values: text, numbers, timestamps as text)."""
    rows = zip(*(columns[name] for name in TAG_COLUMNS), strict=True)
    return [
        hashlib.md5("\x1f".join(map(repr, row)).encode(), usedforsecurity=False).hexdigest() for row in rows
    ]


def newest_tag_night(engine: sa.Engine, org: str, *, before: date | None = None) -> TagNight | None:
    """The org's newest night with a complete tag inventory (before ``before``, if given)."""
    query = sa.select(tag_nights).where(tag_nights.c.namespace == org)
    if before is not None:
        query = query.where(tag_nights.c.snapshot_date < before)
    query = query.order_by(tag_nights.c.snapshot_date.desc()).limit(1)
    with reading(engine, f"read the {org} tag nights") as connection:
        row = connection.execute(query).mappings().first()
    return None if row is None else _night(row)


def tag_night_list(
    engine: sa.Engine, org: str, *, since: date | None = None, until: date | None = None
) -> list[TagNight]:
    query = sa.select(tag_nights).where(tag_nights.c.namespace == org)
    if since is not None:
        query = query.where(tag_nights.c.snapshot_date >= since)
    if until is not None:
        query = query.where(tag_nights.c.snapshot_date <= until)
    with reading(engine, f"read the {org} tag nights") as connection:
        rows = connection.execute(query.order_by(tag_nights.c.snapshot_date)).mappings().all()
    return [_night(row) for row in rows]


def _night(row: Any) -> TagNight:
    return TagNight(
        row["snapshot_date"],
        row["started_at"],
        row["tags"],
        row["repositories"],
        row["fetched"],
        row["bytes"],
    )


def last_fetched(engine: sa.Engine, org: str, before: date) -> dict[str, date]:
    """Each repository's last night before ``before`` whose tags were listed."""
    query = (
        sa.select(tag_fetches.c.repository, sa.func.max(tag_fetches.c.fetched_on))
        .where(tag_fetches.c.namespace == org, tag_fetches.c.fetched_on < before)
        .group_by(tag_fetches.c.repository)
    )
    with reading(engine, f"read when the {org} tags were listed") as connection:
        return {repository: day for repository, day in connection.execute(query)}


def tag_inventory(engine: sa.Engine, org: str, night: date, names: Sequence[str] = TAG_COLUMNS) -> list[Any]:
    """The tags valid on ``night``: rows of ``repository``, ``tag`` and ``names`` (timestamps as the Hub's
    text), in no particular order."""
    with reading(engine, f"read the {org} tags of {night.isoformat()}") as connection:
        return list(connection.execute(_valid_on(org, night, names)).all())  # all(): fetched in bulk


def tag_storage_totals(engine: sa.Engine, org: str, night: date) -> list[Any]:
    """The night's per-repository totals as the night's write kept them: rows of (repository, tags,
    digests, bytes)."""
    ts = tag_storage
    query = sa.select(ts.c.repository, ts.c.tags, ts.c.digests, ts.c.bytes).where(
        ts.c.namespace == org, ts.c.snapshot_date == night
    )
    with reading(engine, f"read the {org} tag storage of {night.isoformat()}") as connection:
        return list(connection.execute(query).all())


def tag_inventory_columns(
    engine: sa.Engine, org: str, night: date, *, without: Collection[str] = (), shared: Collection[str] = ()
) -> dict[str, list[Any]]:
    """`tag_inventory` as columns (``repository``, ``tag``, `TAG_COLUMNS`), in no particular order,
    leaving out the repositories ``without``: the rows go straight into the lists (a night of 150,000
    tags as rows first cost 50 MB more). In the columns named ``shared`` (few distinct values), equal
    texts are one object, as the fetch keeps them: the driver makes a new one per row."""
    names = ("repository", "tag", *TAG_COLUMNS)
    columns: dict[str, list[Any]] = {name: [] for name in names}
    appenders = [columns[name].append for name in names]
    interned = [name in shared for name in names]
    skip = set(without)
    with reading(engine, f"read the {org} tags of {night.isoformat()}") as connection:
        for row in connection.execute(_valid_on(org, night, TAG_COLUMNS)):
            if row[0] in skip:
                continue
            for append, one, value in zip(appenders, interned, row, strict=True):
                append(intern(value) if one and type(value) is str else value)
    return columns


def _valid_on(org: str, night: date, names: Sequence[str]) -> sa.CompoundSelect[Any]:
    """Two index ranges of (namespace, valid_to), never the whole history: the versions still open, and
    those that ended after ``night``; each begun on or before it."""
    columns = (
        tags.c.repository,
        tags.c.tag,
        *(tags.c[name] for name in names if name not in ("repository", "tag")),
    )
    begun = sa.and_(tags.c.namespace == org, tags.c.valid_from <= night)
    still_open = sa.select(*columns).where(begun, tags.c.valid_to.is_(None))
    ended_later = sa.select(*columns).where(begun, tags.c.valid_to > night)
    return sa.union_all(still_open, ended_later)


@dataclass(frozen=True)
class _Incoming:
    """A night's fetched tags as `write_tag_night` takes them, with each row's key and fingerprint."""

    org: str
    night: date
    columns: dict[str, list[Any]]
    keys: list[tuple[str, str]]
    prints: list[str]
    fetched: set[str]
    present: set[str]


def write_tag_night(
    engine: sa.Engine,
    org: str,
    night: date,
    columns: dict[str, list[Any]],
    fetched: Sequence[str],
    present: Sequence[str],
    *,
    started_at: datetime,
    run_id: int | None = None,
) -> TagNightSummary:
    """Make ``night`` the org's newest tag night, in one transaction (see the module docstring).

    ``columns``: ``repository``, ``tag`` and `TAG_COLUMNS` of the fetched repositories' tags, as driver
    values (timestamps as the Hub's text, as the typed frame holds them), keys unique.
    """
    keys = list(zip(columns["repository"], columns["tag"], strict=True))
    if len(set(keys)) != len(keys):
        raise StoreError(f"cannot store the {org} tags of {night.isoformat()}: a (repository, tag) repeats")
    incoming = _Incoming(org, night, columns, keys, fingerprints(columns), set(fetched), set(present))

    def write() -> TagNightSummary:
        with writing(engine, f"store the {org} tags of {night.isoformat()}") as connection:
            _claim(connection, org, night, started_at, run_id)
            _undo(connection, org, night)
            closing, opening = _changes(connection, incoming)
            _close(connection, incoming, closing)
            _open(connection, incoming, opening)
            header = _finish(connection, incoming)
        return TagNightSummary(
            TagNight(night, started_at, **header), opened=len(opening), closed=len(closing)
        )

    summary = with_retries(write)
    log.info(
        "stored the %d tags of %s for %s (%d versions begun, %d ended; %d repositories listed)",
        summary.night.tags, org, night, summary.opened, summary.closed, len(incoming.fetched),
    )  # fmt: skip
    return summary


def _changes(connection: sa.Connection, incoming: _Incoming) -> tuple[list[tuple[str, str, date]], list[int]]:
    """The open versions tonight ends (repository, tag, valid_from) and the rows it begins (indexes)."""
    org, fetched, present = incoming.org, incoming.fetched, incoming.present
    # The open versions that can change tonight: of the repositories listed, or gone.
    open_rows = {
        (repository, tag): (valid_from, fingerprint)
        for repository, tag, valid_from, fingerprint in connection.execute(
            sa.select(tags.c.repository, tags.c.tag, tags.c.valid_from, tags.c.fingerprint).where(
                tags.c.namespace == org, tags.c.valid_to.is_(None)
            )
        )
        if repository in fetched or repository not in present
    }
    new = dict(zip(incoming.keys, incoming.prints, strict=True)) if open_rows else {}
    closing = [
        (repository, tag, valid_from)
        for (repository, tag), (valid_from, fingerprint) in open_rows.items()
        if repository not in present or (repository in fetched and new.get((repository, tag)) != fingerprint)
    ]
    opening = [
        index
        for index, key in enumerate(incoming.keys)
        if open_rows.get(key, (None, None))[1] != incoming.prints[index]
    ]
    return closing, opening


def _close(connection: sa.Connection, incoming: _Incoming, closing: list[tuple[str, str, date]]) -> None:
    if not closing:
        return
    connection.execute(
        sa.update(tags)
        .where(
            tags.c.namespace == incoming.org,
            tags.c.repository == sa.bindparam("r"),
            tags.c.tag == sa.bindparam("t"),
            tags.c.valid_from == sa.bindparam("f"),
        )
        .values(valid_to=incoming.night),
        [{"r": repository, "t": tag, "f": valid_from} for repository, tag, valid_from in closing],
    )


def _open(connection: sa.Connection, incoming: _Incoming, opening: list[int]) -> None:
    if opening:
        columns, prints = incoming.columns, incoming.prints
        if len(opening) == len(incoming.keys):  # a first night: every row, no copy
            chosen = {**columns, "fingerprint": prints}
        else:
            chosen = {name: [values[index] for index in opening] for name, values in columns.items()}
            chosen["fingerprint"] = [prints[index] for index in opening]
        constants = {"namespace": incoming.org, "valid_from": incoming.night}
        write_rows(connection, tags, constants, chosen, first=True)
    if incoming.fetched:
        write_rows(
            connection, tag_fetches, {"namespace": incoming.org, "fetched_on": incoming.night},
            {"repository": sorted(incoming.fetched)}, first=True,
        )  # fmt: skip


def _finish(connection: sa.Connection, incoming: _Incoming) -> dict[str, int]:
    """The night's totals, stored with its header row (and returned)."""
    count, size = _store_storage(connection, incoming.org, incoming.night)
    header = {
        "tags": count,
        "repositories": len(incoming.present),
        "fetched": len(incoming.fetched),
        "bytes": size,
    }
    connection.execute(
        sa.update(tag_nights)
        .where(tag_nights.c.namespace == incoming.org, tag_nights.c.snapshot_date == incoming.night)
        .values(written_at=utcnow(), **header)
    )
    return header


def backwards(
    org: str, newest: date | None, night: date, *, history: str = "tag", option: str = "--tags / include_tags"
) -> str | None:
    """Why ``night`` cannot be a night of ``history`` (tag, access) when ``newest`` is its newest one (None:
    it can): a history of intervals runs forward, so a later night must be forgotten first."""
    if newest is None or newest <= night:
        return None
    return (
        f"the {org} {history} history runs forward and its newest night is {newest.isoformat()}: a run for "
        f"{night.isoformat()} can export repositories, not {'tags' if history == 'tag' else history} (leave "
        f"out {option}), or remove the later night first (dockerhub-export db forget --org {org} --date "
        f"{newest.isoformat()})"
    )


def _claim(
    connection: sa.Connection, org: str, night: date, started_at: datetime, run_id: int | None
) -> None:
    """Refuse a night older than the newest; take the night's header row (its lock serializes writers)."""
    newest = connection.execute(
        sa.select(sa.func.max(tag_nights.c.snapshot_date)).where(tag_nights.c.namespace == org)
    ).scalar()
    problem = backwards(org, newest, night)
    if problem:
        raise StoreError(problem)
    values = {"started_at": started_at, "written_at": utcnow(), "run_id": run_id}
    statement = insert_or_update(tag_nights, connection.dialect.name, lambda _row: values)
    connection.execute(
        statement.values(
            namespace=org, snapshot_date=night, tags=0, repositories=0, fetched=0, bytes=0, **values
        )
    )


def _undo(connection: sa.Connection, org: str, night: date) -> None:
    """A rerun of the newest night: back to the night before it, so the rerun writes it as a whole."""
    # Every version begun on the night is still open after it, so its repository has storage rows for
    # the night: without them (a new night) there is nothing to delete, and the scan of every version
    # that `valid_from` (not indexed) needs is skipped.
    begun = connection.execute(
        sa.select(tag_storage.c.repository)
        .where(tag_storage.c.namespace == org, tag_storage.c.snapshot_date == night)
        .limit(1)
    ).first()
    if begun is not None:
        connection.execute(sa.delete(tags).where(tags.c.namespace == org, tags.c.valid_from == night))
    connection.execute(
        sa.update(tags).where(tags.c.namespace == org, tags.c.valid_to == night).values(valid_to=None)
    )
    connection.execute(
        sa.delete(tag_fetches).where(tag_fetches.c.namespace == org, tag_fetches.c.fetched_on == night)
    )
    connection.execute(
        sa.delete(tag_storage).where(tag_storage.c.namespace == org, tag_storage.c.snapshot_date == night)
    )


def _store_storage(connection: sa.Connection, org: str, night: date) -> tuple[int, int]:
    """Write the night's `tag_storage` (per repository: its open versions, its distinct digests and their
    bytes, once each) from the versions open after the night's write; return the org's totals."""
    per_digest = (
        sa.select(tags.c.repository, tags.c.digest, sa.func.max(tags.c.full_size).label("size"),
                  sa.func.count().label("n"))
        .where(tags.c.namespace == org, tags.c.valid_to.is_(None))
        # digest first: grouped in the primary key's order (repository first), SQLite without statistics
        # would walk every version of the org for it instead of the open ones through their index
        .group_by(tags.c.digest, tags.c.repository)
        .subquery()
    )  # fmt: skip
    per_repository = sa.select(
        sa.literal(org, tags.c.namespace.type),
        sa.literal(night, sa.Date()),
        per_digest.c.repository,
        sa.func.sum(per_digest.c.n),
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(per_digest.c.size), 0),
    ).group_by(per_digest.c.repository)
    connection.execute(
        sa.insert(tag_storage).from_select(
            ["namespace", "snapshot_date", "repository", "tags", "digests", "bytes"], per_repository
        )
    )
    count, size = connection.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(tag_storage.c.tags), 0),
            sa.func.coalesce(sa.func.sum(tag_storage.c.bytes), 0),
        ).where(tag_storage.c.namespace == org, tag_storage.c.snapshot_date == night)
    ).one()
    return int(count), int(size)


__all__ = [
    "TAG_COLUMNS",
    "TagNight",
    "TagNightSummary",
    "fingerprints",
    "last_fetched",
    "backwards",
    "newest_tag_night",
    "tag_inventory",
    "tag_night_list",
    "tag_storage_totals",
    "write_tag_night",
]
