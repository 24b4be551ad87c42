"""What the commands share at the edge: their common options (Typer annotations) and the one place
where options become `Settings`. No heavy imports: ``--help`` must stay fast."""

import enum
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .errors import ConfigError

if TYPE_CHECKING:
    import sqlalchemy as sa

    from .settings import Settings

OrgOption = Annotated[
    str | None, typer.Option("--org", help="Docker Hub organization (namespace). Default: DOCKERHUB_ORG.")
]
OutputDirOption = Annotated[
    Path | None,
    typer.Option(
        "--output-dir",
        help="Folder for <org>/repos-<date>.csv and snapshots.db (the default database). "
        "Default: EXPORT_DIR or ./exports.",
    ),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the snapshot database. "
        "Default: SNAPSHOT_DATABASE_URL, else SQLite under the output dir.",
    ),
]
SinceOption = Annotated[str | None, typer.Option("--since", help="First day, YYYY-MM-DD (inclusive).")]
UntilOption = Annotated[str | None, typer.Option("--until", help="Last day, YYYY-MM-DD (inclusive).")]


class Format(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


FormatOption = Annotated[
    Format,
    typer.Option("--format", case_sensitive=False, help="table (for people), csv or json (to stdout)."),
]


def settings_from(org: str | None, output_dir: Path | None, database_url: str | None) -> "Settings":
    """The environment and ``.env`` under these options (the store commands' settings)."""
    from .settings import Settings

    return Settings.load(org=org, export_dir=output_dir, snapshot_database_url=database_url)


@contextmanager
def open_existing(settings: "Settings") -> Iterator["sa.Engine"]:
    """The engine of the existing snapshot database of a query command (upgraded if older; never created),
    disposed of after the block.

    The command's imports are done by now, so they leave the cyclic GC's generations: otherwise its full
    passes walk SQLAlchemy's and pydantic's objects again and again while tens of thousands of rows are
    read, ~0.15 s of a command that should take well under a second.
    """
    from . import store

    gc.freeze()
    engine = store.open_engine(store.database_url(settings), create=False)
    try:
        yield engine
    finally:
        engine.dispose()


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"invalid {option} {value!r}: use YYYY-MM-DD, e.g. 2026-01-31") from None
