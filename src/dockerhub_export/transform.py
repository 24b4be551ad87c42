"""API records to one typed pandas frame, with a declared schema shared by the CSV and the snapshots.

The reference doc's six columns come first and in its order; the other fields the API gives follow.
In the frame, unknown stays unknown (``<NA>``): the CSV decides how to spell it (the doc writes a null
count as 0), the snapshot store keeps it NULL.
"""

import logging
import re
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

# RFC 3339 in UTC with "Z" and 0-9 fraction digits: kept exactly as the Hub wrote it (so the CSV equals
# the reference script's output); anything else that parses is rewritten in this form.
_CANONICAL = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z"
_TRUE = {"true", "1", "t", "yes"}
_FALSE = {"false", "0", "f", "no"}

InvalidValue = Callable[[int, str, object], None]
"""Told about each value that cannot be read: (row index, column, raw value)."""


def _warn_invalid(row: int, column: str, value: object) -> None:
    log.warning("repository #%d: unreadable %s %r, written as empty", row + 1, column, value)


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
    rows = list(records)
    data: dict[str, pd.Series] = {}
    for column in SCHEMA:
        raw = [row.get(column.name) for row in rows]
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
    text = pd.Series([None if _blank(value) else str(value).strip() for value in raw], dtype="string")
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    bad = text.notna() & parsed.isna()
    for row in bad[bad].index:
        on_invalid(int(row), name, text[row])
    text = text.mask(bad)
    rewrite = text.notna() & ~text.str.fullmatch(_CANONICAL).fillna(False).astype(bool)
    if rewrite.any():
        text = text.mask(rewrite, parsed[rewrite].map(format_timestamp))
    return text


def _list(raw: list[object], name: str, on_invalid: InvalidValue) -> pd.Series:
    out: list[str | None] = []
    for value in raw:
        if value is None:
            out.append(None)
        elif isinstance(value, list):
            items = [_list_item(item) for item in value]
            out.append(";".join(item for item in items if item))
        else:
            out.append(str(value))
    return pd.Series(out, dtype="string")


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
    return re.fullmatch(_CANONICAL, value) is not None
