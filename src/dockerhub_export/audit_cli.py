"""``audit``: the org's audit log as the runs stored it, from the command line (no pandas, no Prefect)."""

from typing import Annotated, Any

import typer

from .options import (
    DatabaseUrlOption,
    Format,
    FormatOption,
    OrgOption,
    OutputDirOption,
    SinceOption,
    UntilOption,
    open_existing,
    parse_day,
    settings_from,
)
from .query_output import csv_cell, write_csv, write_json

COLUMNS = ("timestamp", "action", "name", "actor", "data")


def register(app: typer.Typer) -> None:
    """Add ``audit`` to ``app``."""
    app.command("audit")(audit)


def audit(
    org: OrgOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action, e.g. repo.tag.delete.")
    ] = None,
    repo: Annotated[str | None, typer.Option("--repo", help="Only events of this repository.")] = None,
    output_format: FormatOption = Format.table,
    output_dir: OutputDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Who changed what, newest first: the audit-log events every run stores (an OAT needs 'Activity read').

    --since and --until are UTC days, inclusive. JSON: a list of events, each with timestamp, action,
    name (org/repo for repository events), actor and data.
    """
    from . import reports, store

    settings = settings_from(org, output_dir, database_url)
    org_name = settings.require_org()
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    reports.check_window(first, last)
    with open_existing(settings) as engine:
        events = store.audit.events(
            engine, org_name, since=first, until=last, actions=[action] if action else (),
            names=[f"{org_name}/{repo}"] if repo else (),
        )  # fmt: skip
    rows = [{name: event[name] for name in COLUMNS} for event in events]
    if output_format is Format.json:
        write_json(rows)
    elif output_format is Format.csv:
        write_csv(COLUMNS, [[_csv(name, row[name]) for name in COLUMNS] for row in rows])
    else:
        _table(org_name, rows)


def _csv(name: str, value: Any) -> str:
    if name == "data":
        import json

        return csv_cell(json.dumps(value, sort_keys=True, ensure_ascii=False), text=True)
    return csv_cell(value, text=True)


def _table(org: str, rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{org}: {len(rows)} audit-log events, newest first", title_justify="left")
    for heading in ("time", "action", "name", "actor", "data"):
        table.add_column(heading)
    for row in rows:
        data = ", ".join(f"{key}={value}" for key, value in sorted(row["data"].items()))
        table.add_row(row["timestamp"], row["action"], row["name"] or "", row["actor"] or "", data)
    Console().print(table)
