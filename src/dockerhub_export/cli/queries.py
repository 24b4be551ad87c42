"""Queries over the stored snapshots: ``history`` of one repository and ``trends`` of an org.

`register` adds them to the main Typer app. Each command parses its options, builds `Settings`, calls one
library function and formats the result. Importing this module stays cheap (no pandas, SQLAlchemy or
Prefect): the library is imported inside the commands, and they never load pandas or Prefect at all.
Machine-readable output (csv, json) goes to stdout alone; headers, notes and progress go to stderr.
"""

from pathlib import Path
from typing import Annotated, Any

import typer

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
from .output import TABLE_ROWS, Format, Rows, cell, csv_cell, people_console, people_table, plural, render


def register(app: typer.Typer) -> None:
    """Add ``history`` and ``trends`` to ``app``."""
    app.command("history")(history)
    app.command("trends")(trends)


# --------------------------------------------------------------------------------------------------
# Helpers


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _signed(value: int | None) -> str:
    return "—" if value is None else f"{value:+,}"


# --------------------------------------------------------------------------------------------------
# history


def history(
    repo: Annotated[str, typer.Option("--repo", help="Repository name within the organization.")],
    org: OrgOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    output_format: FormatOption = Format.table,
    output_dir: OutputDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """One repository's stored snapshots, one row per day: pulls, stars, visibility, last push, ..."""
    from .. import snapshot_queries

    settings = settings_from(org, output_dir, database_url)
    org_name = settings.require_org()
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    with open_existing(settings) as engine:
        rows = snapshot_queries.history(engine, org_name, repo, since=first, until=last)
        if not rows:
            raise snapshot_queries.no_history(engine, org_name, repo, first, last)
    columns = list(snapshot_queries.HISTORY_COLUMNS)
    text = {"repository_type", "status_description", "description", "affiliation", "media_types",
            "content_types", "categories"}  # fmt: skip
    render(
        output_format,
        json=lambda: [{name: cell(row[name]) for name in columns} for row in rows],
        csv=lambda: (columns, [[csv_cell(row[name], text=name in text) for name in columns] for row in rows]),
        table=lambda: _history_table(org_name, repo, rows),
    )


def _history_table(org: str, repo: str, rows: list[dict[str, Any]]) -> None:
    table = people_table(f"{org}/{repo}: {plural(len(rows), 'snapshot')}")
    for heading in ("date", "pulls", "Δ pulls", "stars", "private", "last updated"):
        table.add_column(heading, justify="right" if heading in ("pulls", "Δ pulls", "stars") else "left")
    previous: int | None = None
    for row in rows:
        pulls = row["pull_count"]
        delta = pulls - previous if pulls is not None and previous is not None else None
        shown_delta = _signed(delta) if delta is None or delta >= 0 else f"[red]{delta:+,}[/red]"
        private = "—" if row["is_private"] is None else ("yes" if row["is_private"] else "no")
        table.add_row(
            row["snapshot_date"].isoformat(),
            _number(pulls),
            shown_delta,
            _number(row["star_count"]),
            private,
            cell(row["last_updated"]) or "—",
        )
        previous = pulls if pulls is not None else previous
    people_console().print(table)


# --------------------------------------------------------------------------------------------------
# trends

TREND_COLUMNS = [
    "name", "pulls_start", "pulls_end", "pulls_delta", "stars_start", "stars_end", "stars_delta",
    "is_private",
]  # fmt: skip


def trends(
    org: OrgOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    days: Annotated[
        int | None,
        typer.Option(
            "--days", min=1, help="Window length in days: from --since, else up to the latest snapshot."
        ),
    ] = None,
    top: Annotated[
        int | None,
        typer.Option("--top", min=1, help="Keep the N largest pull growths. Default: all (table: 25)."),
    ] = None,
    output_format: FormatOption = Format.table,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also write a PNG of the top movers' pulls over time.")
    ] = None,
    output_dir: OutputDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Growth between the first and last snapshot in a window: pulls, stars, added, removed, anomalies.

    The window's ends are the nearest snapshot days inside it; the days used are stated (stderr for
    table and csv, "from"/"to" in json).
    """
    from .. import snapshot_queries

    settings = settings_from(org, output_dir, database_url)
    org_name = settings.require_org()
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    snapshot_queries.check_window(first, last, days)  # before the database is opened: bad input fails first
    with open_existing(settings) as engine:
        report = snapshot_queries.trends(engine, org_name, since=first, until=last, days=days, top=top)
        if plot is not None:
            snapshot_queries.plot_trends(engine, report, plot, top=min(top or 10, 10))
    render(
        output_format,
        json=report.to_json_dict,
        csv=lambda: _trends_csv(report),
        table=lambda: _trends_table(report, top),
        note=lambda: _err(_trend_header(report)),
    )
    if plot is not None:
        _err(f"wrote {plot}")


def _trend_header(report: Any) -> str:
    """``acme: trends from 2025-01-01 to 2025-01-31 (nearest snapshots for 2024-12-25 to 2025-02-02); ...``"""
    used = f"{report.from_date.isoformat()} to {report.to_date.isoformat()}"
    since, until = report.requested_since, report.requested_until
    moved = (since is not None and since != report.from_date) or (
        until is not None and until != report.to_date
    )
    note = ""
    if moved:
        first = since.isoformat() if since else "the first snapshot"
        asked = f"{first} to {until.isoformat() if until else 'the latest'}"
        note = f" (nearest snapshots for {asked})"
    return f"{report.org}: trends from {used}{note}; {plural(report.total, 'repository', 'repositories')}"


def _changes(report: Any) -> dict[str, list[str]]:
    changes: dict[str, list[str]] = {}
    for item in report.added:
        changes.setdefault(item["name"], []).append("added")
    for item in report.removed:
        changes.setdefault(item["name"], []).append("removed")
    for item in report.visibility_changed:
        changes.setdefault(item["name"], []).append(f"{item['from']}->{item['to']}")
    for item in report.anomalies:
        changes.setdefault(item["name"], []).append(item["kind"])
    return changes


def _trends_csv(report: Any) -> Rows:
    changes = _changes(report)
    return (
        [*TREND_COLUMNS, "change"],
        [[csv_cell(row[name]) for name in TREND_COLUMNS] + [";".join(changes.get(row["name"], []))]
         for row in report.repositories],
    )  # fmt: skip


def _trends_table(report: Any, top: int | None) -> None:
    console = people_console()
    cap = top if top is not None else TABLE_ROWS
    rows = report.repositories[:cap]
    changes = _changes(report)
    table = people_table(f"{report.org}: {report.from_date} → {report.to_date}, by pull growth")
    for heading in ("repository", "pulls", "Δ pulls", "stars", "Δ stars", "private", "change"):
        table.add_column(
            heading, justify="right" if heading in ("pulls", "Δ pulls", "stars", "Δ stars") else "left"
        )
    for row in rows:
        private = "—" if row["is_private"] is None else ("yes" if row["is_private"] else "no")
        table.add_row(
            row["name"],
            _number(row["pulls_end"] if row["pulls_end"] is not None else row["pulls_start"]),
            _signed(row["pulls_delta"]),
            _number(row["stars_end"] if row["stars_end"] is not None else row["stars_start"]),
            _signed(row["stars_delta"]),
            private,
            ", ".join(changes.get(row["name"], [])),
        )
    console.print(table)
    hidden = len(report.repositories) - len(rows)  # with --top the report holds only those asked for
    if hidden > 0:
        more = plural(hidden, "more repository", "more repositories")
        _err(f"… {more}: use --top N, or --format csv / json for all")
    _trends_changes(console, report, cap)


def _trends_changes(console: Any, report: Any, cap: int) -> None:
    """The lines under the trends table: added, removed, visibility changes and anomalies, each list cut
    at ``cap`` lines (``--top``, else the table's rows) with a line that says how many it left out."""

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    for title, items in (("added", report.added), ("removed", report.removed)):
        if items:
            shown = ", ".join(_attributed(item) for item in items[:20])
            more = f" and {len(items) - 20} more" if len(items) > 20 else ""
            say(f"{title} ({len(items)}): {shown}{more}")

    visibility = [
        f"visibility: {_attributed(item)} {item['from']} → {item['to']}" for item in report.visibility_changed
    ]
    anomalies = [f"anomaly: {item['name']}: {item['detail']}" for item in report.anomalies]
    for lines, one, many in ((visibility, "visibility change", "visibility changes"),
                             (anomalies, "anomaly", "anomalies")):  # fmt: skip
        for line in lines[:cap]:
            say(line)
        if len(lines) > cap:
            left = plural(len(lines) - cap, f"more {one}", f"more {many}")
            say(f"… {left} ({len(lines)} in all): --format csv or json lists every one")


def _attributed(item: dict[str, str]) -> str:
    """``web``, or ``web (by alice at 2026-11-27T10:00:00Z)`` when the audit log explains the change."""
    return f"{item['name']} (by {item['by']} at {item['at']})" if "by" in item else item["name"]
