"""The fake Hub's ``--day``: one org moved forward night after night, each day's changes in its audit log,
and the exporter's `trends`, `audit` and tag nights telling that story from the script's two nights."""

from __future__ import annotations

import calendar
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakehub import FakeHub
from hubdata import make_repos, make_tags
from hubhistory import build, night_moment, night_of

SCRIPT = Path(__file__).with_name("fakehub.py")
ORG, TOKEN, START = "acme", "demo-token", date(2026, 11, 2)
BANNER = re.compile(r"fake hub on (\S+) \(org acme, day (\d+): the night of (\d{4}-\d\d-\d\d), ")
CREATE, DELETE, PRIVACY = "repo.create", "repo.delete", "repo.change_privacy"


def hub_on(day: int, n: int = 150, tags: int = 3, start: date = START) -> FakeHub:
    hub = FakeHub()
    build(hub, ORG, n, tags=tags, seed=0, day=day, start=start)
    return hub


def instant(stamp: str) -> float:
    """A Hub timestamp (0-9 fractional digits) as a Unix time."""
    head, _, fraction = stamp.removesuffix("Z").partition(".")
    return calendar.timegm(datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").timetuple()) + float(
        f"0.{fraction or 0}"
    )


def events_of(hub: FakeHub, day: int, start: date = START) -> list[dict[str, Any]]:
    iso = night_of(start, day).isoformat()
    return [event for event in hub.audit.get(ORG, []) if event["timestamp"].startswith(iso)]


def named(events: list[dict[str, Any]], action: str) -> list[str]:
    return [event["name"].removeprefix(f"{ORG}/") for event in events if event["action"] == action]


def test_the_same_seed_and_start_date_give_the_same_history_and_day_0_is_the_generated_org() -> None:
    first, again, later = hub_on(1), hub_on(1), hub_on(1, start=START + timedelta(days=3))
    assert (first.repos, first.tags, first.audit) == (again.repos, again.tags, again.audit)
    assert [r["name"] for r in first.repos[ORG]] == [r["name"] for r in later.repos[ORG]]
    assert [e["name"] for e in first.audit[ORG]] == [e["name"] for e in later.audit[ORG]]
    assert first.audit != later.audit  # the same changes, three days later
    zero = hub_on(0, tags=0)
    assert zero.repos[ORG] == make_repos(ORG, 150) and zero.tags == {} and zero.audit == {}  # as generated


def test_each_day_is_the_day_before_plus_the_changes_its_audit_log_explains() -> None:
    for day in range(1, 5):
        before, after = hub_on(day - 1), hub_on(day)
        assert after.audit[ORG][: len(before.audit.get(ORG, []))] == before.audit.get(ORG, [])
        events = events_of(after, day)
        assert len(events) == len(after.audit[ORG]) - len(before.audit.get(ORG, []))  # all on that day,
        assert all(
            instant(event["timestamp"]) < night_moment(START, day) for event in events
        )  # before its night
        old = {repo["name"]: repo for repo in before.repos[ORG]}
        new = {repo["name"]: repo for repo in after.repos[ORG]}
        created, deleted = set(named(events, CREATE)), set(named(events, DELETE))
        recreated = created & deleted
        assert len(recreated) == 1  # the one deliberate anomaly
        assert set(new) - set(old) == created - recreated and created - recreated
        assert set(old) - set(new) == deleted - recreated and deleted - recreated
        flipped = {name for name in set(old) & set(new) if old[name]["is_private"] != new[name]["is_private"]}
        assert flipped == set(named(events, PRIVACY)) and len(flipped) == 1
        fell = {
            name
            for name in set(old) & set(new)
            if old[name]["pull_count"] is not None and new[name]["pull_count"] < old[name]["pull_count"]
        }
        assert fell == recreated
        grew = [
            name for name in set(old) & set(new) - fell if new[name]["pull_count"] != old[name]["pull_count"]
        ]
        assert len(grew) > len(old) // 2
        retagged = {
            name
            for name in set(old) & set(new)
            if before.tags.get((ORG, name)) is not None
            and {t["name"]: t["digest"] for t in before.tags[(ORG, name)]}
            != {t["name"]: t["digest"] for t in after.tags.get((ORG, name), [])}
        }
        tag_events = {
            e["name"].removeprefix(f"{ORG}/") for e in events if e["action"].startswith("repo.tag.")
        }
        assert retagged and retagged <= tag_events
        assert any(e["action"] == "repo.tag.delete" for e in events)


@pytest.mark.parametrize("day", [0, 1, 3])
def test_nothing_is_pushed_after_the_night_and_no_tag_is_pulled_before_it_was_pushed(day: int) -> None:
    hub = hub_on(day, n=200, tags=4)
    night = night_moment(START, day)
    for repo in hub.repos[ORG]:
        for key in ("last_updated", "last_modified", "date_registered"):
            assert repo[key] is None or instant(repo[key]) <= night, (repo["name"], key, repo[key])
    for (_, name), listed in hub.tags.items():
        for tag in listed:
            pushed = instant(tag["tag_last_pushed"])
            assert pushed <= instant(tag["last_updated"]) <= night, (name, tag["name"])
            pulled = tag["tag_last_pulled"]
            assert pulled is None or pushed <= instant(pulled) <= night, (name, tag["name"], pulled)
            for image in tag["images"]:
                assert image["last_pulled"] is None or instant(image["last_pushed"]) <= instant(
                    image["last_pulled"]
                )
    for event in hub.audit.get(ORG, []):
        assert instant(event["timestamp"]) <= night


@pytest.mark.parametrize("count", [2, 5, 40, 230, 1000])
def test_make_tags_pushes_at_most_400_days_before_now_and_pulls_after_each_push(count: int) -> None:
    now = 1764547200.0
    for k in range(3000 // count + 1):  # about 3,000 tags each time
        for tag in make_tags(ORG, f"repo-{k:06d}", count):
            pushed = instant(tag["tag_last_pushed"])
            assert now - 400 * 86400 <= pushed <= now, tag["tag_last_pushed"]  # never into 2032
            assert tag["tag_last_pulled"] is None or pushed <= instant(tag["tag_last_pulled"]) <= now


# -- the script's options ---------------------------------------------------------------------------


def test_every_option_of_the_script_is_described_in_its_help() -> None:
    from fakehub_cli import build_parser

    options = [action for action in build_parser()._actions if action.dest != "help"]
    assert len(options) == 21
    shown = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True
    )
    flat = " ".join(shown.stdout.split())
    for action in options:
        assert action.help and len(action.help) >= 15, action.option_strings
        assert " ".join(action.help.split()) in flat, action.option_strings
    assert "--day N" in flat and "example, two nights:" in flat


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--start-date", "2020-01-01"), "2020-01-01 is before 2025-12-01"),
        (("--start-date", "04/12/2026"), "'04/12/2026' is not a date: use YYYY-MM-DD"),
        (("--day", "-1"), "--day must be 0 or more"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--print-date"], capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert message in done.stderr.splitlines()[-1]


def test_print_date_gives_the_night_of_a_day_from_the_start_date() -> None:
    args = ["--start-date", "2026-02-27", "--day", "2", "--print-date"]
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=True)
    assert done.stdout == "2026-03-01\n"


# -- the script's two nights, through the real CLI -------------------------------------------------


@contextmanager
def script(*args: str) -> Iterator[tuple[str, int, date]]:
    """The fake Hub script, started with ``args``: (its URL, its day, that day's night)."""
    command = [sys.executable, str(SCRIPT), "--org", ORG, "--token", TOKEN, "--port", "0", *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = BANNER.match(line)
        assert match, line
        yield match.group(1), int(match.group(2)), date.fromisoformat(match.group(3))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=10) == 0
        finally:
            proc.kill()  # no-op when it already exited
            proc.wait()


def cli(out: Path, *args: str, url: str = "") -> str:
    """``dockerhub-export ARGS`` in its own process, exports and snapshots under ``out``: its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKERHUB_", "PREFECT_API_URL"))}
    env.update(DOCKERHUB_TOKEN=TOKEN, EXPORT_DIR=str(out), PREFECT_HOME=str(out / "prefect-home"))
    if url:
        env["DOCKERHUB_API_URL"] = url
    command = [sys.executable, "-m", "dockerhub_export", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def tags_csv(path: Path) -> set[tuple[str, ...]]:
    fields = ("repository", "tag", "digest", "full_size", "tag_last_pulled", "tag_last_pushed")
    return {tuple(row[f] for f in fields) for row in csv.DictReader(io.StringIO(path.read_text("utf-8")))}


def truth(hub: FakeHub) -> set[tuple[str, ...]]:
    return {
        (
            repo,
            tag["name"],
            tag["digest"],
            str(tag["full_size"]),
            tag["tag_last_pulled"] or "",
            tag["tag_last_pushed"],
        )
        for (_, repo), listed in hub.tags.items()
        for tag in listed
    }


def test_two_nights_of_the_script_show_growth_changes_by_whom_and_when_and_the_audit_log(
    tmp_path: Path,
) -> None:
    out, options = tmp_path / "exports", ("--repos", "60", "--tags", "3")
    today = datetime.now(UTC).date()
    with script(*options, "--day", "0") as (url, day, first):
        assert day == 0
        cli(out, "run", "--org", ORG, "--tags", "--no-prefect", "--snapshot-date", str(first), url=url)
    with script(*options, "--day", "1") as (url, day, second):
        # By default day 1 is today (UTC): the CLI's own default date, which it does not refuse.
        assert day == 1 and second == night_of(first, 1) in (today, datetime.now(UTC).date())
        cli(out, "run", "--org", ORG, "--tags", "--no-prefect", url=url)
    expected, before = hub_on(1, n=60, start=first), hub_on(0, n=60, start=first)
    events = {(e["action"], e["name"].removeprefix(f"{ORG}/")): e for e in expected.audit[ORG]}

    trends = json.loads(cli(out, "trends", "--org", ORG, "--format", "json"))
    old, new = {r["name"] for r in before.repos[ORG]}, {r["name"] for r in expected.repos[ORG]}
    assert new - old and old - new
    assert trends["added"] == [
        {"name": name, "by": "alice", "at": events[(CREATE, name)]["timestamp"]} for name in sorted(new - old)
    ]
    assert trends["removed"] == [
        {"name": name, "by": "bob", "at": events[(DELETE, name)]["timestamp"]} for name in sorted(old - new)
    ]
    (flip,) = trends["visibility_changed"]
    assert (flip["by"], flip["at"]) == ("carol", events[(PRIVACY, flip["name"])]["timestamp"])
    (fell,) = [a for a in trends["anomalies"] if a["kind"] == "pulls_decreased"]
    assert (CREATE, fell["name"]) in events and (DELETE, fell["name"]) in events  # deleted, created again
    deltas = [r["pulls_delta"] for r in trends["repositories"] if r["pulls_delta"] is not None]
    assert min(deltas) >= 0 and sum(delta > 0 for delta in deltas) > len(deltas) // 2

    audit = json.loads(cli(out, "audit", "--org", ORG, "--format", "json"))
    fields = ("timestamp", "action", "name", "actor", "data")
    logged = sorted(expected.audit[ORG], key=lambda e: instant(e["timestamp"]), reverse=True)
    assert audit == [{f: e[f] for f in fields} for e in logged] and len(audit) >= 8

    assert tags_csv(out / ORG / f"tags-{second}.csv") == truth(expected)  # pushes and deletes included
    stale = [
        json.loads(cli(out, "stale", "--org", ORG, "--days", "30", "--date", str(d), "--format", "json"))
        for d in (first, second)
    ]
    assert stale[0]["tags_total"] > stale[1]["tags_total"] > 0  # tags pulled on day 1 are fresh again
