"""`dockerhub-export run`: settings from the flags, then `pipeline.export`, as a Prefect flow run when a
server is configured (or with ``--prefect``), else in this process. Prefect, pandas, httpx and
SQLAlchemy are imported only once the command runs."""

import gc
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import ExportError
from .console import console_story
from .options import DatabaseUrlOption, OrgOption, OutputDirOption, option_values, with_option_flags
from .state import state

if TYPE_CHECKING:
    from ..results import RunResult
    from ..run_options import RunOptions
    from ..settings import Settings

log = logging.getLogger("dockerhub_export.run")

IN_PROCESS_NOTE = (
    "no Prefect server configured: running in-process, not recorded in a Prefect UI (to record runs, "
    "start one with `prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api; "
    "--prefect uses a temporary server)"
)
_HEARTBEAT_VARIABLES = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


def run(
    org: OrgOption = None,
    output_dir: OutputDirOption = None,
    snapshot_date: Annotated[
        str | None,
        typer.Option(
            "--snapshot-date", help="Day to file the export under, YYYY-MM-DD. Default: today (UTC)."
        ),
    ] = None,
    database_url: DatabaseUrlOption = None,
    prefect: Annotated[
        bool | None,
        typer.Option(
            "--prefect/--no-prefect",
            help="Run as a Prefect flow run (a temporary server if none is configured), or in this process. "
            "Default: a flow run when a Prefect server is configured (PREFECT_API_URL or a profile).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and Prefect's own logs.")] = False,
    **flags: Any,
) -> None:
    """Export: fetch every repository, write the dated CSV, upsert the day's snapshot (and the tags)."""
    from ..run_options import split
    from ..settings import Settings, parse_snapshot_date
    from .prefect_config import configured_prefect_api

    state.debug = state.debug or debug
    options, overrides = split(option_values(flags), parse_snapshot_date(snapshot_date))
    settings = Settings.load(org=org, export_dir=output_dir, snapshot_database_url=database_url, **overrides)
    # Everything that can be checked locally is checked before Prefect (and perhaps a temporary
    # server) starts: bad input fails in a fraction of a second.
    settings.require_org()
    settings.require_token()
    as_flow_run = configured_prefect_api() is not None if prefect is None else prefect
    result = _run_flow(settings, options) if as_flow_run else _run_in_process(settings, options)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    for path in result.csv_paths:
        typer.echo(path)
    if result.report_path is not None:
        typer.echo(result.report_path)


def _run_in_process(settings: "Settings", options: "RunOptions") -> "RunResult":
    with console_story(state.debug):
        log.info(IN_PROCESS_NOTE)
        from ..pipeline import export

        gc.freeze()  # see _run_flow
        return export(settings, options)


def _run_flow(settings: "Settings", options: "RunOptions") -> "RunResult":
    _prepare_prefect_environment(state.debug)
    with console_story(state.debug):
        from ..flows.export_repositories import run_with_settings

        # The ~200,000 objects of Prefect, pandas and SQLAlchemy live as long as this process: out of
        # the collector's sight, a full collection no longer walks them (several a run; docs/benchmarks.md).
        gc.freeze()
        try:
            with _without_heartbeats():
                result: RunResult = run_with_settings(settings, options)
                return result
        except ExportError:
            raise
        except Exception as exc:  # Prefect or its server, not our library: still one line
            if state.debug:
                raise
            raise ExportError(_prefect_failure(exc)) from exc


@contextmanager
def _without_heartbeats() -> Iterator[None]:
    """No flow-run heartbeats for a command-line run, unless the user configured them.

    Prefect's heartbeat thread sleeps in whole seconds and the end of a run joins it: up to 1 s
    (half a second on average) added to every run, for crash detection that matters to unattended worker
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


def register(app: typer.Typer) -> None:
    app.command()(with_option_flags(run))
