"""``audit``: the org's audit log as the runs stored it, from the command line (no pandas, no Prefect)."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import ConfigError
from .options import (
    DatabaseUrlOption,
    FormatOption,
    OrgOption,
    OutputDirOption,
    SinceOption,
    UntilOption,
    open_existing,
    parse_day,
    settings_from,
)
from .output import Format, csv_cell, people_console, people_table, plural, render

if TYPE_CHECKING:
    import sqlalchemy as sa

COLUMNS = ("timestamp", "action", "name", "actor", "data")
# The Hub's catalog of actions (``GET /v2/auditlogs/{account}/actions``) as documented: one of these may
# be asked for before any such event is stored, and then gets an empty answer rather than an error.
HUB_ACTIONS = (
    "repo.create", "repo.update", "repo.delete", "repo.change_privacy", "repo.category.updated",
    "repo.immutable.tags.updated", "repo.tag.push", "repo.tag.delete",
    "org.member.add", "org.member.remove", "org.member.role.change", "org.member.invite.send",
    "org.team.create", "org.team.delete", "org.team.member.add", "org.team.member.remove",
    "org.access_token.create", "org.access_token.update", "org.access_token.delete",
)  # fmt: skip


@dataclass
class Stored:
    """What the database holds of an org's audit log: events per action, the first and last time."""

    counts: dict[str, int]
    first: datetime | None
    last: datetime | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def register(app: typer.Typer) -> None:
    """Add ``audit`` to ``app``."""
    app.command("audit")(audit)


def audit(
    org: OrgOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    action: Annotated[
        str | None,
        typer.Option("--action", help="Only this action, e.g. repo.tag.delete (one stored or the Hub's)."),
    ] = None,
    repo: Annotated[str | None, typer.Option("--repo", help="Only events of this repository.")] = None,
    output_format: FormatOption = Format.table,
    output_dir: OutputDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Who changed what, newest first: the audit-log events every run stores (an OAT needs 'Activity read').

    --since and --until are UTC days, inclusive. JSON: a list of events, each with timestamp, action,
    name (org/repo for repository events), actor and data. An unknown --action is refused; an empty
    answer says on stderr why.
    """
    from .. import snapshot_queries, store

    settings = settings_from(org, output_dir, database_url)
    org_name = settings.require_org()
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    snapshot_queries.check_window(first, last)
    with open_existing(settings) as engine:
        stored = _stored(engine, org_name)
        if action is not None:
            _check_action(action, stored, org_name)
        events = store.audit.events(
            engine, org_name, since=first, until=last, actions=[action] if action else (),
            names=[f"{org_name}/{repo}"] if repo else (),
        )  # fmt: skip
        shown_db = store.redact(engine.url)
    rows = [{name: event[name] for name in COLUMNS} for event in events]
    render(
        output_format,
        json=lambda: rows,
        csv=lambda: (COLUMNS, [[_csv(name, row[name]) for name in COLUMNS] for row in rows]),
        table=lambda: _table(org_name, rows) if rows else None,
    )
    if not rows:
        typer.echo(_why_empty(org_name, stored, shown_db, (first, last), action, repo), err=True)


def _stored(engine: "sa.Engine", org: str) -> Stored:
    import sqlalchemy as sa

    from ..store import reading
    from ..store.tables import audit_events as events

    query = (
        sa.select(events.c.action, sa.func.count(), sa.func.min(events.c.occurred_at),
                  sa.func.max(events.c.occurred_at))
        .where(events.c.namespace == org)
        .group_by(events.c.action)
    )  # fmt: skip
    with reading(engine, f"read the {org} audit log") as connection:
        rows = connection.execute(query).all()
    return Stored(
        {action: int(count) for action, count, _first, _last in rows},
        min((row[2] for row in rows), default=None),
        max((row[3] for row in rows), default=None),
    )


def _check_action(action: str, stored: Stored, org: str) -> None:
    """A `ConfigError` for an action neither stored nor in the Hub's catalog: it could match nothing."""
    import difflib

    known = sorted(set(stored.counts) | set(HUB_ACTIONS))
    if action in known:
        return
    by_lower = {name.lower(): name for name in known}
    matches = difflib.get_close_matches(action.lower(), by_lower, n=3, cutoff=0.7)
    matches += [name for name in by_lower if action.lower() in name and name not in matches]
    close = [by_lower[name] for name in matches[:3]]
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    names = sorted(stored.counts) or sorted(name for name in HUB_ACTIONS if name.startswith("repo."))
    where = f"stored for {org}" if stored.counts else "of the Hub (none stored yet)"
    shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
    raise ConfigError(f"unknown audit action {action!r}: {hint}the actions {where}: {shown}")


def _why_empty(
    org: str,
    stored: Stored,
    shown_db: str,
    window: tuple[date | None, date | None],
    action: str | None,
    repo: str | None,
) -> str:
    """Why an audit answer is empty: nothing stored at all, or nothing that matches; what to do."""
    from ..snapshot_queries import window_text

    if not stored.total:
        return (
            f"no audit-log events of {org} are stored in {shown_db}: each `dockerhub-export run --org {org}` "
            "stores the new ones (an OAT needs 'Activity read'; without it the run warns and goes on)"
        )
    assert stored.first is not None and stored.last is not None  # events stored have times
    what = " ".join(part for part in (action, "events" if action else "audit-log events") if part)
    of = f"{org}/{repo}" if repo else org
    return (
        f"no {what} of {of} {window_text(*window)}: the database holds {plural(stored.total, 'event')} "
        f"of {org}, from {stored.first.date().isoformat()} to {stored.last.date().isoformat()}"
    )


def _csv(name: str, value: Any) -> str:
    if name == "data":
        import json

        return csv_cell(json.dumps(value, sort_keys=True, ensure_ascii=False), text=True)
    return csv_cell(value, text=True)


def _table(org: str, rows: list[dict[str, Any]]) -> None:
    table = people_table(f"{org}: {plural(len(rows), 'audit-log event')}, newest first")
    for heading in ("time", "action", "name", "actor", "data"):
        table.add_column(heading)
    for row in rows:
        data = ", ".join(f"{key}={value}" for key, value in sorted(row["data"].items()))
        table.add_row(row["timestamp"], row["action"], row["name"] or "", row["actor"] or "", data)
    people_console().print(table)
