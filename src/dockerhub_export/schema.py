"""A record schema declared as data: named columns with a kind, shared by the frame, the CSV and the store.

Kinds: ``text``; ``bool``; ``int``; ``timestamp`` (RFC 3339 UTC text, kept as the Hub wrote it); ``list``
(a JSON list written as one ``;``-separated string). Light on purpose: no pandas, no SQLAlchemy.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["text", "bool", "int", "timestamp", "list"]

Columns = dict[str, list[Any]]
"""The fields of many records: one list of raw values per column of a schema, all as long."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    doc: str
    few_values: bool = False  # a handful of distinct values across an org: one string object per value
    null_as_zero: bool = False  # the CSV writes an unknown value as 0 (the reference doc's `//0`)
    source: str | None = None  # the API's field, when it is not called `name`
    extract: Callable[[Any], Any] | None = None  # what to make of the API's value (before typing)

    @property
    def api_field(self) -> str:
        return self.source or self.name


@dataclass(frozen=True)
class Schema:
    """Columns in CSV order."""

    columns: tuple[Column, ...]
    names: tuple[str, ...] = field(init=False)
    kinds: dict[str, Kind] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(column.name for column in self.columns))
        object.__setattr__(self, "kinds", {column.name: column.kind for column in self.columns})
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"a schema names a column twice: {self.names}")

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)
