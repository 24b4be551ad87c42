"""Timestamp text, the two forms this tool writes: the Hub's canonical form and the storage form.

* Canonical: RFC 3339 in UTC with "Z" and 0-9 fraction digits, as the Hub writes it
  (``2021-12-20T17:19:58.88296Z``). The CSV, the reports and JSON output use it; a value already in
  this form is kept exactly (so the CSV equals the reference script's output).
* Storage: naive UTC with microseconds (``2021-12-20 17:19:58.882960``), SQLAlchemy's SQLite storage
  text, which every driver takes (sqlite3 stores it as is, PostgreSQL and MariaDB parse it).

No pandas at import: the query commands format timestamps and stay light.
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

# RFC 3339 in UTC with "Z" and 0-9 fraction digits: kept exactly as the Hub wrote it.
CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z")
OLDEST_TIMESTAMP = datetime(1000, 1, 1)  # MySQL's DATETIME floor; older values are Go's zero time
# How far back each audit-log read reaches past the newest stored event, and how far an event may fall
# outside the runs it is matched between: events can reach the log late. Here, not in `audit`, so that
# the access queries read it without loading the HTTP client.
OVERLAP = timedelta(hours=1)


def format_timestamp(value: datetime) -> str:
    """``2021-12-20T17:19:58.88296Z``: UTC, "Z", the fraction without trailing zeros (the Hub's own style).

    A naive value is UTC already; pandas Timestamps keep their nanoseconds.
    """
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    nanoseconds = value.microsecond * 1000 + getattr(value, "nanosecond", 0)
    fraction = f"{nanoseconds:09d}".rstrip("0")
    return value.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


# Timestamps reach every driver as SQLAlchemy's SQLite storage text (naive UTC, microseconds): sqlite3
# stores it as is, PostgreSQL (COPY) and MariaDB/MySQL parse it into TIMESTAMP / DATETIME(6).
TIMESTAMP_TEXT = "%Y-%m-%d %H:%M:%S.%f"
# The shape of a canonical timestamp once its digits are all "0" (fromisoformat then checks the ranges).
_PLAIN_SHAPE = re.compile(r"0000-00-00T00:00:00(?:\.0{1,9})?Z")
_DIGITS_TO_ZERO = str.maketrans("123456789", "000000000")
_MICROSECONDS_LENGTH = len("2021-12-20T17:19:58.882960Z")
_NANOSECOND_YEARS = ("1678", "2261")  # pandas' nanosecond range, whole years
_SECONDS_LENGTH = len("2021-12-20T17:19:58Z")
_NO_FRACTION = re.compile(r"(:[0-9]{2})Z$", re.MULTILINE)


def plain_timestamp_texts(cells: Sequence[str | None]) -> list[str | None] | None:
    """Canonical UTC timestamps (``2021-12-20T17:19:58.88296Z``, None or "" for unknown) as storage text.

    None unless every cell is such a timestamp of a real day and time that pandas reads too:
    `timestamp_texts` then parses the column with pandas. Where None is not returned, pandas (and so
    `transform.to_frame`) reads every cell, and the result equals the pandas path's: fractions truncated
    to microseconds, values before `OLDEST_TIMESTAMP` (Go's zero time) None. pandas parses a column
    holding a nanosecond fraction at nanosecond resolution, which covers only the years 1677-2262:
    such a column is plain only if all its years are inside.

    Whole-column string operations (the column joined, its digits zeroed to find its few distinct
    shapes): a regular expression per value cost 3x more.
    """
    if not cells:
        return []
    try:
        joined = "\n".join([cell or "" for cell in cells])
    except TypeError:  # not all text
        return None
    if joined.count("\n") != len(cells) - 1:  # a cell holding a line break
        return None
    shapes = set(joined.translate(_DIGITS_TO_ZERO).split("\n")) - {""}
    if not all(_PLAIN_SHAPE.fullmatch(shape) for shape in shapes):
        return None
    present = list(filter(None, cells))
    if not present:
        return [None] * len(cells)
    try:
        all(map(datetime.fromisoformat, present))  # 2024-02-30, 25:00, 23:59:60
    except ValueError:
        return None
    lengths = set(map(len, shapes))
    first, last = min(present)[:4], max(present)[:4]  # years: canonical text sorts by time
    if (
        max(lengths) > _MICROSECONDS_LENGTH
        and not _NANOSECOND_YEARS[0] <= first <= last <= _NANOSECOND_YEARS[1]
    ):
        return None
    # 2021-12-20T17:19:58.88296Z -> 2021-12-20 17:19:58.882960, on the joined column: "T" is a space, a
    # missing fraction ".", "Z" six zeros of padding, then each value cut to its 26 characters.
    if min(lengths) == _SECONDS_LENGTH:
        joined = _NO_FRACTION.sub(r"\1.Z", joined)
    texts = [text[:26] or None for text in joined.replace("T", " ").replace("Z", "000000").split("\n")]
    oldest = f"{OLDEST_TIMESTAMP.year:04d}"
    if first < oldest:  # Go's zero time: never
        texts = [None if text is None or text[:4] < oldest else text for text in texts]
    return texts


def timestamp_texts(cells: Sequence[Any]) -> list[str | None]:
    """Any timestamps pandas reads (ISO-8601, zone-aware or UTC) as naive-UTC storage text, None if
    unknown."""
    plain = plain_timestamp_texts(cells)
    return plain if plain is not None else _parsed_timestamp_texts(cells)


def _parsed_timestamp_texts(cells: Sequence[Any]) -> list[str | None]:
    import pandas as pd

    parsed = pd.to_datetime(pd.Series(cells, dtype=object), utc=True, format="ISO8601", errors="coerce")
    parsed = parsed.dt.tz_localize(None)
    parsed = parsed.where(parsed >= OLDEST_TIMESTAMP)  # Go's zero time means "never", like NULL
    texts = parsed.dt.strftime(TIMESTAMP_TEXT)
    return texts.astype(object).where(texts.notna(), None).tolist()
