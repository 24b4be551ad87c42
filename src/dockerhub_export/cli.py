"""`dockerhub-export`: the command line. A veneer: parse, build `Settings`, call one function.

Start-up stays lean (``--help`` well under half a second): Prefect, pandas, httpx and SQLAlchemy are
imported inside the commands that need them, and the query commands never import Prefect.
"""

import gc
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Optional

import typer

from . import __version__
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

_state = {"debug": False}


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
        Optional[str], typer.Option("--snapshot-date", help="Day to file the export under, YYYY-MM-DD. Default: today (UTC).")
    ] = None,
    concurrency: Annotated[
        Optional[int], typer.Option("--concurrency", help="Parallel page requests, 1-16. Default: DOCKERHUB_CONCURRENCY or 4.")
    ] = None,
    no_db: Annotated[bool, typer.Option("--no-db", help="Write the CSV only, no snapshot.")] = False,
    database_url: DatabaseUrlOption = None,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Accept an org with zero visible repositories.")
    ] = False,
    allow_drop: Annotated[
        bool,
        typer.Option("--allow-drop", help="Accept losing the private repositories or more than half of the repositories."),
    ] = False,
    no_csv_safe: Annotated[
        bool,
        typer.Option("--no-csv-safe", help="Keep text cells verbatim (no neutralising of =, +, -, @ prefixes)."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and Prefect's own logs.")] = False,
) -> None:
    """Run the export flow: fetch every repository, write the dated CSV, upsert the day's snapshot."""
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
    org_name = settings.require_org()
    settings.require_token()
    day = parse_snapshot_date(snapshot_date)
    if database_url:
        os.environ["SNAPSHOT_DATABASE_URL"] = database_url  # the flow reads it from the environment, never as a parameter
    result = _run_flow(
        org=org_name,
        output_dir=str(settings.export_dir),
        snapshot_date=day,
        concurrency=settings.concurrency,
        allow_empty=allow_empty,
        allow_drop=allow_drop,
        write_snapshots=not no_db,
        csv_safe=settings.csv_safe,
    )
    for warning in result.get("warnings", []):
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(result["csv_path"])


def _run_flow(**parameters: Any) -> dict[str, Any]:
    _prepare_prefect_environment(_state["debug"])
    with _console_story(_state["debug"]):
        from flows.export_repositories import export_repositories

        # The ~200,000 objects of Prefect, pandas and SQLAlchemy live as long as this process: out of
        # the collector's sight, a full collection no longer walks them (0.14 s each, several a run).
        gc.freeze()
        try:
            with _without_heartbeats():
                return export_repositories(**parameters)
        except ExportError:
            raise
        except Exception as exc:  # Prefect or its server, not our library: still one line
            if _state["debug"]:
                raise
            raise ExportError(_prefect_failure(exc)) from exc


_HEARTBEAT_VARIABLES = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


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
        return f"cannot reach the Prefect server at {api}: start it (prefect server start) or unset PREFECT_API_URL"
    return f"the flow run failed: {type(exc).__name__}: {text} (rerun with --debug for details)"


def _prepare_prefect_environment(debug: bool) -> None:
    """Prefect settings for a command-line run; anything the user set explicitly wins."""
    quiet = {
        # The terminal tells the run's own story (our handler below); Prefect's console output,
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


class _StoryHandler(logging.Handler):
    """Our log lines on stderr: a progress bar on a terminal, concise timestamped lines otherwise."""

    def __init__(self, progress: Any | None) -> None:
        super().__init__(logging.INFO)
        self.progress = progress
        self.task: Any = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.name == "dockerhub_export.progress":
                self._advance(record)
                return
            message = record.getMessage()
            prefix = "warning: " if record.levelno >= logging.WARNING else ""
            if self.progress is not None:
                self.progress.console.print(f"{prefix}{message}", markup=False, highlight=False)
            else:
                stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
                sys.stderr.write(f"{stamp} {prefix}{message}\n")
        except Exception:  # a broken terminal must not break the export
            self.handleError(record)

    def _advance(self, record: logging.LogRecord) -> None:
        if self.progress is None:
            return
        done = getattr(record, "pages_done", 0)
        total = getattr(record, "pages_total", None)
        if self.task is None:
            self.task = self.progress.add_task("pages", total=total)
        self.progress.update(self.task, completed=done, total=total if total else done)


class _console_story:
    """Context manager: route the library's logs to the terminal for the duration of a run."""

    def __init__(self, debug: bool) -> None:
        self.debug = debug
        self.progress: Any = None
        self.handlers: list[tuple[logging.Logger, logging.Handler]] = []

    def __enter__(self) -> "_console_story":
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("fetching pages"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(stderr=True), transient=True,
            )
            self.progress.start()
        handler = _StoryHandler(self.progress)
        for name in ("dockerhub_export", "dockerhub_export.progress"):
            logger = logging.getLogger(name)
            logger.setLevel(logging.DEBUG if self.debug and name == "dockerhub_export" else logging.INFO)
            logger.addHandler(handler)
            self.handlers.append((logger, handler))
        logging.getLogger("dockerhub_export").propagate = self.debug
        return self

    def __exit__(self, *exc_info: object) -> None:
        for logger, handler in self.handlers:
            logger.removeHandler(handler)
        if self.progress is not None:
            self.progress.stop()


def _register_query_commands() -> None:
    try:
        from .queries_cli import register
    except ImportError:  # pragma: no cover - during development before the store lands
        return
    register(app)


_register_query_commands()


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
