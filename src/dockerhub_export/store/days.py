"""Daily snapshots: an org's repositories of one day, replaced as a whole, in one transaction.

The day-claim protocol: a write first upserts the day's header row in ``snapshots`` (`claim_day`),
which bumps the day's write id. On PostgreSQL and MariaDB that row's lock makes a second writer of
the same (org, day) wait until the first commits; SQLite's writers queue on BEGIN IMMEDIATE. The rows
are then written stamped with this write's id, and the day's rows with any other id (repositories gone
since an earlier write of that day) deleted: the day ends as one writer's rows, never a mix. The same
transaction keeps `repository_last_seen` (each repository's latest day) true.
"""

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from itertools import compress
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import StoreError
from ..resources import REPOSITORIES
from ..timestamps import TIMESTAMP_TEXT
from .bulk import insert_or_update, write_rows
from .engine import reading, writing
from .frames import driver_columns, frame_keys, private_count, repeated
from .runlog import utcnow
from .tables import DATA_COLUMNS, repository_last_seen, repository_snapshots, snapshots
from .translate import driver_errors, with_retries

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("dockerhub_export.store")


@dataclass
class SnapshotSummary:
    """What one `upsert_snapshot` did; added/vanished are names compared with the previous snapshot,
    flipped the repositories whose visibility changed since then."""

    rows: int
    removed: int
    previous_date: date | None = None
    added: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    flipped: list[dict[str, str]] = field(default_factory=list)  # {"name", "from", "to"}: public / private


@dataclass(frozen=True)
class PreviousSnapshot:
    snapshot_date: date
    repositories: int
    private: int


def _previous(connection: sa.Connection, org: str, snapshot_date: date) -> PreviousSnapshot | None:
    row = connection.execute(
        sa.select(snapshots.c.snapshot_date, snapshots.c.repositories, snapshots.c.private)
        .where(snapshots.c.namespace == org, snapshots.c.snapshot_date < snapshot_date)
        .order_by(snapshots.c.snapshot_date.desc())
        .limit(1)
    ).first()
    return None if row is None else PreviousSnapshot(row[0], row[1], row[2])


def previous_snapshot(engine: sa.Engine, org: str, snapshot_date: date) -> PreviousSnapshot | None:
    """The org's latest snapshot before ``snapshot_date``: its day and counts."""
    with reading(engine, "read the previous snapshot") as connection:
        return _previous(connection, org, snapshot_date)


def claim_day(connection: sa.Connection, org: str, snapshot_date: date, values: dict[str, Any]) -> int:
    """Upsert the day's header row and return this write's id.

    The first statement of the write transaction: on PostgreSQL and MariaDB the header row's lock makes
    a second writer of the same (org, day) wait here until the first commits; it then sees the first
    writer's id, takes the next one, and replaces that snapshot as a whole.
    """
    bump = {"write_id": snapshots.c.write_id + 1, **values}
    statement = insert_or_update(snapshots, connection.dialect.name, lambda _row: bump)
    connection.execute(statement.values(namespace=org, snapshot_date=snapshot_date, write_id=1, **values))
    return int(
        connection.execute(
            sa.select(snapshots.c.write_id).where(
                snapshots.c.namespace == org, snapshots.c.snapshot_date == snapshot_date
            )
        ).scalar_one()
    )


def _day_visibility(connection: sa.Connection, org: str, snapshot_date: date) -> dict[str, bool | None]:
    """The day's names and whether each was private, fetched by the raw driver cursor (SQLAlchemy's rows
    cost 10x more at 100k)."""
    sqlite = connection.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    where = f"namespace = {mark} AND snapshot_date = {mark}"
    sql = f"SELECT name, is_private FROM repository_snapshots WHERE {where}"
    with driver_errors(connection, sql):
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql, (org, snapshot_date.isoformat() if sqlite else snapshot_date))
            return {name: None if private is None else bool(private) for name, private in cursor.fetchall()}
        finally:
            cursor.close()


def upsert_snapshot(
    engine: sa.Engine,
    org: str,
    snapshot_date: date,
    frame: "pd.DataFrame",
    *,
    run_id: int | None = None,
    api_count: int | None = None,
) -> SnapshotSummary:
    """Make ``frame`` the (org, day) snapshot, exactly, in one transaction (see `write_snapshot`).

    The summary compares the names with the org's previous snapshot (added / vanished).
    """
    names = frame_keys(org, frame, REPOSITORIES.schema, REPOSITORIES.key)
    summary = _store(
        engine, org, snapshot_date, names, lambda: driver_columns(frame, REPOSITORIES.schema, DATA_COLUMNS),
        private=private_count(frame), run_id=run_id, api_count=api_count, compare=True,
    )  # fmt: skip
    log.info(
        "stored %d repositories of %s for %s (%d removed from an earlier write of that day)",
        summary.rows,
        org,
        snapshot_date,
        summary.removed,
    )
    return summary


def write_snapshot(engine: sa.Engine, org: str, snapshot_date: date, columns: dict[str, list[Any]]) -> int:
    """Make ``columns`` the (org, day) snapshot, exactly, in one transaction; returns the rows stored.

    The bulk entry (backfill): ``columns`` maps ``"name"`` and any of `DATA_COLUMNS` to equally long
    lists of driver-ready values, checked by the caller (names non-empty): None for unknown,
    bool (or 1/0), int, str, timestamps as `timestamp_texts` gives them. The columns left out are stored NULL.
    """
    unknown = [name for name in columns if name != "name" and name not in DATA_COLUMNS]
    if "name" not in columns or unknown:
        raise StoreError(f"cannot store the {org} snapshot: no name column, or unknown columns {unknown}")
    repeats = repeated(columns["name"])
    if repeats:
        raise StoreError(
            f"cannot store the {org} snapshot: repository names repeat ({', '.join(repeats[:5])})"
        )
    private = columns["is_private"].count(True) if "is_private" in columns else 0
    data = {name: values for name, values in columns.items() if name != "name"}
    return _store(engine, org, snapshot_date, columns["name"], lambda: data, private=private).rows


def _store(
    engine: sa.Engine,
    org: str,
    snapshot_date: date,
    names: list[str],
    data: Callable[[], dict[str, list[Any]]],
    *,
    private: int,
    run_id: int | None = None,
    api_count: int | None = None,
    compare: bool = False,
) -> SnapshotSummary:
    """Write the day: ``names`` and the other columns ``data()`` gives, converted once (also when a
    deadlock makes the write run again)."""
    header = {
        "repositories": len(names),
        "private": private,
        "api_count": api_count,
        "written_at": utcnow(),
        "run_id": run_id,
    }
    columns: dict[str, list[Any]] = {}

    def write() -> SnapshotSummary:
        with writing(engine, f"store the {org} snapshot of {snapshot_date.isoformat()}") as connection:
            write_id = claim_day(connection, org, snapshot_date, header)
            earlier = _earlier(connection, org, snapshot_date) if compare else (None, {})
            postgres = connection.dialect.name == "postgresql"
            # On PostgreSQL the server moves `repository_last_seen` on from the names alone (1.5 s at
            # 100,000) while this thread converts the columns and compares the names (0.5 s); it uses the
            # connection again only once that statement is done.
            with ThreadPoolExecutor(1, thread_name_prefix="dockerhub-export-store") as server:
                seen = server.submit(_seen_names, connection, org, snapshot_date, names) if postgres else None
                if not columns:
                    columns.update({"name": names, **data()})
                changes = _changes(names, columns.get("is_private"), *earlier)
                if seen is not None:
                    seen.result()
            day = {"namespace": org, "snapshot_date": snapshot_date, "write_id": write_id}
            # A first write (write id 1: the day had no rows, and its header row's lock keeps other
            # writers out) goes in as a plain INSERT, and leaves nothing to delete.
            write_rows(connection, repository_snapshots, day, columns, first=write_id == 1)
            removed = 0
            if write_id != 1:
                rs = repository_snapshots
                removed = connection.execute(
                    sa.delete(rs).where(
                        rs.c.namespace == org, rs.c.snapshot_date == snapshot_date, rs.c.write_id != write_id
                    )
                ).rowcount
            _mark_seen(connection, org, snapshot_date, from_rows=not postgres, rewrite=bool(removed))
        return SnapshotSummary(rows=len(names), removed=int(removed or 0), **changes)

    return with_retries(write)


def _earlier(
    connection: sa.Connection, org: str, snapshot_date: date
) -> tuple[PreviousSnapshot | None, dict[str, bool | None]]:
    """The org's previous snapshot before ``snapshot_date``, and its names' visibility."""
    previous = _previous(connection, org, snapshot_date)
    return previous, _day_visibility(connection, org, previous.snapshot_date) if previous else {}


def _changes(
    names: list[str],
    private: list[Any] | None,
    previous: PreviousSnapshot | None,
    before: dict[str, bool | None],
) -> dict[str, Any]:
    """The summary's comparison with the ``previous`` snapshot (``before``: its names' visibility).

    Set operations, and only the few changes sorted: a loop over the 100,000 names took 0.1 s."""
    if previous is None:
        return {}
    current = set(names)
    private = [None] * len(names) if private is None else private
    now_private = set(compress(names, private))
    now_public = set(compress(names, [value is not None and not value for value in private]))
    was_private = {name for name, was in before.items() if was}
    was_public = {name for name, was in before.items() if was is False}
    flips = sorted(
        [(name, "public", "private") for name in was_public & now_private]
        + [(name, "private", "public") for name in was_private & now_public]
    )
    return {
        "previous_date": previous.snapshot_date,
        "added": sorted(current.difference(before)),
        "vanished": sorted(set(before).difference(current)),
        "flipped": [{"name": name, "from": was, "to": now} for name, was, now in flips],
    }


# PostgreSQL's `repository_last_seen` from the day's names alone, sent as one JSON array: sorted, so that
# writers of other days lock the rows they share in one order; rows already at this day or later are
# not rewritten (a rerun of the day updates none).
_SEEN_NAMES = (
    "INSERT INTO repository_last_seen (namespace, name, snapshot_date)"
    " SELECT %(org)s, listed.name, %(day)s FROM json_array_elements_text(%(names)s::json) AS listed(name)"
    " ON CONFLICT (namespace, name) DO UPDATE SET snapshot_date = EXCLUDED.snapshot_date"
    " WHERE repository_last_seen.snapshot_date < EXCLUDED.snapshot_date"
)


def _seen_names(connection: sa.Connection, org: str, snapshot_date: date, names: list[str]) -> None:
    """PostgreSQL: each of ``names`` last seen on ``snapshot_date`` unless seen later, before the day's rows
    are there (what `_mark_seen` does from the rows on the other backends)."""
    try:
        ordered = sorted(names)
    except TypeError:  # a missing name (None), which the database refuses below
        ordered = names
    listed = json.dumps(ordered, ensure_ascii=False)
    connection.exec_driver_sql(_SEEN_NAMES, {"org": org, "day": snapshot_date, "names": listed})


def _mark_seen(
    connection: sa.Connection, org: str, snapshot_date: date, *, from_rows: bool, rewrite: bool
) -> None:
    """``from_rows``: move each repository of the day's snapshot to this day in `repository_last_seen`
    unless it was seen later (PostgreSQL did it from the names: `_seen_names`); after a rewrite that
    dropped repositories, move those last seen on this day back to their latest earlier day (or forget
    them)."""
    rs, seen = repository_snapshots, repository_last_seen
    upsert = insert_or_update(
        seen,
        connection.dialect.name,
        lambda proposed: {
            "snapshot_date": sa.case(
                (proposed.snapshot_date > seen.c.snapshot_date, proposed.snapshot_date),
                else_=seen.c.snapshot_date,
            )
        },
    )
    if from_rows:
        connection.execute(
            upsert.from_select(
                ["namespace", "name", "snapshot_date"],
                sa.select(rs.c.namespace, rs.c.name, rs.c.snapshot_date).where(
                    rs.c.namespace == org, rs.c.snapshot_date == snapshot_date
                ),
            )
        )
    if not rewrite:
        return
    here = sa.select(rs.c.name).where(rs.c.namespace == org, rs.c.snapshot_date == snapshot_date)
    dropped = connection.execute(
        sa.select(seen.c.name).where(
            seen.c.namespace == org, seen.c.snapshot_date == snapshot_date, seen.c.name.not_in(here)
        )
    ).scalars()
    for name in list(dropped):
        # Day by day through the small `snapshots` table: a primary-key seek each (rs is keyed by day).
        earlier = connection.execute(
            sa.select(sa.func.max(snapshots.c.snapshot_date)).where(
                snapshots.c.namespace == org,
                snapshots.c.snapshot_date < snapshot_date,
                sa.exists().where(
                    rs.c.namespace == org, rs.c.snapshot_date == snapshots.c.snapshot_date, rs.c.name == name
                ),
            )
        ).scalar()
        where = (seen.c.namespace == org, seen.c.name == name)
        if earlier is None:
            connection.execute(sa.delete(seen).where(*where))
        else:
            connection.execute(sa.update(seen).where(*where).values(snapshot_date=earlier))


def repository_visibility(engine: sa.Engine, org: str, day: date) -> dict[str, bool | None] | None:
    """Each repository of the snapshot of ``day`` and whether it was private (None: unknown); None when
    no snapshot of that day is stored. What the access queries need of a night's repositories."""
    with reading(engine, f"read the {org} snapshot of {day.isoformat()}") as connection:
        header = connection.execute(
            sa.select(snapshots.c.snapshot_date).where(
                snapshots.c.namespace == org, snapshots.c.snapshot_date == day
            )
        ).first()
        return None if header is None else _day_visibility(connection, org, day)


def repository_fields(engine: sa.Engine, org: str, day: date) -> dict[str, tuple[str | None, int | None]]:
    """Each repository's (last_updated as storage text, pull_count) in the snapshot of ``day``: what the
    tag stage compares tonight's listing with."""
    rs = repository_snapshots
    query = sa.select(rs.c.name, rs.c.last_updated, rs.c.pull_count).where(
        rs.c.namespace == org, rs.c.snapshot_date == day
    )
    with reading(engine, f"read the {org} snapshot of {day.isoformat()}") as connection:
        return {
            name: (None if updated is None else updated.strftime(TIMESTAMP_TEXT), pulls)
            for name, updated, pulls in connection.execute(query)
        }
