"""A run killed during its tag stage leaves the tag history as it was, or holds the whole night: never part
of it; and the night's tags CSV is complete or absent. Real processes, SIGKILL, on every backend."""

import csv
import io
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import ORG, TOKEN
from fakehub import FakeHub, make_repos, make_tags
from hubdata import digest_of

from dockerhub_export import store

N1, N2 = "2026-11-26", "2026-11-27"
# Seconds between the line that ends the tag fetch and the kill: the tag night's write, the tags CSV and
# the run's end take ~0.1–0.3 s here, so these land before, inside and after each of them.
DELAYS = (0.0, 0.01, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.45)
HISTORY = ("tag_nights", "tags", "tag_storage", "tag_fetches")


@pytest.fixture
def many_tags() -> Any:
    repos = make_repos(ORG, 150, seed=5)
    hub = FakeHub(repos={ORG: repos}, credentials={TOKEN: (ORG, "all")})
    for i, repo in enumerate(repos):
        hub.tags[(ORG, repo["name"])] = make_tags(ORG, repo["name"], 40 + (i * 7) % 120)
    with hub:
        yield hub


def start(hub: FakeHub, out: Path, url: str, day: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKERHUB_", "PREFECT_API_URL"))}
    env.update(DOCKERHUB_TOKEN=TOKEN, DOCKERHUB_API_URL=hub.url, PREFECT_HOME=str(out / "prefect-home"))
    args = ["run", "--org", ORG, "--output-dir", str(out), "--database-url", url, "--snapshot-date", day]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dockerhub_export",
            *args,
            "--tags",
            "--no-prefect",
            "--tags-refresh-days",
            "0",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def history(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = store.open_engine(url, create=False)
    try:
        with engine.connect() as connection:
            return {
                name: sorted(
                    tuple(str(value) for value in row)
                    for row in connection.execute(sa.select(store.tables.metadata.tables[name]))
                )
                for name in HISTORY
            }
    finally:
        engine.dispose()


def inventory(url: str, day: str) -> set[tuple[Any, ...]]:
    engine = store.open_engine(url, create=False)
    try:
        rows = store.tag_inventory(
            engine, ORG, date.fromisoformat(day), ("digest", "full_size", "tag_last_pulled")
        )
    finally:
        engine.dispose()
    return {(row[0], row[1], row[2], int(row[3]), row[4] or "") for row in rows}


def truth(hub: FakeHub) -> set[tuple[Any, ...]]:
    return {
        (repo["name"], tag["name"], tag["digest"], tag["full_size"], tag["tag_last_pulled"] or "")
        for repo in hub.repos[ORG]
        for tag in hub.tags.get((ORG, repo["name"]), [])
    }


def csv_inventory(path: Path) -> set[tuple[Any, ...]]:
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    return {
        (row["repository"], row["tag"], row["digest"], int(row["full_size"]), row["tag_last_pulled"])
        for row in rows
    }


def test_a_run_killed_anywhere_in_its_tag_stage_leaves_the_night_whole_or_absent(
    many_tags: FakeHub, db_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "exports"
    first = start(many_tags, out, db_url, N1)
    assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else ""
    night_one = inventory(db_url, N1)
    assert night_one == truth(many_tags)
    # The second night changes: tags pushed, moved and deleted, so its write begins and ends versions.
    now = time.time()
    names = [repo["name"] for repo in many_tags.repos[ORG]]
    for k, name in enumerate(names[:40]):
        many_tags.push_tag(ORG, name, f"hotfix-{k}", digest=digest_of(f"hotfix-{k}"), size=1000 + k, when=now)
        many_tags.push_tag(ORG, name, "latest", digest=digest_of(f"moved-{k}"), size=2000 + k, when=now)
        many_tags.delete_tag(ORG, name, "v1.0.0", when=now)
    night_two = truth(many_tags)
    tags_csv = out / ORG / f"tags-{N2}.csv"

    inside = 0
    outcomes = []
    for delay in DELAYS:
        before = history(db_url)
        run = start(many_tags, out, db_url, N2)
        assert run.stderr is not None
        for line in run.stderr:
            if " fetched " in line and " tags of " in line:
                break
        else:
            pytest.fail(f"the run ended before its tag fetch (exit {run.wait()})")
        time.sleep(delay)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
        rest = run.stderr.read()
        stored = " stored the " in rest
        inside += not stored
        after = history(db_url)
        nights = [row[1] for row in after["tag_nights"]]
        if after == before:
            outcomes.append("as it was")
        else:  # the whole night, and the nights before it unchanged
            assert N2 in nights and inventory(db_url, N2) == night_two, (
                f"killed after {delay} s: a partial night"
            )
            outcomes.append("whole night")
        assert inventory(db_url, N1) == night_one, f"killed after {delay} s: the first night changed"
        if tags_csv.exists():
            assert csv_inventory(tags_csv) == night_two, f"killed after {delay} s: a partial tags CSV"
    assert inside >= 1, f"no kill landed before the night was stored: {outcomes}"

    final = start(many_tags, out, db_url, N2)  # the next run finishes what the killed ones did not
    assert final.wait(timeout=120) == 0
    assert inventory(db_url, N2) == night_two and csv_inventory(tags_csv) == night_two
    assert inventory(db_url, N1) == night_one
    assert not [path.name for path in (out / ORG).iterdir() if path.name.startswith(".")], "temporaries left"
