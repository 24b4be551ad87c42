"""Output of the query commands: CSV and JSON to stdout, the cells spelled one way; tables for people.

Light to import (no pandas, no SQLAlchemy, rich only when a table is printed): the query commands start fast.
"""

import csv
import enum
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from ..csv_output import neutralise
from ..humanize import plural as plural  # light: csv_output loads pandas only to write

TABLE_ROWS = 25  # a table without --top shows this many rows (and says what it left out); csv/json: all


class Format(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


Rows = tuple[Sequence[str], Iterable[Sequence[str]]]  # a CSV's header and its rows


def render(
    output_format: Format,
    *,
    json: Callable[[], Any],
    csv: Callable[[], Rows],
    table: Callable[[], None],
    note: Callable[[], None] | None = None,
) -> None:
    """A query command's answer in the format asked for: JSON or CSV on stdout for programs, a table for
    people. ``note`` (what stderr tells people: the window used, the totals) goes with csv and table."""
    if output_format is Format.json:
        write_json(json())
        return
    if note is not None:
        note()
    if output_format is Format.csv:
        header, rows = csv()
        write_csv(header, rows)
    else:
        table()


def kept(rows: list[Any], top: int | None, output_format: Format, what: str) -> list[Any]:
    """The first ``top`` rows (a table without --top: `TABLE_ROWS`); says on stderr what a table hides."""
    keep = keep_count(top, output_format)
    say_hidden(len(rows), top, keep, what)
    return rows if keep is None else rows[:keep]


def keep_count(top: int | None, output_format: Format) -> int | None:
    """How many rows to show: --top, else `TABLE_ROWS` for a table, else all (None)."""
    return top if top is not None else (TABLE_ROWS if output_format is Format.table else None)


def say_hidden(total: int, top: int | None, keep: int | None, what: str) -> None:
    """Say on stderr that a table without --top shows ``keep`` of ``total`` rows."""
    if top is None and keep is not None and total > keep:
        sys.stderr.write(f"showing the largest {keep} {what}: use --top N, or --format csv / json for all\n")


# Columns of a console whose stdout is not a terminal (a file, a pipe): wider than any table, so that a
# table is as wide as its content, no value is cut and no line is wrapped.
UNBOUNDED_WIDTH = 1_000_000


def people_console() -> Any:
    """A rich console on stdout for tables and notes meant for people.

    On a terminal it fits the terminal's width. Anywhere else (``> file``, ``| grep``) it keeps whole
    values: names, timestamps and long lines as they are, never cut with "…" nor wrapped at 80 columns.
    """
    from rich.console import Console

    if sys.stdout.isatty():
        return Console()
    return Console(width=UNBOUNDED_WIDTH)


def people_table(title: str) -> Any:
    """A rich table under ``title``, at least as wide as the title: a title is never wrapped above a
    narrower table (rich wraps a title to its table's width)."""
    from rich.cells import cell_len
    from rich.table import Table

    return Table(title=title, title_justify="left", min_width=cell_len(title))


def cell(value: Any) -> Any:
    """A value as JSON shows it: days and timestamps as ISO text, the rest as is."""
    if isinstance(value, datetime):
        from ..timestamps import format_timestamp

        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_cell(value: Any, *, text: bool = False) -> str:
    """A CSV cell: empty for unknown, true/false, ISO days and timestamps; ``text`` cells neutralised."""
    value = cell(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    value = str(value)
    return neutralise(value) if text else value  # OWASP CSV injection, as in the export's CSV


def write_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


def write_json(value: Any) -> None:
    import orjson  # the same text as json.dumps(indent=2, ensure_ascii=False), several times faster

    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
