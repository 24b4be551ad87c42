"""The two things the report reads that no query module gives: the org's totals night by night, and the
descriptions of the few repositories it names. Both stay in SQL on primary-key ranges (a year of a
10,000-repository org is 3.65 M snapshot rows; a window of them is summed by the database).
"""

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa

from ..store import reading, repository_snapshots, snapshots
from .model import NightTotals

NAMES_PER_QUERY = 500  # an IN list this long stays far below every backend's parameter limit


def night_totals(engine: sa.Engine, org: str, since: date, until: date) -> list[NightTotals]:
    """Each snapshot night of [since, until], oldest first: its repositories and private ones (the
    night's header), its pulls and stars (summed; an unknown count adds nothing)."""
    rs = repository_snapshots
    sums = (
        sa.select(
            rs.c.snapshot_date,
            sa.func.coalesce(sa.func.sum(rs.c.pull_count), 0),
            sa.func.coalesce(sa.func.sum(rs.c.star_count), 0),
        )
        .where(rs.c.namespace == org, rs.c.snapshot_date >= since, rs.c.snapshot_date <= until)
        .group_by(rs.c.snapshot_date)
    )
    headers = sa.select(snapshots.c.snapshot_date, snapshots.c.repositories, snapshots.c.private).where(
        snapshots.c.namespace == org, snapshots.c.snapshot_date >= since, snapshots.c.snapshot_date <= until
    )
    with reading(engine, f"sum the {org} snapshots from {since} to {until}") as connection:
        summed = {day: (int(pulls), int(stars)) for day, pulls, stars in connection.execute(sums)}
        rows = connection.execute(headers.order_by(snapshots.c.snapshot_date)).all()
    return [
        NightTotals(day, repositories, private, *summed.get(day, (0, 0)))
        for day, repositories, private in rows
    ]


def descriptions(engine: sa.Engine, org: str, day: date, names: Sequence[str]) -> dict[str, str]:
    """The descriptions of ``names`` in the snapshot of ``day`` (a name without one is left out)."""
    rs = repository_snapshots
    wanted = sorted(set(names))
    found: dict[str, str] = {}
    with reading(engine, f"read the {org} descriptions of {day}") as connection:
        for start in range(0, len(wanted), NAMES_PER_QUERY):
            query = sa.select(rs.c.name, rs.c.description).where(
                rs.c.namespace == org,
                rs.c.snapshot_date == day,
                rs.c.name.in_(wanted[start : start + NAMES_PER_QUERY]),
            )
            found.update({name: text for name, text in connection.execute(query) if text})
    return found
