"""`dockerhub-export`: the command line. A veneer: parse, build `Settings`, call one function.

Start-up stays lean (``--help`` well under half a second): Prefect, pandas, httpx and SQLAlchemy are
imported inside the commands that need them, and the query commands never import Prefect.

``run`` runs `pipeline.export` either as a run of the Prefect flow ``export-repositories`` (when a
Prefect server is configured, or with ``--prefect``) or in this process (no server, or
``--no-prefect``): the same stages in the same order, so the same outputs, run log and errors.
"""

import gc
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from . import __version__
from .console import console_story
from .errors import ExportError
from .options import DatabaseUrlOption, OrgOption, OutputDirOption

app = typer.Typer(
    name="dockerhub-export",
    help="Export every repository of a Docker Hub organization to a dated CSV and daily SQL snapshots.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

log = logging.getLogger("dockerhub_export.run")
_state = {"debug": False}

IN_PROCESS_NOTE = (
    "no Prefect server configured: running in-process, not recorded in a Prefect UI (to record runs, "
    "start one with `prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api; "
    "--prefect uses a temporary server)"
)
_HEARTBEAT_VARIABLES = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


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
    _state["debug"] = _state["debug"] or debug


@app.command()
def run(
    org: OrgOption = None,
    output_dir: OutputDirOption = None,
    snapshot_date: Annotated[
        str | None,
        typer.Option(
            "--snapshot-date", help="Day to file the export under, YYYY-MM-DD. Default: today (UTC)."
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency", help="Parallel page requests, 1-16. Default: DOCKERHUB_CONCURRENCY or 4."
        ),
    ] = None,
    no_db: Annotated[bool, typer.Option("--no-db", help="Write the CSV only, no snapshot.")] = False,
    database_url: DatabaseUrlOption = None,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Accept an org with zero visible repositories.")
    ] = False,
    allow_drop: Annotated[
        bool,
        typer.Option(
            "--allow-drop",
            help="Accept losing the private repositories or more than half of the repositories.",
        ),
    ] = False,
    no_csv_safe: Annotated[
        bool,
        typer.Option(
            "--no-csv-safe", help="Keep text cells verbatim (no neutralising of =, +, -, @ prefixes)."
        ),
    ] = False,
    tags: Annotated[
        bool,
        typer.Option(
            "--tags", help="Also every repository's tags: <org>/tags-<date>.csv and the tag history."
        ),
    ] = False,
    tags_refresh_days: Annotated[
        int,
        typer.Option(
            "--tags-refresh-days",
            min=0,
            help="List a repository's tags at least every N nights, changed or not (0: every night).",
        ),
    ] = 7,
    prefect: Annotated[
        bool | None,
        typer.Option(
            "--prefect/--no-prefect",
            help="Run as a Prefect flow run (a temporary server if none is configured), or in this process. "
            "Default: a flow run when a Prefect server is configured (PREFECT_API_URL or a profile).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and Prefect's own logs.")] = False,
) -> None:
    """Export: fetch every repository, write the dated CSV, upsert the day's snapshot (and the tags)."""
    from .pipeline import RunOptions
    from .prefect_config import configured_prefect_api
    from .settings import Settings, parse_snapshot_date

    _state["debug"] = _state["debug"] or debug
    settings = Settings.load(
        org=org,
        export_dir=output_dir,
        concurrency=concurrency,
        snapshot_database_url=database_url,
        csv_safe=False if no_csv_safe else None,
    )
    # Everything that can be checked locally is checked before Prefect (and perhaps a temporary
    # server) starts: bad input fails in a fraction of a second.
    settings.require_org()
    settings.require_token()
    options = RunOptions(
        snapshot_date=parse_snapshot_date(snapshot_date),
        allow_empty=allow_empty,
        allow_drop=allow_drop,
        write_snapshots=not no_db,
        include_tags=tags,
        tags_refresh_days=tags_refresh_days,
    )
    as_flow_run = configured_prefect_api() is not None if prefect is None else prefect
    result = _run_flow(settings, options) if as_flow_run else _run_in_process(settings, options)
    for warning in result.get("warnings", []):
        typer.echo(f"warning: {warning}", err=True)
    for path in result["csv_paths"]:
        typer.echo(path)


def _run_in_process(settings: Any, options: Any) -> dict[str, Any]:
    with console_story(_state["debug"]):
        log.info(IN_PROCESS_NOTE)
        from .pipeline import export

        gc.freeze()  # see _run_flow
        result: dict[str, Any] = export(settings, options)
        return result


def _run_flow(settings: Any, options: Any) -> dict[str, Any]:
    _prepare_prefect_environment(_state["debug"])
    with console_story(_state["debug"]):
        from .flows.export_repositories import run_with_settings

        # The ~200,000 objects of Prefect, pandas and SQLAlchemy live as long as this process: out of
        # the collector's sight, a full collection no longer walks them (0.14 s each, several a run).
        gc.freeze()
        try:
            with _without_heartbeats():
                result: dict[str, Any] = run_with_settings(settings, options)
                return result
        except ExportError:
            raise
        except Exception as exc:  # Prefect or its server, not our library: still one line
            if _state["debug"]:
                raise
            raise ExportError(_prefect_failure(exc)) from exc


@contextmanager
def _without_heartbeats() -> Iterator[None]:
    """No flow-run heartbeats for a command-line run, unless the user configured them.

    Prefect's heartbeat thread sleeps in whole seconds and the end of a run joins it: up to 1 s
    (0.5 s on average) added to every run, for crash detection that matters to unattended worker
    runs (deployments keep it); here the exit status and the run log tell the outcome.
    """
    if any(variable in os.environ for variable in _HEARTBEAT_VARIABLES):
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def _prefect_failure(exc: BaseException) -> str:
    api = os.environ.get("PREFECT_API_URL")
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if api and ("connect" in text.lower() or "connect" in type(exc).__name__.lower()):
        return (
            f"cannot reach the Prefect server at {api}: start it (prefect server start) or unset "
            "PREFECT_API_URL"
        )
    return f"the flow run failed: {type(exc).__name__}: {text} (rerun with --debug for details)"


def _prepare_prefect_environment(debug: bool) -> None:
    """Prefect settings for a command-line run; anything the user set explicitly wins."""
    quiet = {
        # The terminal tells the run's own story (console_story); Prefect's console output,
        # the temporary server's logs and its shutdown noise stay out of it.
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
        "PREFECT_LOGGING_HANDLERS_DEBUG_LEVEL": "CRITICAL",
        "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
        # Without PREFECT_API_URL Prefect starts a temporary server; on a fresh PREFECT_HOME its
        # migrations alone can outlast the default 20 s on a small machine.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        # Offline machines: telemetry would only fail and log about it.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    for key, value in quiet.items():
        if debug and "LEVEL" in key:
            continue
        os.environ.setdefault(key, value)


def _register_commands() -> None:
    from . import audit_cli, backfill_cli, db_cli, queries_cli, tags_cli

    for module in (db_cli, queries_cli, tags_cli, audit_cli, backfill_cli):
        module.register(app)


_register_commands()


def main() -> None:
    """Console-script entry point: library errors become one line on stderr and a non-zero exit."""
    try:
        app()
    except ExportError as exc:
        if _state["debug"]:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None


__all__ = ["app", "main"]
