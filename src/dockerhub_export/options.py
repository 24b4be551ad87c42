"""Command-line options shared by `cli` and `queries_cli` (Typer annotations; no heavy imports)."""

from pathlib import Path
from typing import Annotated, Optional

import typer

OrgOption = Annotated[
    Optional[str], typer.Option("--org", help="Docker Hub organization (namespace). Default: DOCKERHUB_ORG.")
]
OutputDirOption = Annotated[
    Optional[Path],
    typer.Option(
        "--output-dir",
        help="Folder for <org>/repos-<date>.csv and snapshots.db (the default database). Default: EXPORT_DIR or ./exports.",
    ),
]
DatabaseUrlOption = Annotated[
    Optional[str],
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the snapshot database. Default: SNAPSHOT_DATABASE_URL, else SQLite under the output dir.",
    ),
]
