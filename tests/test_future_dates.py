"""A snapshot date after today (UTC) is refused by `run`, by the flows' `parse_snapshot_date` and by
`backfill`: a night cannot be known before it happens, and a future tag night blocks the real ones."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import typer
from conftest import invoke
from dbs import ORG, frame, repo

from dockerhub_export import csv_output
from dockerhub_export.errors import BackfillError, ConfigError
from dockerhub_export.resources import REPOSITORIES
from dockerhub_export.settings import parse_snapshot_date


def today() -> date:
    return datetime.now(UTC).date()


def test_run_with_a_snapshot_date_two_days_ahead_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    ahead = today() + timedelta(days=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKERHUB_", "PREFECT_API_URL"))}
    env.update(DOCKERHUB_TOKEN="t", PREFECT_HOME=str(tmp_path / "prefect-home"))
    args = ["run", "--org", ORG, "--tags", "--snapshot-date", ahead.isoformat(), "--output-dir", "out"]
    result = subprocess.run(
        [sys.executable, "-m", "dockerhub_export", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"error: snapshot date {ahead} is in the future (today is {today()} in UTC): give today's date "
        "or an earlier one, or none for today"
    ]
    assert not (tmp_path / "out").exists() and not list(tmp_path.rglob("*.db"))


@pytest.mark.parametrize(
    "value", [lambda: today() + timedelta(days=1), lambda: str(today() + timedelta(days=1))]
)
def test_parse_snapshot_date_refuses_tomorrow_as_a_date_or_text(value) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="is in the future"):
        parse_snapshot_date(value())


def test_parse_snapshot_date_takes_today_and_the_past() -> None:
    assert parse_snapshot_date(today().isoformat()) == today() == parse_snapshot_date(None)
    assert parse_snapshot_date(date(2020, 2, 29)) == date(2020, 2, 29)


def test_backfill_names_a_future_dated_file_and_imports_the_others(app: typer.Typer, tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    ahead = today() + timedelta(days=2)
    for day in (date(2025, 1, 1), ahead):
        csv_output.write_csv(frame(repo("web", pulls=1)), folder / f"repos-{day}.csv", REPOSITORIES)
    result = invoke(app, "backfill", str(folder), "--org", ORG, "--output-dir", str(tmp_path / "exports"))
    assert isinstance(result.exception, BackfillError)
    message = str(result.exception)
    assert message.startswith("imported 1 file (1 row); 1 malformed, not imported: ")
    assert f"repos-{ahead}.csv: snapshot date {ahead} is in the future (today is {today()} in UTC)" in message
    exports = ("--output-dir", str(tmp_path / "exports"))
    history = invoke(app, "history", "--org", ORG, "--repo", "web", "--format", "csv", *exports)
    assert "2025-01-01" in history.stdout and str(ahead) not in history.stdout
