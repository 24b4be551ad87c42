"""``stale`` and ``storage``: what a night's tag inventory says, from the command line.

Both read one night from the snapshot database (``--date``, default the newest night with a complete
tag inventory; a date between tag nights takes the nearest one before it, and says so): `stale` its
inventory, `storage` the totals its write kept. Neither loads pandas or Prefect. Machine-readable output
(csv, json) goes to stdout alone; a table shows the largest 25 rows unless --top says otherwise.
"""

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ..humanize import size
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
from .output import (
    Format,
    csv_cell,
    keep_count,
    kept,
    people_console,
    people_table,
    plural,
    render,
    say_hidden,
)

if TYPE_CHECKING:
    pass

T = TypeVar("T")

DateOption = Annotated[
    str | None,
    typer.Option(
        "--date", help="The night, YYYY-MM-DD. Default: the newest night with a complete tag inventory."
    ),
]
TopOption = Annotated[
    int | None,
    typer.Option("--top", min=1, help="Keep the N largest. Default: all (table: 25)."),
]
STALE_COLUMNS = ("repository", "tag", "digest", "full_size", "tag_last_pulled", "tag_last_pushed")
STORAGE_COLUMNS = ("repository", "bytes", "tags", "digests")


def register(app: typer.Typer) -> None:
    """Add ``stale`` and ``storage`` to ``app``."""
    app.command("stale")(stale)
    app.command("storage")(storage)


def stale(
    days: Annotated[int, typer.Option("--days", min=1, help="Stale: no pull or push for this many days.")],
    org: OrgOption = None,
    night: DateOption = None,
    top: TopOption = None,
    output_format: FormatOption = Format.table,
    output_dir: OutputDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Tags without a pull or a push for --days days, largest first, and the bytes only they hold.

    A tag's activity is the later of its last pull and last push (a tag never pulled counts by its push);
    it is stale when that is before 00:00 UTC of the night minus --days days. Reclaimable: per repository,
    each digest that only stale tags point at, counted once. Last pulls are a weak signal: scanners and
    mirrors pull too.
    """
    from .. import store
    from ..tag_queries import INVENTORY
    from ..tag_queries import stale as stale_report

    def read(engine: Any, org_name: str, chosen: date) -> list[Any]:
        return store.tag_inventory(engine, org_name, chosen, INVENTORY)

    org_name, chosen, rows = _read_night(org, night, output_dir, database_url, read)
    keep = keep_count(top, output_format)  # only the rows shown are kept, not a dict per stale tag
    report = stale_report(rows, chosen, days, top=keep)
    found = report.tags_total
    say_hidden(found, top, keep, f"stale tags of {found:,}")
    title = f"{org_name}: {plural(found, 'tag')} without a pull or push for {plural(days, 'day')}"
    title += f" (night of {chosen})"
    render(
        output_format,
        json=report.to_json_dict,
        csv=lambda: (STALE_COLUMNS, _csv_rows(STALE_COLUMNS, report.tags)),
        table=lambda: _table(
            title,
            ("repository", "tag", "size", "last pulled", "last pushed"),
            [
                (
                    row["repository"],
                    row["tag"],
                    size(row["full_size"]),
                    row["tag_last_pulled"] or "never",
                    row["tag_last_pushed"] or "—",
                )
                for row in report.tags
            ],  # fmt: skip
            f"reclaimable: {size(report.reclaimable_bytes)} ({plural(report.reclaimable_bytes, 'byte')})",
        ),
    )


def storage(
    org: OrgOption = None,
    night: DateOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also write a PNG of the org's storage over time.")
    ] = None,
    top: TopOption = None,
    output_format: FormatOption = Format.table,
    output_dir: OutputDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Storage per repository: the bytes of its distinct digests (each counted once), its tags and digests.

    Tags do not list untagged manifests, so this is a lower bound of what the registry keeps. --plot draws
    the org's total over the tag nights from --since to --until.
    """
    from .. import plots, snapshot_queries, store
    from ..tag_queries import storage_of

    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    if plot is not None:  # without --plot, --since and --until choose nothing
        snapshot_queries.check_window(first, last)

    def read(engine: Any, org_name: str, chosen: date) -> tuple[list[Any], list[Any]]:
        nights = store.tag_night_list(engine, org_name, since=first, until=last) if plot else []
        return store.tag_storage_totals(engine, org_name, chosen), nights

    org_name, chosen, (totals, nights) = _read_night(org, night, output_dir, database_url, read)
    report = storage_of(totals, chosen)
    found = report.repositories_total
    report.repositories = kept(report.repositories, top, output_format, f"repositories of {found:,}")
    render(
        output_format,
        json=report.to_json_dict,
        csv=lambda: (STORAGE_COLUMNS, _csv_rows(STORAGE_COLUMNS, report.repositories)),
        table=lambda: _table(
            f"{org_name}: storage of {plural(found, 'repository', 'repositories')} (night of {chosen})",
            ("repository", "size", "bytes", "tags", "digests"),
            [
                (
                    row["repository"],
                    size(row["bytes"]),
                    f"{row['bytes']:,}",
                    str(row["tags"]),
                    str(row["digests"]),
                )
                for row in report.repositories
            ],  # fmt: skip
            f"total: {size(report.total_bytes)} ({plural(report.total_bytes, 'byte')})",
        ),
    )
    if plot is not None:
        title = f"{org_name}: storage of its tagged images (each digest once per repository)"
        plots.storage(
            title, [night.snapshot_date for night in nights], [night.bytes for night in nights], plot
        )
        typer.echo(f"wrote {plot}", err=True)


# --------------------------------------------------------------------------------------------------


def _csv_rows(columns: Sequence[str], rows: list[Any]) -> list[list[str]]:
    return [[csv_cell(row[name], text=True) for name in columns] for row in rows]


def _read_night(
    org: str | None,
    night: str | None,
    output_dir: Path | None,
    database_url: str | None,
    read: "Callable[[Any, str, date], T]",
) -> tuple[str, date, T]:
    """(org, the night used, what ``read(engine, org, night)`` gives)."""
    from ..tag_queries import tag_night

    settings = settings_from(org, output_dir, database_url)
    org_name = settings.require_org()
    asked = parse_day(night, "--date")
    with open_existing(settings) as engine:
        chosen = tag_night(engine, org_name, asked)
        if asked is not None and chosen != asked:
            typer.echo(
                f"{asked.isoformat()} has no tag inventory: the nearest night before it is {chosen}", err=True
            )
        rows = read(engine, org_name, chosen)
    return org_name, chosen, rows


def _table(title: str, headings: tuple[str, ...], rows: list[tuple[str, ...]], total: str) -> None:
    """The report's table for people, then its total on stderr."""
    table = people_table(title)
    for heading in headings:
        table.add_column(
            heading, justify="right" if heading in ("size", "bytes", "tags", "digests") else "left"
        )
    for row in rows:
        table.add_row(*row)
    people_console().print(table)
    typer.echo(total, err=True)
