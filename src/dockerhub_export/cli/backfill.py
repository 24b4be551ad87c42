"""``backfill``: earlier CSV exports imported as the snapshots of their days."""

from pathlib import Path
from typing import Annotated

import typer

from .console import progress_bar
from .options import DatabaseUrlOption, OrgOption, OutputDirOption, settings_from
from .output import plural


def register(app: typer.Typer) -> None:
    """Add ``backfill`` to ``app``."""
    app.command("backfill")(backfill)


def backfill(
    directory: Annotated[
        Path,
        typer.Argument(help="Folder of repos-YYYY-MM-DD.csv files (this tool's or the reference script's)."),
    ],
    org: OrgOption = None,
    output_dir: OutputDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Import earlier CSV exports as the snapshots of their days; malformed files are named and skipped."""
    from .. import backfill as backfill_module
    from .. import store

    settings = settings_from(org, output_dir, database_url)
    org_name = settings.require_org()
    url = store.database_url(settings)
    engine = store.open_engine(url)
    progress = progress_bar("{task.description}")
    task = progress.add_task("checking files", total=None) if progress is not None else None
    try:

        def advance(name: str, done: int, total: int) -> None:
            if progress is not None:
                progress.update(task, completed=done, total=total, description=name or "done")

        result = backfill_module.backfill(
            engine, org_name, directory, progress=advance, workers=backfill_module.default_workers()
        )
    finally:
        if progress is not None:
            progress.stop()
        engine.dispose()
    imported = f"{plural(result.files, 'file')} ({plural(result.rows, 'row')})"
    typer.echo(f"imported {imported} of {org_name} into {store.redact(url)}")
    if result.skipped:
        skipped = ", ".join(result.skipped)
        count = plural(len(result.skipped), "CSV file")
        typer.echo(f"ignored {count} not named repos-YYYY-MM-DD.csv: {skipped}", err=True)
