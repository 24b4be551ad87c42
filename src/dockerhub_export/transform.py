"""API records to one typed pandas frame, with a declared schema shared by the CSV and the snapshots.

The reference doc's six columns come first and in its order; the other fields the API gives follow.
In the frame, unknown stays unknown (``<NA>``): the CSV decides how to spell it (the doc writes a null
count as 0), the snapshot store keeps it NULL.
"""

import logging
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

log = logging.getLogger(__name__)

Kind = Literal["text", "bool", "int", "timestamp", "list"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    doc: str


SCHEMA: tuple[Column, ...] = (
    Column("namespace", "text", "the organization (Docker Hub namespace)"),
    Column("name", "text", "repository name"),
    Column("is_private", "bool", "true for a private repository"),
    Column("last_updated", "timestamp", "last push (UTC, ISO-8601 with Z); empty if never pushed"),
    Column("pull_count", "int", "pulls so far (the CSV writes an unknown count as 0, like the doc)"),
    Column("star_count", "int", "stars (the CSV writes an unknown count as 0, like the doc)"),
    Column("repository_type", "text", "image, plugin, or empty"),
    Column("status", "int", "1 active, 0 inactive"),
    Column("status_description", "text", "active or inactive"),
    Column("description", "text", "short description"),
    Column("date_registered", "timestamp", "creation time (UTC)"),
    Column("last_modified", "timestamp", "last change of the repository's metadata (UTC)"),
    Column("storage_size", "int", "bytes stored, when the Hub tells"),
    Column("affiliation", "text", "the token's affiliation with the repository, when the Hub tells"),
    Column("media_types", "list", "media types, ';'-separated"),
    Column("content_types", "list", "content types (image, plugin, ...), ';'-separated"),
    Column("categories", "list", "category slugs, ';'-separated"),
)
COLUMNS: tuple[str, ...] = tuple(column.name for column in SCHEMA)
DOC_COLUMNS: tuple[str, ...] = COLUMNS[:6]
KINDS: dict[str, Kind] = {column.name: column.kind for column in SCHEMA}
# Fields with a handful of distinct values across an org (one namespace, two types and states, a few
# media type and category combinations): `raw_columns` keeps one string per distinct value of these.
_FEW_VALUES = frozenset({"namespace", "repository_type", "status_description", "affiliation", "media_types",
                         "content_types", "categories"})

# RFC 3339 in UTC with "Z" and 0-9 fraction digits: kept exactly as the Hub wrote it (so the CSV equals
# the reference script's output); anything else that parses is rewritten in this form.
_CANONICAL = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z"
_CANONICAL_MATCH = re.compile(_CANONICAL).fullmatch
_TRUE = {"true", "1", "t", "yes"}
_FALSE = {"false", "0", "f", "no"}

InvalidValue = Callable[[int, str, object], None]
"""Told about each value that cannot be read: (row index, column, raw value)."""


def _warn_invalid(row: int, column: str, value: object) -> None:
    log.warning("repository #%d: unreadable %s %r, written as empty", row + 1, column, value)


Columns = dict[str, list[Any]]
"""The schema's fields of many records: one list of raw values per column of `COLUMNS`, all as long."""


def to_frame(
    records: Iterable[Mapping[str, Any]],
    org: str | None = None,
    *,
    on_invalid: InvalidValue = _warn_invalid,
) -> pd.DataFrame:
    """One row per repository, the columns of `SCHEMA` in order, typed by kind.

    Accepts API records (JSON types) and CSV rows (strings) alike, so that backfill reads files
    through the same rules. A missing namespace is filled with ``org``.
    """
    return from_columns(raw_columns(records), org, on_invalid=on_invalid, consume=True)


def raw_columns(records: Iterable[Mapping[str, Any]]) -> Columns:
    """The schema's fields of ``records``, one list per column, for `from_columns`.

    Only the list fields are converted here (joined, see `_joined`); every other value stays as given,
    equal strings of the `_FEW_VALUES` fields as one object. Without a dict per record, nested lists and
    a copy of "image" per repository, a large listing takes about a third of the records' memory in this
    form: the fetch keeps each page like this (`hub.Listing.columns`).
    """
    rows = list(records)
    columns: Columns = {}
    for column in SCHEMA:
        if column.kind == "list":
            values = [_joined(row.get(column.name)) for row in rows]
        else:
            values = [row.get(column.name) for row in rows]
        if column.name in _FEW_VALUES:
            values = [sys.intern(value) if type(value) is str else value for value in values]
        columns[column.name] = values
    return columns


def from_columns(
    columns: Columns,
    org: str | None = None,
    *,
    on_invalid: InvalidValue = _warn_invalid,
    consume: bool = False,
) -> pd.DataFrame:
    """`to_frame` of records given as `raw_columns` (every column of `COLUMNS`, same length).

    With ``consume``, each raw column is taken out of ``columns`` as soon as it is typed, so the raw
    lists and numbers are freed while the frame is built instead of after it (−11 MiB at the peak of a
    100,000-repository export).
    """
    data: dict[str, pd.Series] = {}
    for column in SCHEMA:
        raw = columns.pop(column.name) if consume else columns[column.name]
        data[column.name] = _CONVERT[column.kind](raw, column.name, on_invalid)
    frame = pd.DataFrame(data, columns=list(COLUMNS))
    if org is not None:
        frame["namespace"] = frame["namespace"].fillna(org)
    return frame


def _blank(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, float) and value != value)


def _text(raw: list[object], name: str, on_invalid: InvalidValue) -> pd.Series:
    return pd.Series([None if value is None else str(value) for value in raw], dtype="string")


def _bool(raw: list[object], name: str, on_invalid: InvalidValue) -> pd.Series:
    out: list[bool | None] = []
    for row, value in enumerate(raw):
        if isinstance(value, bool) or _blank(value):
            out.append(None if _blank(value) else value)  # type: ignore[arg-type]
        elif str(value).strip().lower() in _TRUE:
            out.append(True)
        elif str(value).strip().lower() in _FALSE:
            out.append(False)
        else:
            on_invalid(row, name, value)
            out.append(None)
    return pd.Series(out, dtype="boolean")


def _int(raw: list[object], name: str, on_invalid: InvalidValue) -> pd.Series:
    if all(value is None or type(value) is int for value in raw):  # the API's own values
        return pd.Series(raw, dtype="Int64")
    out: list[int | None] = []
    for row, value in enumerate(raw):
        if isinstance(value, int) and not isinstance(value, bool):
            out.append(value)
        elif _blank(value):
            out.append(None)
        else:
            try:
                number = float(str(value).strip())
                if not number.is_integer():
                    raise ValueError
                out.append(int(number))
            except ValueError:
                on_invalid(row, name, value)
                out.append(None)
    return pd.Series(out, dtype="Int64")


def _timestamp(raw: list[object], name: str, on_invalid: InvalidValue) -> pd.Series:
    values = [
        value.strip() if type(value) is str and value else None if _blank(value) else str(value).strip()
        for value in raw
    ]
    text = pd.Series(values, dtype="string")
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    bad = text.notna() & parsed.isna()
    if bad.any():
        for row in bad[bad].index:
            on_invalid(int(row), name, text[row])
        text = text.mask(bad)
    canonical = [value is not None and _CANONICAL_MATCH(value) is not None for value in values]
    rewrite = text.notna() & ~pd.Series(canonical, index=text.index)
    if rewrite.any():
        text = text.mask(rewrite, parsed[rewrite].map(format_timestamp))
    return text


def _list(raw: list[object], name: str, on_invalid: InvalidValue) -> pd.Series:
    return pd.Series([_joined(value) for value in raw], dtype="string")


def _joined(value: object) -> str | None:
    """A list field as one ';'-separated string, empty items dropped; a string stays as it is."""
    if value is None:
        return None
    if not isinstance(value, list):
        return str(value)
    if "" not in value:
        try:
            return ";".join(value)  # the usual case: non-empty strings (media and content types)
        except TypeError:
            pass
    items = [_list_item(item) for item in value]
    return ";".join(item for item in items if item)


def _list_item(item: object) -> str:
    if isinstance(item, Mapping):  # categories: {"name", "slug"}; the slug is the stable identifier
        return str(item.get("slug") or item.get("name") or "")
    return "" if item is None else str(item)


_CONVERT: dict[Kind, Callable[[list[object], str, InvalidValue], pd.Series]] = {
    "text": _text,
    "bool": _bool,
    "int": _int,
    "timestamp": _timestamp,
    "list": _list,
}


def format_timestamp(value: pd.Timestamp) -> str:
    """``2021-12-20T17:19:58.88296Z``: UTC, "Z", fraction without trailing zeros (the Hub's own style)."""
    value = value.tz_convert("UTC") if value.tzinfo else value.tz_localize("UTC")
    fraction = f"{value.microsecond * 1000 + value.nanosecond:09d}".rstrip("0")
    return value.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def is_canonical_timestamp(value: str) -> bool:
    return _CANONICAL_MATCH(value) is not None
