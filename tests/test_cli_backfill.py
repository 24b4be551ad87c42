"""backfill_cli: `backfill` through Typer, as a user runs it."""

import json
from pathlib import Path

import typer
from conftest import invoke
from dbs import ORG, frame, repo

from dockerhub_export import csv_output
from dockerhub_export.resources import REPOSITORIES


def test_backfill_command_imports_a_folder(app: typer.Typer, tmp_path: Path) -> None:
    exports = tmp_path / "exports" / ORG
    exports.mkdir(parents=True)
    csv_output.write_csv(frame(repo("web", pulls=1)), exports / "repos-2025-01-01.csv", REPOSITORIES)
    csv_output.write_csv(frame(repo("web", pulls=9)), exports / "repos-2025-01-02.csv", REPOSITORIES)
    (exports / "repos.csv").write_text("x\n")
    result = invoke(app, "backfill", str(exports), "--org", ORG, "--output-dir", str(tmp_path / "exports"))
    assert result.exit_code == 0, result.output
    assert "imported 2 files (2 rows) of acme into sqlite:///" in result.stdout
    assert "ignored 1 CSV file not named repos-YYYY-MM-DD.csv: repos.csv" in result.stderr
    history = invoke(
        app,
        "history",
        "--org",
        ORG,
        "--repo",
        "web",
        "--format",
        "json",
        "--output-dir",
        str(tmp_path / "exports"),
    )
    assert [row["pull_count"] for row in json.loads(history.stdout)] == [1, 9]
