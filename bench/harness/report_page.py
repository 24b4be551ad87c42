"""The HTML report (issue 17): `report` as a whole command on a year of history, and what `--report` adds to
the nightly run.

* scenario ``report-year`` — a year (365 nights) of 10,000 repositories with tags, built once per code by
  `reportyear.py` in a process of that code (the snapshots, audit log and access of `accessyear`, the
  fake Hub's org moved day by day, 1,000 members at 10,000; a tag history of 10 tags a repository, 5 % of
  the tags changing a night, written in bulk) and cached in the temporary folder under a hash of the
  code it depends on, the years of other code deleted (a rebuild takes ~3 min at 10,000 × 365). Per
  repetition: ``report_s``, `dockerhub-export report` of the last night (its default window, 30 days)
  as a new process, the cold start of the CLI included; ``page_mb``, the file it wrote (MB = 10^6
  bytes). Checks: the page's repository count is the last night's, and it holds no script. Targets at
  10,000: ≤ 3 s, ≤ 2 MB (issue 17).
* scenario ``report-run`` — a fake Hub (`reporthub.py`, own process, 60 ms a request) serving the org of
  `tests/hubhistory.py` with 5 tags a repository (every tenth 50) and its access, on its first night,
  then on the next (a day of changes). Each code runs the first night once into a template folder; each
  measured run is the next night into a copy of it (no Prefect server configured: in-process), without
  then with `--report`: ``nightly_s`` / ``nightly_report_s``, the run as the nightly deployments make it
  (`--tags --access`); ``plain_s`` / ``plain_report_s``, the README's plain `run` (from 1,000
  repositories); ``*_stage_s``, the report stage's own seconds, as the run logs them. Checks: the page's
  path is the run's last line of stdout and the page exists; without `--report`, no page. Target at
  20,000: the nightly run with the report ≤ 1.10 × without (median of the paired ratios; issue 17: the
  added time ≤ 10 % of the run). The smoke (60 repositories, no latency): the first night with the
  report only.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.core import Figures, Scenario, Setup, Target, scenario
from harness.tools import (
    BENCH,
    CLI,
    ORG,
    PY,
    TESTS,
    TOKEN,
    Code,
    HubProcess,
    clean_env,
    content_key,
    hub_env,
    run_timed,
)

CACHE = Path(tempfile.gettempdir()) / "dockerhub-export-bench"
BUILDER = BENCH / "harness" / "reportyear.py"
# What the year's database depends on: the store and the rows it is given (the package's parts, the fake
# Hub's history in tests/, the builders here).
YEAR_PARTS = (
    "store",
    "migrations",
    "access.py",
    "transform.py",
    "resources.py",
    "schema.py",
    "timestamps.py",
)
HUB_PARTS = ("hubhistory.py", "hubaccess.py", "hubdata.py", "fakehub.py", "fakehub_changes.py")
BUILDERS = ("accessyear.py", "tagyear.py", "reportyear.py")
FULL_NIGHTS, SMOKE_NIGHTS = 365, 20
TAGS_A_REPOSITORY = 10
REPOSITORIES = re.compile(r'data-key="repositories" data-value="(\d+)"')
STAGE = re.compile(r"wrote the report of \S+ to (.+) \((\d+\.\d+) s\)")
LATENCY = 0.06
HUB_TAGS = 5  # make_tags per repository (every tenth ten times as many), as the README's example
NIGHTLY = ("--tags", "--access")  # what the nightly deployments turn on besides the report
PLAIN_FROM = 1_000  # the plain run's pair from this size on (the smoke measures the nightly one only)


def has_report(code: Code) -> bool:
    """Whether the code has the report (a revision before it: no figures, not a failure)."""
    return (code.tree / "src" / "dockerhub_export" / "report" / "__init__.py").is_file()


# -- report-year ----------------------------------------------------------------------------------------


def nights(size: int) -> int:
    return FULL_NIGHTS if size >= 1_000 else SMOKE_NIGHTS


def code_key(code: Code, size: int) -> str:
    """A hash of what the year's database depends on: the code's store and models, this tree's fake Hub
    history and builders, and the size."""
    package = code.tree / "src" / "dockerhub_export"
    files = [path for part in YEAR_PARTS for path in sorted((package / part).rglob("*.py"))]
    files += [TESTS / name for name in HUB_PARTS] + [BENCH / "harness" / name for name in BUILDERS]
    return content_key(f"{size}/{nights(size)}/{TAGS_A_REPOSITORY}", files)


def year(code: Code, size: int) -> dict[str, Any]:
    """The code's year (built, or from the cache): its database's path and what the build printed."""
    CACHE.mkdir(parents=True, exist_ok=True)
    stem = CACHE / f"report-year-{size}-{code_key(code, size)}"
    database, about = stem.with_suffix(".db"), stem.with_suffix(".json")
    if database.is_file() and about.is_file():
        return {**json.loads(about.read_text(encoding="utf-8")), "path": str(database)}
    building = stem.with_suffix(f".building-{os.getpid()}.db")
    building.unlink(missing_ok=True)
    cmd = [PY, str(BUILDER), "--repos", str(size), "--nights", str(nights(size))]
    cmd += ["--tags", str(TAGS_A_REPOSITORY), "--database-url", f"sqlite:///{building}"]
    print(f"  building the report's year at {size:,} for {code.label} (cached in {CACHE})", flush=True)
    built: dict[str, Any] = json.loads(
        run_timed(cmd, env=code.env(clean_env())).stdout.strip().splitlines()[-1]
    )
    building.replace(database)
    about.write_text(json.dumps(built), encoding="utf-8")
    print(f"  built in {built['build_s']:.0f} s: {built['versions']:,} tag versions", flush=True)
    return {**built, "path": str(database)}


def prune(size: int, keep: set[str]) -> None:
    """Delete the cached years of this size built for other code (each is ~2.2 GB at 10,000 × 365)."""
    for path in CACHE.glob(f"report-year-{size}-*"):
        if path.name.split("-")[3].split(".")[0] not in keep:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def history(size: int, codes: list[Code]) -> Iterator[Setup]:
    work = Path(tempfile.mkdtemp(prefix="bench-report-year-"))
    try:
        prune(size, {code_key(code, size) for code in codes})
        setup = Setup(size, codes, work=work, state={"count": itertools.count()})
        setup.state.update({code.label: year(code, size) if has_report(code) else {} for code in codes})
        for code in codes if size >= 1_000 else ():
            page(setup, code)  # a warm-up: the page cache, the code's first imports
        yield setup
    finally:
        shutil.rmtree(work, ignore_errors=True)


def page(setup: Setup, code: Code) -> Figures:
    built = setup.state[code.label]
    if not built:
        return {}
    path = setup.work / f"report-{code.label}-{next(setup.state['count'])}.html"
    cmd = [CLI, "report", "--org", ORG, "--database-url", f"sqlite:///{built['path']}", "-o", str(path)]
    result = run_timed(cmd, env=code.env(clean_env()), cwd=setup.work)
    text = path.read_text(encoding="utf-8")
    shown = REPOSITORIES.search(text)
    if shown is None or int(shown.group(1)) != built["repositories"] or "<script" in text:
        raise AssertionError(f"the page does not show the last night's {built['repositories']} repositories")
    return {"report_s": result.seconds, "page_mb": path.stat().st_size / 1e6}


REPORT_YEAR = scenario(
    Scenario(
        name="report-year",
        what="`report` as a whole command on a year of nightly history with tags and access, SQLite "
        "(size: repositories; smoke: 20 nights)",
        sizes=(10_000,),
        quick=(2_000,),
        smoke=60,
        project=page,
        setup=history,
        repeats=lambda size: 5 if size >= 10_000 else 3 if size >= 1_000 else 1,
        unit="s, MB",
        targets=(
            Target("report_s", 3.0, at=10_000, why="issue 17: ≤ 3 s as a whole command"),
            Target("page_mb", 2.0, at=10_000, why="issue 17: a file of at most 2 MB"),
        ),
    )
)


# -- report-run -----------------------------------------------------------------------------------------


class ReportHub(HubProcess):
    """`reporthub.py` in a child process: the org of tests/hubhistory.py with tags and access, by day."""

    def __init__(self, repos: int, latency: float) -> None:
        super().__init__(repos, latency)
        self.command = [PY, str(BENCH / "harness" / "reporthub.py"), "--org", ORG, "--token", TOKEN]
        self.command += ["--repos", str(repos), "--tags", str(HUB_TAGS), "--latency", str(latency)]


def variants(size: int) -> dict[str, tuple[str, ...]]:
    return {"nightly": NIGHTLY, **({"plain": ()} if size >= PLAIN_FROM else {})}


def export(setup: Setup, code: Code, folder: Path, night: str, *flags: str) -> Any:
    """`dockerhub-export run` of ``night`` into ``folder``, in-process (an empty Prefect home)."""
    home = setup.work / f"prefect-home-{next(setup.state['count'])}"
    home.mkdir()
    cmd = [CLI, "run", "--output-dir", str(folder), "--snapshot-date", night, *flags]
    result = run_timed(cmd, env=code.env(hub_env(setup.url, PREFECT_HOME=str(home))), cwd=setup.work)
    if not code.rev and "running in-process" not in result.stderr:
        raise AssertionError(f"the run did not run in-process:\n{result.stderr[-2000:]}")
    return result


@contextlib.contextmanager
def nightly_hub(size: int, codes: list[Code]) -> Iterator[Setup]:
    """The Hub on its first night, each code's first nights in template folders, then the Hub on its
    second night. The smoke: the first night only, with the report, into an empty folder."""
    work = Path(tempfile.mkdtemp(prefix="bench-report-run-"))
    smoke = size < PLAIN_FROM
    try:
        with ReportHub(size, 0.0 if smoke else LATENCY) as process:
            setup = Setup(size, codes, url=process.url, work=work, state={"count": itertools.count()})
            first = process.call("day", day=0)["night"]
            for code in codes:
                for name, flags in variants(size).items() if has_report(code) else ():
                    template = work / f"template-{code.label}-{name}"
                    if smoke:
                        template.mkdir()
                    else:
                        export(setup, code, template, first, *flags)
            setup.state["night"] = first if smoke else process.call("day", day=1)["night"]
            yield setup
    finally:
        shutil.rmtree(work, ignore_errors=True)


def nightly_runs(setup: Setup, code: Code) -> Figures:
    """Per variant, the second night without then with `--report`, each into a copy of the template."""
    if not has_report(code):
        return {}
    figures: Figures = {}
    for name, flags in variants(setup.size).items():
        for with_report in (True,) if setup.size < PLAIN_FROM else (False, True):
            folder = setup.work / f"run-{code.label}-{next(setup.state['count'])}"
            shutil.copytree(setup.work / f"template-{code.label}-{name}", folder)
            extra = ("--report",) if with_report else ()
            result = export(setup, code, folder, setup.state["night"], *flags, *extra)
            figures[f"{name}_report_s" if with_report else f"{name}_s"] = result.seconds
            if with_report:
                figures[f"{name}_stage_s"] = checked_stage(result, folder)
            elif list(folder.rglob("report-*.html")):
                raise AssertionError("a run without --report wrote a report")
            shutil.rmtree(folder, ignore_errors=True)
    return figures


def checked_stage(result: Any, folder: Path) -> float:
    """The report stage's seconds, as the run logged them; the page must be the run's last line and exist."""
    page_path = Path(result.stdout.strip().splitlines()[-1])
    logged = STAGE.search(result.stderr)
    if page_path.name.startswith("report-") and page_path.is_file() and page_path.is_relative_to(folder):
        if logged is not None and Path(logged.group(1)) == page_path:
            return float(logged.group(2))
    raise AssertionError(f"run --report printed no page, or did not log it:\n{result.stderr[-2000:]}")


REPORT_RUN = scenario(
    Scenario(
        name="report-run",
        what="the nightly run (--tags --access) and the plain run, a second night, without and with --report",
        sizes=(20_000,),
        quick=(2_000,),
        smoke=60,
        project=nightly_runs,
        setup=nightly_hub,
        repeats=lambda size: 3 if size >= 20_000 else 2 if size >= PLAIN_FROM else 1,
        targets=(
            Target(
                "nightly_report_s",
                1.10,
                over="nightly_s",
                at=20_000,
                why="issue 17: the report adds ≤ 10 % to the nightly run",
            ),
        ),
    )
)
