"""The nightly run's report: `run --report` (the flows' ``report``) writes <out>/<org>/report-<date>.html
as its last stage, once the night is stored, and prints its path after the CSVs'. Without a database,
or when the page cannot be written, the run still succeeds with one warning and keeps the night."""

import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from conftest import ORG, REPO_COUNT, TOKEN
from fakehub import FakeHub

from dockerhub_export import report, store
from dockerhub_export.pipeline import RunOptions, export

NIGHTS = (date(2026, 11, 26), date(2026, 11, 27))
EXE = [sys.executable, "-m", "dockerhub_export"]
MADE_AT = re.compile(r"on \d{1,2} \w+ \d{4}, \d\d:\d\d UTC from the snapshot database")


def _cli(args: list[str], cwd: Path, hub: FakeHub) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKERHUB_", "PREFECT_API_URL"))}
    env.update(DOCKERHUB_API_URL=hub.url, DOCKERHUB_TOKEN=TOKEN, PREFECT_HOME=str(cwd / "prefect-home"))
    return subprocess.run(EXE + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def _run(hub: FakeHub, tmp_path: Path, night: date, *flags: str) -> subprocess.CompletedProcess[str]:
    out = tmp_path / "out"
    args = ["run", "--org", ORG, "--output-dir", str(out), "--snapshot-date", night.isoformat(), *flags]
    result = _cli(args, tmp_path, hub)
    assert result.returncode == 0, result.stderr
    return result


def test_run_report_writes_the_nights_page_and_prints_its_path_after_the_csv(
    hub: FakeHub, tmp_path: Path
) -> None:
    out = tmp_path / "out" / ORG
    _run(hub, tmp_path, NIGHTS[0], "--report")
    hub.repos[ORG][0]["pull_count"] += 1000  # a mover, so that the second night's page has one
    result = _run(hub, tmp_path, NIGHTS[1], "--report")
    page = out / "report-2026-11-27.html"
    assert result.stdout.splitlines() == [str(out / "repos-2026-11-27.csv"), str(page)]
    assert "warning" not in result.stderr
    text = page.read_text(encoding="utf-8")
    assert f'data-key="repositories" data-value="{REPO_COUNT}"' in text
    assert "compared with" in text and 'id="chart-movers"' in text  # the night before is in the page
    assert (out / "report-2026-11-26.html").is_file()  # the first night had its page too


def test_no_report_and_no_flag_write_no_page_and_print_only_the_csv(hub: FakeHub, tmp_path: Path) -> None:
    out = tmp_path / "out" / ORG
    for night, flags in ((NIGHTS[0], ()), (NIGHTS[1], ("--no-report",))):
        result = _run(hub, tmp_path, night, *flags)
        assert result.stdout.splitlines() == [str(out / f"repos-{night.isoformat()}.csv")]
    assert not list((tmp_path / "out").rglob("*.html"))


def _page_without_its_time(path: Path) -> str:
    return MADE_AT.sub("on <time> from the snapshot database", path.read_text(encoding="utf-8"))


def test_the_nightly_page_is_the_report_of_the_stored_night_on_every_backend(
    hub: FakeHub, settings_for, db_url: str
) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(hub, snapshot_database_url=db_url)
    for night in NIGHTS:
        hub.repos[ORG][1]["pull_count"] += 500
        result = export(settings, RunOptions(night, report=True))
    assert result.report_path == settings.export_dir / ORG / "report-2026-11-27.html"
    assert not result.warnings
    engine = store.open_engine(db_url, create=False)
    try:
        again = report.render(report.build(engine, ORG, NIGHTS[1], now=datetime.now(UTC)))
    finally:
        engine.dispose()
    assert _page_without_its_time(result.report_path) == MADE_AT.sub(
        "on <time> from the snapshot database", again
    )


def test_without_a_database_the_report_is_one_warning_and_no_page(hub: FakeHub, settings_for) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(hub)
    result = export(settings, RunOptions(NIGHTS[0], write_snapshots=False, report=True))
    assert result.report_path is None and result.csv_path.is_file()
    assert [w for w in result.warnings if "report" in w] == list(result.warnings)
    assert len(result.warnings) == 1 and "--no-db" in result.warnings[0]
    assert not list(settings.export_dir.rglob("*.html"))


def test_a_page_that_cannot_be_written_is_a_warning_and_the_night_stays_stored(
    hub: FakeHub, settings_for, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(hub)
    blocked = settings.export_dir / ORG / "report-2026-11-26.html"
    (blocked / "in-the-way").mkdir(parents=True)  # a folder where the page goes: the write fails
    result = export(settings, RunOptions(NIGHTS[0], report=True))
    assert result.report_path is None and blocked.is_dir()
    (warning,) = result.warnings
    assert warning.startswith(f"no report: cannot write the report {blocked}")
    assert f"dockerhub-export report --org {ORG} --date 2026-11-26" in warning
    assert result.csv_path.is_file()
    engine = sa.create_engine(f"sqlite:///{settings.export_dir / 'snapshots.db'}")
    try:
        with engine.connect() as connection:
            stored = connection.execute(sa.text("select count(*) from repository_snapshots")).scalar()
            status, warnings = connection.execute(sa.text("select status, warnings from export_runs")).one()
    finally:
        engine.dispose()
    assert stored == REPO_COUNT and status == "success"  # the night is kept, and the run succeeded
    assert json.loads(warnings) == [warning]


def test_the_summary_names_the_page_in_one_row_only_when_there_is_one(hub: FakeHub, settings_for) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from dockerhub_export.flows.summary import summary_markdown

    result = export(settings_for(hub), RunOptions(NIGHTS[0], report=True))
    assert result.report_path is not None
    text, without = summary_markdown(result), summary_markdown(replace(result, report_path=None))
    assert [line for line in text.splitlines() if line.startswith("| Report |")] == [
        f"| Report | `{result.report_path}` |"
    ]
    assert "| Report |" not in without
    # the row is all the page adds to the summary, which stays short
    assert [line for line in text.splitlines() if not line.startswith("| Report |")] == without.splitlines()
