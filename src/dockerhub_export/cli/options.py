"""What the commands share at the edge: their common options (Typer annotations) and the one place
where options become `Settings`. No heavy imports: ``--help`` must stay fast."""

import gc
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import ConfigError
from .output import Format

if TYPE_CHECKING:
    import sqlalchemy as sa

    from ..run_options import Option
    from ..settings import Settings

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


FormatOption = Annotated[
    Format,
    typer.Option("--format", case_sensitive=False, help="table (for people), csv or json (to stdout)."),
]


def settings_from(org: str | None, output_dir: Path | None, database_url: str | None) -> "Settings":
    """The environment and ``.env`` under these options (the store commands' settings)."""
    from ..settings import Settings

    return Settings.load(org=org, export_dir=output_dir, snapshot_database_url=database_url)


@contextmanager
def open_existing(settings: "Settings") -> Iterator["sa.Engine"]:
    """The engine of the existing snapshot database of a query command (upgraded if older; never created),
    disposed of after the block.

    The command's imports are done by now, so they leave the cyclic GC's generations: otherwise its full
    passes walk SQLAlchemy's and pydantic's objects again and again while tens of thousands of rows are
    read, a visible share of a command that should take well under a second (docs/benchmarks.md).
    """
    from .. import store

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


def _flag(item: "Option") -> inspect.Parameter:
    """The command-line flag of one declared option, as a Typer parameter."""
    text = item.flag_help or item.help
    if item.inverted:  # present: the option is off; absent: its default (perhaps the environment's)
        annotation: Any = Annotated[bool, typer.Option(item.flag, help=text)]
        default: Any = False
    elif item.setting or item.minimum is None:  # a setting's bounds are checked by Settings, in its words
        annotation, default = Annotated[item.annotation, typer.Option(item.flag, help=text)], item.default
    else:
        option = typer.Option(item.flag, min=item.minimum, max=item.maximum, help=text)
        annotation, default = Annotated[item.annotation, option], item.default
    return inspect.Parameter(
        item.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def with_option_flags(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` (which takes ``**flags``) with a flag for every declared run option, in its signature
    where Typer reads it: the flags come from `run_options`, not from a copy here."""
    from ..run_options import OPTIONS

    signature = inspect.signature(command)
    own = [
        parameter for parameter in signature.parameters.values() if parameter.kind != parameter.VAR_KEYWORD
    ]
    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=own + [_flag(item) for item in OPTIONS]
    )
    return command


def option_values(flags: dict[str, Any]) -> dict[str, Any]:
    """The flags' values as option values: an inverted flag given turns its option off."""
    from ..run_options import OPTIONS

    values = {}
    for item in OPTIONS:
        given = flags[item.name]
        values[item.name] = (False if given else item.default) if item.inverted else given
    return values
