"""Daily snapshots: an org's repositories of one day, replaced as a whole, in one transaction.

The day-claim protocol: a write first upserts the day's header row in ``snapshots`` (`claim_day`),
which bumps the day's write id. On PostgreSQL and MariaDB that row's lock makes a second writer of
the same (org, day) wait until the first commits; SQLite's writers queue on BEGIN IMMEDIATE. The rows
are then written stamped with this write's id, and the day's rows with any other id (repositories gone
since an earlier write of that day) deleted: the day ends as one writer's rows, never a mix. The same
transaction keeps `repository_last_seen` (each repository's latest day) true.
"""

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import StoreError
from ..resources import REPOSITORIES
from ..timestamps import TIMESTAMP_TEXT
from .bulk import insert_or_update, write_rows
from .engine import reading, writing
from .frames import frame_columns, private_count, repeated
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
    previous_date: date | None
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
    columns = frame_columns(org, frame, REPOSITORIES.schema, REPOSITORIES.key, DATA_COLUMNS)
    summary = _store(
        engine, org, snapshot_date, columns, private=private_count(frame), run_id=run_id, api_count=api_count,
        compare=True,
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
    return _store(engine, org, snapshot_date, columns, private=private).rows


def _store(
    engine: sa.Engine,
    org: str,
    snapshot_date: date,
    columns: dict[str, list[Any]],
    *,
    private: int,
    run_id: int | None = None,
    api_count: int | None = None,
    compare: bool = False,
) -> SnapshotSummary:
    names: list[str] = columns["name"]
    header = {
        "repositories": len(names),
        "private": private,
        "api_count": api_count,
        "written_at": utcnow(),
        "run_id": run_id,
    }

    def write() -> SnapshotSummary:
        with writing(engine, f"store the {org} snapshot of {snapshot_date.isoformat()}") as connection:
            write_id = claim_day(connection, org, snapshot_date, header)
            previous = _previous(connection, org, snapshot_date) if compare else None
            before = _day_visibility(connection, org, previous.snapshot_date) if previous else {}
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
            _mark_seen(connection, org, snapshot_date, rewrite=bool(removed))
        if not compare:
            return SnapshotSummary(rows=len(names), removed=int(removed or 0), previous_date=None)
        current = set(names)
        now = dict(zip(names, columns.get("is_private", [None] * len(names)), strict=True))
        flipped = [
            {"name": name, "from": _visibility(was), "to": _visibility(now[name])}
            for name, was in sorted(before.items())
            if name in now and was is not None and now[name] is not None and bool(now[name]) != was
        ]
        return SnapshotSummary(
            rows=len(names),
            removed=int(removed or 0),
            previous_date=previous.snapshot_date if previous else None,
            added=sorted(current - before.keys()) if previous else [],
            vanished=sorted(before.keys() - current),
            flipped=flipped,
        )

    return with_retries(write)


def _mark_seen(connection: sa.Connection, org: str, snapshot_date: date, *, rewrite: bool) -> None:
    """Move each repository of the day's snapshot to this day in `repository_last_seen` unless it was
    seen later; after a rewrite that dropped repositories, move those last seen on this day back to
    their latest earlier day (or forget them)."""
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


def _visibility(private: bool | None) -> str:
    return "private" if private else "public"


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
