"""`dockerhub-export`: the command line. A veneer: parse, build `Settings`, call one function.

Start-up stays lean (``--help`` well under half a second): Prefect, pandas, httpx and SQLAlchemy are
imported inside the commands that need them, and the query commands never import Prefect.

One module a command group: `run` (the export), `queries` (history, trends), `tags` (stale, storage),
`audit`, `access` (members, access, tokens, access-changes), `report` (the HTML page), `db`,
`backfill`; what they share: `options` (flags, settings, the database), `output` (the one renderer:
table, csv or json), `console` (the run's story on stderr), `state` (--debug).
"""

import sys
from typing import Annotated

import typer

from .. import __version__
from ..errors import ExportError
from .state import state

app = typer.Typer(
    name="dockerhub-export",
    help="Export every repository of a Docker Hub organization to a dated CSV and daily SQL snapshots.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dockerhub-export {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and Prefect's own logs.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Export every repository of a Docker Hub organization to a dated CSV and daily SQL snapshots."""
    state.debug = state.debug or debug


def _register_commands() -> None:
    from . import access, audit, backfill, db, queries, report, run, tags

    for module in (run, db, queries, tags, audit, access, report, backfill):
        module.register(app)


_register_commands()


def main() -> None:
    """Console-script entry point: library errors become one line on stderr and a non-zero exit."""
    try:
        app()
    except ExportError as exc:
        if state.debug:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None


__all__ = ["app", "main"]
