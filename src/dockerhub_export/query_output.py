"""Machine-readable output of the query commands: CSV and JSON to stdout, the cells spelled one way.

Light to import (no pandas, no SQLAlchemy): the query commands start fast.
"""

import csv
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from .csv_output import neutralise  # light: csv_output loads pandas only to write


def cell(value: Any) -> Any:
    """A value as JSON shows it: days and timestamps as ISO text, the rest as is."""
    if isinstance(value, datetime):
        from .timestamps import format_timestamp

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
