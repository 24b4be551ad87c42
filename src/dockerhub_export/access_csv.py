"""The access review's dated CSVs, from one `access.AccessNight`: ``members-``, ``permissions-``,
``access-`` and ``tokens-<YYYY-MM-DD>.csv`` under ``<export_dir>/<org>/``.

Written like every CSV of the tool (`csv_output.write_csv`: atomic, jq ``@csv`` spelling, formulas
neutralised; timestamps typed by `transform`, so spelled as the repositories' CSV spells them). The
members and access files hold personal data (emails, who may do what): mode 0600 from their first byte.
A listing the night does not have writes no file (no data is not an empty org).
"""

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import access
from .csv_output import csv_path, write_csv
from .resources import ACCESS_TOKENS, MEMBERS, REPOSITORY_GROUPS, TableResource
from .schema import ACCESS_COLUMNS, Columns, Schema
from .transform import from_columns

if TYPE_CHECKING:
    import pandas as pd

# Derived from the members and the permissions, never read from the Hub: declared for its schema and its
# CSV name, which are all `csv_path` and `write_csv` read.
EFFECTIVE_ACCESS = TableResource(
    name="access rows",
    item="access row",
    path="",
    key="username",
    schema=ACCESS_COLUMNS,
    csv_stem="access",
    forbidden=f"{MEMBERS.forbidden}, and {REPOSITORY_GROUPS.forbidden}",
)
PRIVATE = frozenset({MEMBERS.csv_stem, EFFECTIVE_ACCESS.csv_stem})  # personal data: mode 0600


def access_frames(
    night: access.AccessNight, repositories: Iterable[access.Repository], org: str
) -> list[tuple[TableResource, "pd.DataFrame"]]:
    """Each CSV the night has data for, as its resource and its typed frame, in the order written."""
    frames: list[tuple[TableResource, pd.DataFrame]] = []
    if night.members is not None:
        rows = [_member_row(member) for member in night.members]
        frames.append((MEMBERS, _frame(rows, MEMBERS.schema, org)))
    if night.grants is not None:
        rows = [
            {"repository": g.repository, "team": g.team, "permission": g.permission} for g in night.grants
        ]
        frames.append((REPOSITORY_GROUPS, _frame(rows, REPOSITORY_GROUPS.schema, org)))
    effective = access.effective_access(night, repositories)
    if effective is not None:
        rows = [{**row.as_dict(), "teams": list(row.teams)} for row in effective]
        frames.append((EFFECTIVE_ACCESS, _frame(rows, EFFECTIVE_ACCESS.schema, org)))
    if night.tokens is not None:
        rows = [_token_row(token) for token in night.tokens]
        frames.append((ACCESS_TOKENS, _frame(rows, ACCESS_TOKENS.schema, org)))
    return frames


def write_access_csvs(
    night: access.AccessNight,
    repositories: Iterable[access.Repository],
    export_dir: Path,
    org: str,
    snapshot_date: date | None = None,
    *,
    safe: bool = True,
) -> list[Path]:
    """Write the night's access CSVs (dated ``snapshot_date``, default the night's date); their paths.
    ``safe``: spreadsheet formulas neutralised in text cells (full names are anyone's input)."""
    when = snapshot_date or night.night
    return [
        write_csv(
            frame,
            csv_path(export_dir, org, when, resource),
            resource,
            safe=safe,
            private=resource.csv_stem in PRIVATE,
        )
        for resource, frame in access_frames(night, repositories, org)
    ]


def _member_row(member: access.Member) -> dict[str, Any]:
    row = member.as_dict()
    row["teams"] = list(member.teams)
    return row


def _token_row(token: access.Token) -> dict[str, Any]:
    row = token.as_dict()
    row["resources"] = access.resources_text(token)
    return row


def _frame(rows: list[dict[str, Any]], schema: Schema, org: str) -> "pd.DataFrame":
    columns: Columns = {name: [row.get(name) for row in rows] for name in schema.names}
    columns["namespace"] = [org] * len(rows)
    return from_columns(columns, schema)
