"""Tags, queries over a year (issue 10): `stale` and `storage` as whole commands on a year of tag history.

The scenario's size is the number of nights: 365 nights of 2,000 repositories × 30 tags, 5 % of the tags
changing a night (`tagyear.tag_nights`), in a SQLite file per code, written in bulk by that code's store
(`tagworker.py tag_year`: `tagyear.BulkTagHistory` through the store's own bulk path; night by night the
year takes ~10 minutes here), once per size. Before it, every run checks on the current code that bulk
and night by night (`store.write_tag_night`) give identical tables on a small history (up to 30 nights ×
100 repositories).

Per repetition: the baseline ``raw_read_s``, a raw sqlite3 read of the last night's inventory in a bare
`python -c` (the floor); then on each code `stale --days 90` and `storage` (``stale_s``, ``storage_s``),
and at 60 nights and more their json forms and `storage --since/--until --plot`. Each command runs once
per code before the repetitions (the page cache), except in the smoke run. Targets: `stale` and `storage`
≤ 1 s at 365 nights.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from harness.core import Figures, Scenario, Setup, Target, scenario
from harness.tagyear import tag_year
from harness.tools import CLI, ORG, PY, Code, clean_env, run_timed

END = date(2027, 11, 30)
PER_REPO = 30
REPOSITORIES = {365: 2_000, 60: 500}  # per number of nights; the smoke's few nights: 20
CHECKED = "tags", "tag_nights", "tag_fetches", "tag_storage"
RAW_INVENTORY = r"""
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
org = sys.argv[2]
night = con.execute("SELECT max(snapshot_date) FROM tag_nights WHERE namespace = ?", (org,)).fetchone()[0]
rows = con.execute(
    "SELECT repository, tag, digest, full_size, tag_last_pulled, tag_last_pushed FROM tags "
    "WHERE namespace = ? AND valid_from <= ? AND valid_to IS NULL UNION ALL "
    "SELECT repository, tag, digest, full_size, tag_last_pulled, tag_last_pushed FROM tags "
    "WHERE namespace = ? AND valid_from <= ? AND valid_to > ?", (org, night, org, night, night)
).fetchall()
print(len(rows))
"""


def history(url: str, nights: int, repos: int, *, bulk: bool) -> float:
    from dockerhub_export import store

    engine = store.open_engine(url)
    try:
        return float(tag_year(engine, ORG, END, nights, repos, PER_REPO, bulk=bulk)["seconds"])
    finally:
        engine.dispose()


def tables(url: str) -> dict[str, list[tuple[object, ...]]]:
    """The tag history's tables, sorted (the nights without their run: its times and id)."""
    wanted = {name: "*" for name in CHECKED} | {
        "tag_nights": "snapshot_date, tags, repositories, fetched, bytes"
    }
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                name: sorted(
                    tuple(row) for row in connection.execute(sa.text(f"SELECT {columns} FROM {name}"))
                )
                for name, columns in wanted.items()
            }
    finally:
        engine.dispose()


def check_bulk(work: Path, nights: int, repos: int) -> None:
    """Bulk and night by night give the same history (a small one: night by night is slow)."""
    urls = [f"sqlite:///{work / name}" for name in ("nightly.db", "bulk.db")]
    for url, bulk in zip(urls, (False, True), strict=True):
        history(url, min(nights, 30), min(repos, 100), bulk=bulk)
    nightly, bulk_written = tables(urls[0]), tables(urls[1])
    wrong = [name for name in CHECKED if nightly[name] != bulk_written[name]]
    if wrong:
        raise AssertionError(f"the bulk history differs from write_tag_night's in {', '.join(wrong)}")


def database(setup: Setup, code: Code) -> Path:
    return setup.work / f"tags-{code.label}.db"


def commands(setup: Setup, code: Code) -> dict[str, list[str]]:
    common = ["--org", ORG, "--database-url", f"sqlite:///{database(setup, code)}"]
    chosen = {"stale_s": ["stale", "--days", "90", *common], "storage_s": ["storage", *common]}
    if setup.size >= 60:
        first = (END - timedelta(days=setup.size - 1)).isoformat()
        plot = ["--since", first, "--until", END.isoformat(), "--plot", str(setup.work / "storage.png")]
        chosen["stale_json_s"] = ["stale", "--days", "90", "--format", "json", *common]
        chosen["storage_json_s"] = ["storage", "--format", "json", *common]
        chosen["storage_plot_s"] = ["storage", *common, *plot]
    return chosen


@contextlib.contextmanager
def year(size: int, codes: list[Code]) -> Iterator[Setup]:
    """The bulk check, then each code's year, written by its own store (`tagworker.py tag_year`)."""
    work = Path(tempfile.mkdtemp(prefix="bench-tag-queries-"))
    try:
        repos = REPOSITORIES.get(size, 20)
        check_bulk(work, size, repos)
        setup = Setup(size, codes, work=work)
        for code in codes:
            url = f"sqlite:///{database(setup, code)}"
            built = code.worker("tag_year", url, ORG, END, size, repos, script="tagworker.py")
            print(
                f"  {size} tag nights of {repos:,} × {PER_REPO} tags, {code.label}: {built['seconds']:.1f} s"
            )
        for code in codes if size >= 60 else ():
            project(setup, code)  # a warm-up: the page cache, REV's first imports
        yield setup
    finally:
        shutil.rmtree(work, ignore_errors=True)


def baseline(setup: Setup) -> Figures:
    path = database(setup, setup.codes[0])
    result = run_timed([PY, "-c", RAW_INVENTORY, str(path), ORG], env=clean_env(), cwd=setup.work)
    if int(result.stdout) <= 0:
        raise AssertionError("the last night's inventory is empty")
    return {"raw_read_s": result.seconds}


def project(setup: Setup, code: Code) -> Figures:
    env = code.env(clean_env())
    return {
        name: run_timed([CLI, *args], env=env, cwd=setup.work).seconds
        for name, args in commands(setup, code).items()
    }


TAGS_QUERIES = scenario(
    Scenario(
        name="tags-queries",
        what="`stale --days 90` and `storage` as whole commands over a year of tag history (size: nights)",
        sizes=(365,),
        quick=(60,),
        smoke=5,
        project=project,
        baseline=baseline,
        setup=year,
        repeats=lambda size: 5 if size >= 365 else 3 if size >= 60 else 1,
        targets=(
            Target("stale_s", 1.0, at=365, why="issue 10: ≤ 1 s over a year of 2,000 × 30 tags"),
            Target("storage_s", 1.0, at=365, why="issue 10: ≤ 1 s"),
        ),
    )
)
