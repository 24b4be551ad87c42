"""A typed frame checked and turned into the store's input: plain column lists of driver values."""

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from ..errors import StoreError
from ..schema import Schema
from ..timestamps import timestamp_texts

if TYPE_CHECKING:
    import pandas as pd


def repeated(keys: Sequence[Any]) -> list[str]:
    """The keys that occur more than once, sorted (a rewrite would silently keep one of them)."""
    if len(set(keys)) == len(keys):
        return []
    return sorted(str(key) for key, times in Counter(keys).items() if times > 1)


def frame_keys(org: str, frame: "pd.DataFrame", schema: Schema, key: str) -> list[Any]:
    """The frame's ``key`` column as a list, the frame checked first: every column of ``schema``, every
    row of namespace ``org``, keys present and unique. Its other columns: `driver_columns`."""
    missing = [name for name in schema.names if name not in frame.columns]
    if missing:
        raise StoreError(f"cannot store the snapshot: the frame lacks columns {', '.join(missing)}")
    keys = frame[key]
    if keys.isna().any() or keys.eq("").any():
        raise StoreError(f"cannot store the {org} snapshot: a repository without a {key}")
    names: list[Any] = keys.astype(object).tolist()
    repeats = repeated(names)
    if repeats:
        raise StoreError(
            f"cannot store the {org} snapshot: repository names repeat ({', '.join(repeats[:5])})"
        )
    namespaces = frame["namespace"].fillna(org)
    foreign = namespaces[namespaces.ne(org)]
    if len(foreign):
        raise StoreError(
            f"cannot store the {org} snapshot: it holds repositories of namespace {foreign.iloc[0]!r}"
        )
    return names


def driver_columns(
    frame: "pd.DataFrame",
    schema: Schema,
    names: Sequence[str],
    *,
    timestamps: Literal["storage", "text"] = "storage",
) -> dict[str, list[Any]]:
    """Columns of ``frame`` as plain Python lists, None for unknown; timestamps as storage text (for a
    timestamp column) or as the Hub's text (for a text column that keeps them exactly)."""
    columns: dict[str, list[Any]] = {}
    for name in names:
        series = frame[name]
        values = series.astype(object).where(series.notna(), None).tolist()
        columns[name] = (
            timestamp_texts(values)
            if schema.kinds[name] == "timestamp" and timestamps == "storage"
            else values
        )
    return columns


def private_count(frame: "pd.DataFrame") -> int:
    return int(frame["is_private"].eq(True).sum())
