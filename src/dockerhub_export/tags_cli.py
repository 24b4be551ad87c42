"""``stale`` and ``storage``: what a night's tag inventory says, from the command line.

Both read one night from the snapshot database (``--date``, default the newest night with a complete
tag inventory; a date between tag nights takes the nearest one before it, and says so): `stale` its
inventory, `storage` the totals its write kept. Neither loads pandas or Prefect. Machine-readable output
(csv, json) goes to stdout alone; a table shows the largest 25 rows unless --top says otherwise.
"""

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from .errors import ConfigError
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

if TYPE_CHECKING:
    from .store import TagNight

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
TABLE_ROWS = 25
STALE_COLUMNS = ("repository", "tag", "digest", "full_size", "tag_last_pulled", "tag_last_pushed")
STORAGE_COLUMNS = ("repository", "bytes", "tags", "digests")


def register(app: typer.Typer) -> None:
    """Add ``stale`` and ``storage`` to ``app``."""
    app.command("stale")(stale)
    app.command("storage")(storage)


def stale(
    days: Annotated[int, typer.Option("--days", min=0, help="Stale: no pull or push for this many days.")],
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
    from . import store
    from .tag_reports import INVENTORY
    from .tag_reports import stale as stale_report

    def read(engine: Any, org_name: str, chosen: date) -> list[Any]:
        return store.tag_inventory(engine, org_name, chosen, INVENTORY)

    org_name, chosen, rows = _read_night(org, night, output_dir, database_url, read)
    report = stale_report(rows, chosen, days)
    found = len(report.tags)
    report.tags = _kept(report.tags, top, output_format, f"stale tags of {found}")
    if output_format is Format.json:
        write_json(report.to_json_dict())
    elif output_format is Format.csv:
        write_csv(
            STALE_COLUMNS, [[csv_cell(row[name], text=True) for name in STALE_COLUMNS] for row in report.tags]
        )
    else:
        _table(
            f"{org_name}: {found} tags without a pull or push for {days} days (night of {chosen})",
            ("repository", "tag", "size", "last pulled", "last pushed"),
            [
                (
                    row["repository"],
                    row["tag"],
                    _size(row["full_size"]),
                    row["tag_last_pulled"] or "never",
                    row["tag_last_pushed"] or "—",
                )
                for row in report.tags
            ],  # fmt: skip
        )
        typer.echo(
            f"reclaimable: {_size(report.reclaimable_bytes)} ({report.reclaimable_bytes:,} bytes)", err=True
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
    from . import reports, store
    from .tag_reports import storage_of

    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    if plot is not None:  # without --plot, --since and --until choose nothing
        reports.check_window(first, last)

    def read(engine: Any, org_name: str, chosen: date) -> tuple[list[Any], list[Any]]:
        nights = store.tag_night_list(engine, org_name, since=first, until=last) if plot else []
        return store.tag_storage_totals(engine, org_name, chosen), nights

    org_name, chosen, (totals, nights) = _read_night(org, night, output_dir, database_url, read)
    report = storage_of(totals, chosen)
    found = len(report.repositories)
    report.repositories = _kept(report.repositories, top, output_format, f"repositories of {found}")
    if output_format is Format.json:
        write_json(report.to_json_dict())
    elif output_format is Format.csv:
        write_csv(
            STORAGE_COLUMNS,
            [[csv_cell(row[name], text=True) for name in STORAGE_COLUMNS] for row in report.repositories],
        )
    else:
        _table(
            f"{org_name}: storage of {found} repositories (night of {chosen})",
            ("repository", "size", "bytes", "tags", "digests"),
            [
                (
                    row["repository"],
                    _size(row["bytes"]),
                    f"{row['bytes']:,}",
                    str(row["tags"]),
                    str(row["digests"]),
                )
                for row in report.repositories
            ],  # fmt: skip
        )
        typer.echo(f"total: {_size(report.total_bytes)} ({report.total_bytes:,} bytes)", err=True)
    if plot is not None:
        _plot(org_name, nights, plot)
        typer.echo(f"wrote {plot}", err=True)


# --------------------------------------------------------------------------------------------------


def _kept(rows: list[Any], top: int | None, output_format: Format, what: str) -> list[Any]:
    """The largest ``top`` rows (a table without --top: `TABLE_ROWS`); says on stderr what a table hides."""
    keep = top if top is not None else (TABLE_ROWS if output_format is Format.table else None)
    if keep is None or len(rows) <= keep:
        return rows
    if top is None:
        typer.echo(
            f"showing the largest {keep} {what}: use --top N, or --format csv / json for all", err=True
        )
    return rows[:keep]


def _read_night(
    org: str | None,
    night: str | None,
    output_dir: Path | None,
    database_url: str | None,
    read: "Callable[[Any, str, date], T]",
) -> tuple[str, date, T]:
    """(org, the night used, what ``read(engine, org, night)`` gives)."""
    from . import store

    settings = settings_from(org, output_dir, database_url)
    org_name = settings.require_org()
    asked = parse_day(night, "--date")
    with open_existing(settings) as engine:
        newest = store.newest_tag_night(
            engine, org_name, before=None if asked is None else asked + timedelta(days=1)
        )
        if newest is None:
            where = "" if asked is None else f" on or before {asked.isoformat()}"
            raise ConfigError(
                f"no complete tag inventory of {org_name}{where} in {store.redact(engine.url)}: run "
                f"`dockerhub-export run --org {org_name} --tags` first"
            )
        chosen = newest.snapshot_date
        if asked is not None and chosen != asked:
            typer.echo(
                f"{asked.isoformat()} has no tag inventory: the nearest night before it is {chosen}", err=True
            )
        rows = read(engine, org_name, chosen)
    return org_name, chosen, rows


def _plot(org: str, nights: "list[TagNight]", path: Path) -> None:
    """The org's storage over ``nights`` as a PNG at ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    from .errors import OutputError

    figure = Figure(figsize=(10, 5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    days: list[Any] = [night.snapshot_date for night in nights]
    axes.plot(days, [night.bytes for night in nights], marker="." if len(nights) < 60 else None)
    axes.set_title(f"{org}: storage of its tagged images (each digest once per repository)")
    axes.set_ylabel("bytes")
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _position: _size(int(value))))
    axes.grid(True, alpha=0.3)
    figure.autofmt_xdate()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise OutputError(f"cannot write the plot {path}: {exc.strerror or exc}") from None


def _size(value: int | None) -> str:
    if value is None:
        return "—"
    amount = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if amount < 1000 or unit == "TB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")


def _table(title: str, headings: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for heading in headings:
        table.add_column(
            heading, justify="right" if heading in ("size", "bytes", "tags", "digests") else "left"
        )
    for row in rows:
        table.add_row(*row)
    Console().print(table)
