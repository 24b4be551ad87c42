"""Forgetting one night of an org: every history loses it, in one transaction, as if it had never run.

A night is kept by several histories, each forgotten by one step of `STEPS` (a later history adds its
own step there):

    repository snapshots  the day's header and rows go; each repository last seen that day is last seen
                          on its latest earlier day again (or not at all), so `latest_repositories` and
                          `repository_daily` read as before the night was written
    tags                  the night's header, fetches and storage go; its versions are undone. The
                          newest night (the usual case: a night run by mistake) ends exactly as before
                          it was written: the versions begun that night go and those it ended are
                          open again, so the next run may be any later night, or an earlier one.
                          A night between two others hands its changes on to the next tag night,
                          whose inventory stays exactly as stored (what it would have listed had the
                          forgotten night never run is not known); a version that becomes identical
                          to its successor there is joined with it, as that night's write would have.
    access                the night's header goes; each history its listings fed is undone as the
                          tags' are (the next night that has the listing takes its changes, else
                          they are undone); a listing the night did not have was left alone by it
    run log               the runs of that day stay (the log says what ran, failures included), with a
                          warning that their night was forgotten; the rows that linked them to the
                          night's data are gone with the data

The org's audit log is not a night's: its events stay, and a rerun stores each of them once anyway.

A dry run does the same work and rolls it back, so that what it reports is exactly what would change.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from ..errors import ConfigError
from .access_nights import HISTORIES, delete_header, forget_history
from .engine import WRITE
from .runlog import utcnow
from .tables import (
    export_runs,
    repository_last_seen,
    repository_snapshots,
    snapshots,
    tag_fetches,
    tag_nights,
    tag_storage,
    tags,
)
from .translate import translate, with_retries


@dataclass(frozen=True)
class Change:
    """``rows`` rows of ``table`` that forgetting the night ``did`` something to (past participle)."""

    table: str
    rows: int
    did: str


@dataclass
class ForgetSummary:
    org: str
    night: date
    applied: bool  # False: a dry run, rolled back
    changes: list[Change] = field(default_factory=list)


Step = Callable[[sa.Connection, str, date], list[Change]]


def _count(result: sa.CursorResult[Any]) -> int:
    return max(int(result.rowcount or 0), 0)


def forget_snapshot(connection: sa.Connection, org: str, night: date) -> list[Change]:
    """The night's repository snapshot, and its place in `repository_last_seen`."""
    rs, seen = repository_snapshots, repository_last_seen
    # The header first: its row lock makes a writer of the same day wait, as `claim_day` does.
    headers = _count(
        connection.execute(
            sa.delete(snapshots).where(snapshots.c.namespace == org, snapshots.c.snapshot_date == night)
        )
    )
    rows = _count(connection.execute(sa.delete(rs).where(rs.c.namespace == org, rs.c.snapshot_date == night)))
    moved = _back_to_earlier_days(connection, org, night)
    gone = _count(
        connection.execute(sa.delete(seen).where(seen.c.namespace == org, seen.c.snapshot_date == night))
    )
    return [
        Change("snapshots", headers, "deleted"),
        Change("repository_snapshots", rows, "deleted"),
        Change("repository_last_seen", moved, "moved back to the repository's latest earlier day"),
        Change("repository_last_seen", gone, "deleted (the repository has no other snapshot)"),
    ]


def _back_to_earlier_days(connection: sa.Connection, org: str, night: date) -> int:
    """Move each repository last seen on ``night`` (its snapshot gone) to its latest earlier day; return
    how many moved. Nothing later holds them, and most are in the day before: a statement or two, not
    one per repository."""
    rs, seen = repository_snapshots, repository_last_seen
    here = (seen.c.namespace == org, seen.c.snapshot_date == night)
    pending = connection.execute(sa.select(sa.func.count()).select_from(seen).where(*here)).scalar_one()
    if not pending:
        return 0
    earlier = connection.execute(
        sa.select(snapshots.c.snapshot_date)
        .where(snapshots.c.namespace == org, snapshots.c.snapshot_date < night)
        .order_by(snapshots.c.snapshot_date.desc())
    ).scalars()
    moved = 0
    for day in list(earlier):
        there = sa.exists().where(rs.c.namespace == org, rs.c.snapshot_date == day, rs.c.name == seen.c.name)
        moved += _count(connection.execute(sa.update(seen).where(*here, there).values(snapshot_date=day)))
        if moved == pending:
            break
    return moved


def forget_tags(connection: sa.Connection, org: str, night: date) -> list[Change]:
    """The night's tag inventory: its header, fetches and storage, and its versions undone."""
    headers = _count(
        connection.execute(
            sa.delete(tag_nights).where(tag_nights.c.namespace == org, tag_nights.c.snapshot_date == night)
        )
    )
    following = connection.execute(
        sa.select(sa.func.min(tag_nights.c.snapshot_date)).where(
            tag_nights.c.namespace == org, tag_nights.c.snapshot_date > night
        )
    ).scalar()
    changes = [Change("tag_nights", headers, "deleted")]
    if following is None:
        changes += _undo_newest(connection, org, night)
    else:
        changes += _hand_on(connection, org, night, following)
    fetches = connection.execute(
        sa.delete(tag_fetches).where(tag_fetches.c.namespace == org, tag_fetches.c.fetched_on == night)
    )
    storage = connection.execute(
        sa.delete(tag_storage).where(tag_storage.c.namespace == org, tag_storage.c.snapshot_date == night)
    )
    return [
        *changes,
        Change("tag_fetches", _count(fetches), "deleted"),
        Change("tag_storage", _count(storage), "deleted"),
    ]


def _undo_newest(connection: sa.Connection, org: str, night: date) -> list[Change]:
    """The newest night: as before it was written (every version begun on it is still open)."""
    begun = connection.execute(sa.delete(tags).where(tags.c.namespace == org, tags.c.valid_from == night))
    ended = connection.execute(
        sa.update(tags).where(tags.c.namespace == org, tags.c.valid_to == night).values(valid_to=None)
    )
    return [
        Change("tags", _count(begun), "deleted (versions begun that night)"),
        Change("tags", _count(ended), "open again (versions that night ended)"),
    ]


def _hand_on(connection: sa.Connection, org: str, night: date, following: date) -> list[Change]:
    """A night before ``following``: its changes happen on ``following`` instead."""
    mine = (tags.c.namespace == org, tags.c.valid_from == night)
    # Valid on that night only: the version before it now lasts until `following`.
    only = connection.execute(sa.delete(tags).where(*mine, tags.c.valid_to == following))
    begun = connection.execute(sa.update(tags).where(*mine).values(valid_from=following))
    ended = connection.execute(
        sa.update(tags).where(tags.c.namespace == org, tags.c.valid_to == night).values(valid_to=following)
    )
    joined = _join_identical(connection, org, following)
    return [
        Change("tags", _count(only), "deleted (versions valid that night only)"),
        Change("tags", _count(begun), f"begun on {following.isoformat()} instead"),
        Change("tags", _count(ended), f"ended on {following.isoformat()} instead"),
        Change("tags", joined, f"joined with the identical version before them on {following.isoformat()}"),
    ]


def _join_identical(connection: sa.Connection, org: str, boundary: date) -> int:
    """Join each version begun on ``boundary`` to the one ending there when their values are the same:
    a night's write opens no version for an unchanged tag."""
    ending = {
        (repository, tag): (valid_from, fingerprint)
        for repository, tag, valid_from, fingerprint in connection.execute(
            sa.select(tags.c.repository, tags.c.tag, tags.c.valid_from, tags.c.fingerprint).where(
                tags.c.namespace == org, tags.c.valid_to == boundary
            )
        )
    }
    if not ending:
        return 0
    joins = [
        {"r": repository, "t": tag, "f": ending[(repository, tag)][0], "to": valid_to}
        for repository, tag, valid_to, fingerprint in connection.execute(
            sa.select(tags.c.repository, tags.c.tag, tags.c.valid_to, tags.c.fingerprint).where(
                tags.c.namespace == org, tags.c.valid_from == boundary
            )
        )
        if ending.get((repository, tag), (None, None))[1] == fingerprint
    ]
    if not joins:
        return 0
    key = (tags.c.namespace == org, tags.c.repository == sa.bindparam("r"), tags.c.tag == sa.bindparam("t"))
    connection.execute(
        sa.delete(tags).where(*key, tags.c.valid_from == boundary),
        [{"r": join["r"], "t": join["t"]} for join in joins],
    )
    connection.execute(
        sa.update(tags)
        .where(*key, tags.c.valid_from == sa.bindparam("f"))
        .values(valid_to=sa.bindparam("to")),
        joins,
    )
    return len(joins)


def forget_access(connection: sa.Connection, org: str, night: date) -> list[Change]:
    """The night's access header, and its versions in each history its listings fed."""
    listings = delete_header(connection, org, night)
    changes = [Change("access_nights", 0 if listings is None else 1, "deleted")]
    for history in HISTORIES:
        if listings is not None and history.listing in listings:
            done = forget_history(connection, org, night, history)
            changes += [Change(history.name, rows, did) for rows, did in done]
    return changes


def forget_runs(connection: sa.Connection, org: str, night: date) -> list[Change]:
    """The day's runs stay in the log, each with a warning that its night was forgotten."""
    note = f"night forgotten by `dockerhub-export db forget` at {utcnow().isoformat(timespec='seconds')}Z"
    runs = connection.execute(
        sa.select(export_runs.c.id, export_runs.c.warnings).where(
            export_runs.c.namespace == org, export_runs.c.snapshot_date == night
        )
    ).all()
    for run_id, warnings in runs:
        kept = json.loads(warnings) if warnings else []
        connection.execute(
            sa.update(export_runs)
            .where(export_runs.c.id == run_id)
            .values(warnings=json.dumps([*kept, note]))
        )
    return [Change("export_runs", len(runs), "kept, marked with a warning that their night was forgotten")]


# One step per history that keeps nights; the run log last, since it only notes what the others did.
STEPS: tuple[Step, ...] = (forget_snapshot, forget_tags, forget_access, forget_runs)
_DATA_TABLES = frozenset(
    {"snapshots", "tag_nights", "access_nights"}
)  # a night is stored if it has one of these headers


def forget_night(engine: sa.Engine, org: str, night: date, *, apply: bool) -> ForgetSummary:
    """Remove ``night`` from every history of ``org`` in one transaction (``apply=False``: a dry run that
    rolls it back). Raises `ConfigError` when nothing is stored for that night."""

    def work() -> ForgetSummary:
        summary = ForgetSummary(org, night, applied=apply)
        with translate(engine, f"forget the {org} night of {night.isoformat()}"):
            with engine.connect() as connection:
                connection.execution_options(**{WRITE: True})
                with connection.begin() as transaction:
                    for step in STEPS:
                        summary.changes += step(connection, org, night)
                    stored = any(c.rows for c in summary.changes if c.table in _DATA_TABLES)
                    if not apply or not stored:
                        transaction.rollback()
        if not stored:
            raise ConfigError(
                f"nothing stored for {org} on {night.isoformat()} (no repository snapshot, tag night or "
                "access night): check --org and --date"
            )
        return summary

    return with_retries(work)


__all__ = ["STEPS", "Change", "ForgetSummary", "Step", "forget_night"]
