"""``report``: one night of an org as a self-contained HTML page, for people who open, forward and print
it (`dockerhub_export.report`). Prints the page's path on stdout, like the export's CSV paths.
"""

from pathlib import Path
from typing import Annotated

import typer

from .options import DatabaseUrlOption, OrgOption, OutputDirOption, open_existing, parse_day, settings_from

DAYS = 30  # as `report.DAYS`; here so that --help does not import the library


def register(app: typer.Typer) -> None:
    """Add ``report`` to ``app``."""
    app.command("report")(report)


def report(
    org: OrgOption = None,
    night: Annotated[
        str | None,
        typer.Option(
            "--date", help="The night, YYYY-MM-DD, one with a snapshot. Default: the newest snapshot."
        ),
    ] = None,
    days: Annotated[
        int,
        typer.Option(
            "--days", min=1, help="Compare the night with the first snapshot of the N days before it."
        ),
    ] = DAYS,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="The HTML file to write. Default: <output dir>/<org>/report-<date>.html."
        ),
    ] = None,
    output_dir: OutputDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """One night of an org as one HTML page: headline figures and their change over --days, pulls and top
    movers, repositories added, removed and flipped (who and when), storage and stale tags, access, and
    which data the night lacks.

    The page is self-contained (CSS and charts inline, nothing fetched), so it opens from an email
    attachment with no network, reads on a phone and prints cleanly.
    """
    from .. import report as pages

    settings = settings_from(org, output_dir, database_url)
    org_name = settings.require_org()
    asked = parse_day(night, "--date")
    with open_existing(settings) as engine:
        built = pages.build(engine, org_name, asked, days)
    path = output if output is not None else pages.page_path(settings.export_dir, org_name, built.night)
    typer.echo(pages.write(built, path))
