"""Queries over the stored snapshots: one repository's history, trends between two days, a plot.

Everything is computed in SQL on primary-key ranges, never by loading the table: a year of daily
snapshots of a 10,000-repository org is 3.65 M rows. `history` walks the small per-day ``snapshots``
table and seeks (namespace, day, name) once per day; `trends` joins exactly two days, each one
primary-key range; the window's ends come from the ``snapshots`` table too.

Trend semantics:

* The window's ends are the nearest snapshot days inside the requested window (the earliest on or after
  ``since``, the latest on or before ``until``); `TrendReport` states both the requested and the used days.
  A window must hold two snapshot days: one alone is a `ConfigError` rather than a report of +0 everywhere.
* ``pulls_delta`` is growth: ``pulls_end - pulls_start``. Docker Hub pull counts only grow, so a count
  that went down (a repository deleted and re-created, a Hub glitch) is reported as an anomaly and its
  ``pulls_delta`` is null rather than a negative "growth" that would sort and sum wrongly. An unknown
  count at either end also gives a null delta (and an anomaly). Stars may legitimately fall: ``stars_delta``
  can be negative.
* Repositories present at only one end are listed with nulls on the other side (and in ``added`` /
  ``removed``); their deltas are null. Rows are sorted by ``pulls_delta`` descending, nulls last, then name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from . import attribution
from .errors import ConfigError
from .store import no_snapshots, previous_snapshot, reading, redact, repository_snapshots, snapshots

log = logging.getLogger(__name__)

__all__ = [
    "TrendReport",
    "check_window",
    "history",
    "plot_trends",
    "snapshot_dates",
    "top_movers",
    "trends",
]

# The history columns in the order shown: the reference doc's values first.
HISTORY_COLUMNS: tuple[str, ...] = (
    "snapshot_date",
    "pull_count",
    "star_count",
    "is_private",
    "last_updated",
    "repository_type",
    "status",
    "status_description",
    "description",
    "date_registered",
    "last_modified",
    "storage_size",
    "affiliation",
    "media_types",
    "content_types",
    "categories",
)
TIMESTAMP_COLUMNS = frozenset({"last_updated", "date_registered", "last_modified"})


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------------------
# Days


def snapshot_dates(
    engine: sa.Engine, org: str, *, since: date | None = None, until: date | None = None
) -> list[date]:
    """The org's snapshot days, ascending, optionally within [since, until]."""
    query = sa.select(snapshots.c.snapshot_date).where(snapshots.c.namespace == org)
    if since is not None:
        query = query.where(snapshots.c.snapshot_date >= since)
    if until is not None:
        query = query.where(snapshots.c.snapshot_date <= until)
    with reading(engine, f"list the {org} snapshots") as connection:
        return list(connection.execute(query.order_by(snapshots.c.snapshot_date)).scalars())


def _span(engine: sa.Engine, org: str) -> tuple[date | None, date | None]:
    with reading(engine, f"list the {org} snapshots") as connection:
        row = connection.execute(
            sa.select(sa.func.min(snapshots.c.snapshot_date), sa.func.max(snapshots.c.snapshot_date)).where(
                snapshots.c.namespace == org
            )
        ).one()
    return row[0], row[1]


def window_text(since: date | None, until: date | None) -> str:
    if since and until:
        return f"between {since.isoformat()} and {until.isoformat()}"
    if since:
        return f"on or after {since.isoformat()}"
    if until:
        return f"on or before {until.isoformat()}"
    return "at all"


# --------------------------------------------------------------------------------------------------
# History


def history(
    engine: sa.Engine, org: str, repo: str, *, since: date | None = None, until: date | None = None
) -> list[dict[str, Any]]:
    """One dict per snapshot of ``org/repo``, by date: `HISTORY_COLUMNS` (timestamps aware UTC datetimes).

    An empty list when the repository has no snapshot in the window.
    """
    check_window(since, until)
    rs = repository_snapshots
    query = _by_day(org, [repo], since, until, *(rs.c[name] for name in HISTORY_COLUMNS))
    with reading(engine, f"read the history of {org}/{repo}") as connection:
        rows = connection.execute(query.order_by(snapshots.c.snapshot_date)).mappings().all()
    out = []
    for row in rows:
        record = dict(row)
        for name in TIMESTAMP_COLUMNS:
            record[name] = _utc(record[name])
        out.append(record)
    return out


def no_history(engine: sa.Engine, org: str, repo: str, since: date | None, until: date | None) -> ConfigError:
    """Why `history` found nothing for ``org/repo`` in the window, as the error to raise: no such
    repository at all, or none of its days in the window (which days it has)."""
    start, end = repository_span(engine, org, repo)
    if start is None or end is None:
        return ConfigError(
            f"no snapshots of {org}/{repo} in {redact(engine.url)}: check --repo and --org "
            "(names are case-sensitive)"
        )
    return ConfigError(
        f"no snapshots of {org}/{repo} {window_text(since, until)}: "
        f"it has snapshots from {start.isoformat()} to {end.isoformat()}"
    )


def _by_day(
    org: str, names: list[str], since: date | None, until: date | None, *columns: Any
) -> sa.Select[Any]:
    """Rows of ``names`` on each snapshot day: the days from `snapshots`, then one key seek per day and
    name."""
    rs, days = repository_snapshots, snapshots
    query = (
        sa.select(*columns)
        .select_from(
            days.join(
                rs,
                sa.and_(
                    rs.c.namespace == days.c.namespace,
                    rs.c.snapshot_date == days.c.snapshot_date,
                    rs.c.name.in_(names) if len(names) > 1 else rs.c.name == names[0],
                ),
            )
        )
        .where(days.c.namespace == org)
    )
    if since is not None:
        query = query.where(days.c.snapshot_date >= since)
    if until is not None:
        query = query.where(days.c.snapshot_date <= until)
    return query


def repository_span(engine: sa.Engine, org: str, repo: str) -> tuple[date | None, date | None]:
    """First and last snapshot day of one repository (for "it has snapshots from ... to ..." hints)."""
    query = _by_day(
        org,
        [repo],
        None,
        None,
        sa.func.min(snapshots.c.snapshot_date),
        sa.func.max(snapshots.c.snapshot_date),
    )
    with reading(engine, f"read the history of {org}/{repo}") as connection:
        row = connection.execute(query).one()
    return row[0], row[1]


# --------------------------------------------------------------------------------------------------
# Trends


@dataclass
class TrendReport:
    """Change between two snapshot days of one org; see the module docstring for the semantics."""

    org: str
    from_date: date
    to_date: date
    requested_since: date | None
    requested_until: date | None
    repositories: list[dict[str, Any]] = field(default_factory=list)
    # {"name"}, plus "by" (the actor) and "at" (the event's time) when the audit log explains the change
    added: list[dict[str, str]] = field(default_factory=list)
    removed: list[dict[str, str]] = field(default_factory=list)
    visibility_changed: list[dict[str, str]] = field(default_factory=list)  # and "from", "to"
    anomalies: list[dict[str, str]] = field(default_factory=list)
    total: int = 0  # repositories compared, before ``top`` kept the largest movers

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "org": self.org,
            "from": self.from_date.isoformat(),
            "to": self.to_date.isoformat(),
            "repositories": [dict(row) for row in self.repositories],
            "added": [dict(item) for item in self.added],
            "removed": [dict(item) for item in self.removed],
            "visibility_changed": [dict(item) for item in self.visibility_changed],
            "anomalies": [dict(item) for item in self.anomalies],
        }


def check_window(since: date | None, until: date | None, days: int | None = None) -> None:
    """A `ConfigError` for a window that cannot be: ends reversed, or both an end and a length."""
    if days is not None:
        if until is not None:
            raise ConfigError("--until and --days exclude each other: give the window's end or its length")
        if days < 1:
            raise ConfigError(f"--days must be at least 1, got {days}")
    if since is not None and until is not None and since > until:
        raise ConfigError(f"--since {since.isoformat()} is after --until {until.isoformat()}")


def _resolve_window(
    engine: sa.Engine, org: str, since: date | None, until: date | None, days: int | None
) -> tuple[date | None, date | None, date, date]:
    """(requested since, requested until, first used day, last used day)."""
    check_window(since, until, days)
    first, last = _span(engine, org)
    if first is None or last is None:
        raise no_snapshots(redact(engine.url), org)
    if days is not None:
        # From --since: N days on. Alone: the N days up to the latest snapshot (not today), so that a
        # nightly job that stopped a while ago still compares a full window; the report names the days.
        if since is not None:
            until = since + timedelta(days=days)
        else:
            until = last
            since = last - timedelta(days=days)
    in_window = snapshot_dates(engine, org, since=since, until=until)
    if not in_window:
        raise ConfigError(
            f"no snapshots of {org} {window_text(since, until)}: they span "
            f"{first.isoformat()} to {last.isoformat()}"
        )
    if len(in_window) == 1:
        raise _one_night(org, in_window[0], since, until, first, last)
    return since, until, in_window[0], in_window[-1]


def _one_night(
    org: str, night: date, since: date | None, until: date | None, first: date, last: date
) -> ConfigError:
    """Trends compare two nights: the one that exists, and where another one may come from."""
    if first == last:
        return ConfigError(
            f"trends compare two snapshot nights, and {org} has only {night.isoformat()}: run "
            f"`dockerhub-export run --org {org}` on a later night, then ask again"
        )
    return ConfigError(
        f"trends compare two snapshot nights, and {window_text(since, until)} {org} has only "
        f"{night.isoformat()}: widen the window ({org}'s snapshots span {first.isoformat()} to "
        f"{last.isoformat()})"
    )


_S, _E = repository_snapshots.alias("s"), repository_snapshots.alias("e")


def _present_at_end(org: str, start: date, end: date) -> sa.Select[Any]:
    """Every repository of ``end``, with its ``start`` side where it had one (an outer join)."""
    s, e = _S, _E
    # Growth only: a fall or an unknown side gives NULL (the CASE has no ELSE).
    pulls_delta = sa.case((e.c.pull_count >= s.c.pull_count, e.c.pull_count - s.c.pull_count))
    return (
        sa.select(
            e.c.name,
            s.c.name.label("start_name"),
            e.c.name.label("end_name"),
            s.c.pull_count.label("pulls_start"),
            e.c.pull_count.label("pulls_end"),
            pulls_delta.label("pulls_delta"),
            s.c.star_count.label("stars_start"),
            e.c.star_count.label("stars_end"),
            (e.c.star_count - s.c.star_count).label("stars_delta"),
            s.c.is_private.label("private_start"),
            e.c.is_private.label("private_end"),
        )
        .select_from(
            e.outerjoin(
                s, sa.and_(s.c.namespace == e.c.namespace, s.c.snapshot_date == start, s.c.name == e.c.name)
            )
        )
        .where(e.c.namespace == org, e.c.snapshot_date == end)
    )


def _compare_rows(engine: sa.Engine, org: str, start: date, end: date) -> list[dict[str, Any]]:
    """Every repository present on ``start`` or ``end``, both sides side by side, deltas computed in SQL."""
    s, e2 = _S, repository_snapshots.alias("e2")
    present_at_end = _present_at_end(org, start, end)
    gone_by_end = sa.select(
        s.c.name,
        s.c.name.label("start_name"),
        sa.null().label("end_name"),  # the union's column types come from the first select
        s.c.pull_count.label("pulls_start"),
        sa.null().label("pulls_end"),
        sa.null().label("pulls_delta"),
        s.c.star_count.label("stars_start"),
        sa.null().label("stars_end"),
        sa.null().label("stars_delta"),
        s.c.is_private.label("private_start"),
        sa.null().label("private_end"),
    ).where(
        s.c.namespace == org,
        s.c.snapshot_date == start,
        ~sa.exists().where(e2.c.namespace == org, e2.c.snapshot_date == end, e2.c.name == s.c.name),
    )
    both = sa.union_all(present_at_end, gone_by_end).subquery("both_days")
    query = sa.select(both).order_by(
        sa.case((both.c.pulls_delta.is_(None), 1), else_=0), both.c.pulls_delta.desc(), both.c.name
    )
    return _fetch_rows(engine, query, f"compare the {org} snapshots of {start} and {end}")


def _fetch_rows(engine: sa.Engine, query: sa.Select[Any], action: str) -> list[dict[str, Any]]:
    with reading(engine, action) as connection:
        rows = [dict(row) for row in connection.execute(query).mappings()]
    for row in rows:  # MySQL returns the NULL-cast booleans of the union as integers
        for key in ("private_start", "private_end"):
            if row[key] is not None:
                row[key] = bool(row[key])
    return rows


def _visibility(private: bool | None) -> str:
    return "private" if private else "public"


def _build(
    org: str, start: date, end: date, rows: list[dict[str, Any]], since: date | None, until: date | None
) -> TrendReport:
    report = TrendReport(org=org, from_date=start, to_date=end, requested_since=since, requested_until=until)
    for row in rows:
        name = row["name"]
        at_start, at_end = row["start_name"] is not None, row["end_name"] is not None
        if start != end and at_end and not at_start:
            report.added.append({"name": name})
        elif start != end and at_start and not at_end:
            report.removed.append({"name": name})
        elif at_start and at_end:
            before, after = row["private_start"], row["private_end"]
            if before is not None and after is not None and before != after:
                report.visibility_changed.append(
                    {"name": name, "from": _visibility(before), "to": _visibility(after)}
                )
            pulls_start, pulls_end = row["pulls_start"], row["pulls_end"]
            if pulls_start is not None and pulls_end is not None and pulls_end < pulls_start:
                report.anomalies.append(
                    {
                        "name": name,
                        "kind": "pulls_decreased",
                        "detail": f"pull count fell from {pulls_start} on {start} to {pulls_end} on {end}",
                    }
                )
            elif pulls_start is None or pulls_end is None:
                unknown = " and ".join(
                    day.isoformat()
                    for day, value in ((start, pulls_start), (end, pulls_end))
                    if value is None
                )
                report.anomalies.append(
                    {"name": name, "kind": "pulls_unknown", "detail": f"pull count unknown on {unknown}"}
                )
        report.repositories.append(
            {
                "name": name,
                "pulls_start": row["pulls_start"],
                "pulls_end": row["pulls_end"],
                "pulls_delta": row["pulls_delta"],
                "stars_start": row["stars_start"],
                "stars_end": row["stars_end"],
                "stars_delta": row["stars_delta"],
                "is_private": row["private_end"] if at_end else row["private_start"],
            }
        )
    report.added.sort(key=lambda item: item["name"])
    report.removed.sort(key=lambda item: item["name"])
    report.visibility_changed.sort(key=lambda item: item["name"])
    report.anomalies.sort(key=lambda item: (item["name"], item["kind"]))
    report.total = len(report.repositories)
    return report


def trends(
    engine: sa.Engine,
    org: str,
    *,
    since: date | None = None,
    until: date | None = None,
    days: int | None = None,
    top: int | None = None,
) -> TrendReport:
    """Growth of every repository between the first and last snapshot day in the window.

    A window with one snapshot day is a `ConfigError`: there is nothing to compare it with.

    ``days`` is the window's length: from ``since`` if given, else ending at the latest snapshot
    (``until`` and ``days`` together are a `ConfigError`). ``top`` keeps the ``top`` largest movers in
    ``repositories``; added, removed, visibility changes and anomalies always cover every repository.
    """
    if top is not None and top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}")
    since, until, start, end = _resolve_window(engine, org, since, until, days)
    report = _build(org, start, end, _compare_rows(engine, org, start, end), since, until)
    if top is not None:
        report.repositories = report.repositories[:top]
    attribution.attribute(
        report.added,
        report.removed,
        report.visibility_changed,
        attribution.attributed_changes(engine, org, start, end),
    )
    return report


def top_movers(engine: sa.Engine, org: str, snapshot_date: date, n: int = 10) -> list[dict[str, Any]]:
    """The ``n`` largest pull growths from the previous snapshot (before ``snapshot_date``) to it.

    Rows as in `TrendReport.repositories`; only repositories that gained pulls (a quiet day lists
    nobody rather than ten repositories at +0). [] without a previous snapshot.
    """
    before = previous_snapshot(engine, org, snapshot_date)
    if before is None:
        return []
    previous = before.snapshot_date
    # Only the n rows wanted leave the database: the whole comparison (every repository of both days
    # into Python, as trends needs) was a visible share of a large org's nightly run.
    s, e = _S, _E
    growth = e.c.pull_count - s.c.pull_count
    query = (
        _present_at_end(org, previous, snapshot_date)
        .where(e.c.pull_count > s.c.pull_count)
        .order_by(growth.desc(), e.c.name)
        .limit(n)
    )
    rows = _fetch_rows(engine, query, f"find the {org} top movers of {snapshot_date}")
    return _build(org, previous, snapshot_date, rows, None, None).repositories


# --------------------------------------------------------------------------------------------------
# Plot


def pull_series(
    engine: sa.Engine, report: TrendReport, *, top: int = 10
) -> dict[str, tuple[list[date], list[int]]]:
    """Each of the ``top`` movers of ``report`` (with a known growth): its days and pull counts over the
    window, what `plots.trends` draws."""
    names = [row["name"] for row in report.repositories if row["pulls_delta"] is not None][:top]
    series: dict[str, tuple[list[date], list[int]]] = {name: ([], []) for name in names}
    if not names:
        return series
    rs = repository_snapshots
    query = (
        _by_day(
            report.org,
            names,
            report.from_date,
            report.to_date,
            rs.c.name,
            rs.c.snapshot_date,
            rs.c.pull_count,
        )
        .where(rs.c.pull_count.is_not(None))
        .order_by(rs.c.name, rs.c.snapshot_date)
    )
    with reading(engine, f"read the {report.org} pull counts") as connection:
        for name, day, pulls in connection.execute(query):
            series[name][0].append(day)
            series[name][1].append(pulls)
    return series


def plot_trends(engine: sa.Engine, report: TrendReport, path: Path, *, top: int = 10) -> Path:
    """A PNG of pulls gained over the window, one line per top mover of ``report``; returns ``path``."""
    from . import plots

    title = f"{report.org}: pulls gained since {report.from_date} by the top movers (to {report.to_date})"
    plots.pulls_gained(title, pull_series(engine, report, top=top), path)
    log.info("wrote the trend plot to %s", path)
    return Path(path)


def pull_anomalies(engine: sa.Engine, org: str, previous: date, snapshot_date: date) -> list[dict[str, Any]]:
    """Repositories of both nights whose pull count fell, or is unknown on either: the nightly summary's
    anomalies, found by the database (only they leave it), as ``{name, kind, pulls_start, pulls_end}``."""
    s, e = _S, _E
    query = _present_at_end(org, previous, snapshot_date).where(
        s.c.name.is_not(None),
        sa.or_(e.c.pull_count < s.c.pull_count, e.c.pull_count.is_(None), s.c.pull_count.is_(None)),
    )
    rows = _fetch_rows(engine, query, f"find the {org} pull counts that fell on {snapshot_date}")
    found = [
        {
            "name": row["name"],
            "kind": "pulls_unknown" if None in (row["pulls_start"], row["pulls_end"]) else "pulls_decreased",
            "pulls_start": row["pulls_start"],
            "pulls_end": row["pulls_end"],
        }
        for row in rows
    ]
    return sorted(found, key=lambda item: item["name"])
