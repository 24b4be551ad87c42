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


# -- the access review's CSVs (members-, permissions-, access-, tokens-<date>.csv) -----------------------

_NAMESPACE = Column("namespace", "text", "the organization (Docker Hub namespace)", few_values=True)

MEMBER_COLUMNS = Schema(
    (
        _NAMESPACE,
        Column("username", "text", "the member's Docker ID"),
        Column("full_name", "text", "full name, if the member gave one"),
        Column("email", "text", "email address (personal data: the file is private)"),
        Column("role", "text", "owner, editor, member or invitee (not yet accepted)", few_values=True),
        Column("is_guest", "bool", "true for a guest"),
        Column("teams", "list", "the member's teams, ';'-separated", source="groups"),
        Column("date_joined", "timestamp", "when the member joined (UTC); empty for an invitee"),
    )
)
PERMISSION_COLUMNS = Schema(
    (
        _NAMESPACE,
        Column("repository", "text", "the repository", few_values=True),
        Column("team", "text", "the team granted a permission", few_values=True, source="group_name"),
        Column("permission", "text", "read, write or admin", few_values=True),
    )
)
ACCESS_COLUMNS = Schema(
    (
        _NAMESPACE,
        Column("repository", "text", "the repository", few_values=True),
        Column("username", "text", "who has access", few_values=True),
        Column("permission", "text", "read, write or admin: the highest the user has", few_values=True),
        Column("role", "text", "the user's role: an owner or editor has admin everywhere", few_values=True),
        Column("teams", "list", "the teams granting that permission, ';'-separated", few_values=True),
    )
)
TOKEN_COLUMNS = Schema(
    (
        _NAMESPACE,
        Column("id", "text", "the token's id"),
        Column("label", "text", "the token's label"),
        Column("created_by", "text", "who created it", few_values=True),
        Column("is_active", "bool", "false once deactivated"),
        Column("created_at", "timestamp", "creation time (UTC)"),
        Column("expires_at", "timestamp", "expiry (UTC); empty: never expires"),
        Column("last_used_at", "timestamp", "last use (UTC); empty: never used"),
        Column(
            "resources",
            "text",
            "what it may do: 'TYPE path: scope, scope' per resource, '; '-separated",
        ),
    )
)
