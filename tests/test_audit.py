"""The audit log: stored by every run, each event once; `audit` gives back exactly the Hub's events; `trends`
and the nightly summary say who added, removed or flipped a repository, and when."""

import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from conftest import ORG, PUBLIC_TOKEN, TOKEN, invoke
from fakehub import FakeHub, make_repos

from dockerhub_export import attribution, snapshot_queries, store
from dockerhub_export.errors import ConfigError
from dockerhub_export.pipeline import RunOptions, export

# Snapshot days around today: the events the fake Hub logs happen now, and attribution looks for them
# between two snapshot days.
TODAY = datetime.now(UTC).date()
D1, D2, D3 = TODAY - timedelta(days=1), TODAY, TODAY + timedelta(days=1)
FIELDS = ("timestamp", "action", "name", "actor", "data")


@pytest.fixture
def logged() -> Any:
    hub = FakeHub(
        repos={ORG: make_repos(ORG, 12, seed=5)},
        credentials={TOKEN: (ORG, "all"), PUBLIC_TOKEN: (ORG, "public")},
    )
    with hub:
        yield hub


def hub_events(hub: FakeHub) -> list[dict[str, Any]]:
    events = sorted(hub.audit.get(ORG, []), key=lambda event: event["timestamp"], reverse=True)
    return [{name: event[name] for name in FIELDS} for event in events]


def test_every_run_stores_the_new_events_once_and_audit_gives_them_back(
    logged: FakeHub, settings_for, app
) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(logged)
    names = [repo["name"] for repo in logged.repos[ORG]]
    logged.set_privacy(ORG, names[0], False, when=time.time() - 7200, actor="alice")
    export(settings, RunOptions(D1))
    logged.delete_repo(ORG, names[1], when=time.time(), actor="bob")
    logged.push_tag(
        ORG, names[2], "v2", digest="sha256:" + "2" * 64, size=5, when=time.time(), actor="ci-bot"
    )
    logged.delete_tag(ORG, names[3], "old", when=time.time(), actor="carol")
    export(settings, RunOptions(D2))
    export(settings, RunOptions(D3))  # reads an hour back: the same events again, stored once
    url = store.database_url(settings)
    result = invoke(app, "audit", "--org", ORG, "--format", "json", "--database-url", url)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == hub_events(logged)
    deletes = invoke(
        app, "audit", "--org", ORG, "--action", "repo.tag.delete", "--format", "json", "--database-url", url
    )
    assert [event["actor"] for event in json.loads(deletes.stdout)] == ["carol"]
    by_repo = invoke(
        app, "audit", "--org", ORG, "--repo", names[2], "--format", "json", "--database-url", url
    )
    assert [event["action"] for event in json.loads(by_repo.stdout)] == ["repo.tag.push"]
    requests = [r for r in logged.requests if r.path == f"/v2/auditlogs/{ORG}"]
    assert (
        "from" not in requests[0].query and "from" in requests[-1].query
    )  # all at first, then since the newest


def test_a_token_without_the_audit_log_gives_one_warning_and_the_run_goes_on(
    logged: FakeHub, settings_for
) -> None:  # type: ignore[no-untyped-def]
    result = export(settings_for(logged, token=PUBLIC_TOKEN), RunOptions(D1))
    assert [w for w in result.warnings if "audit log cannot be read" in w] == [result.warnings[-1]]
    assert result.repositories > 0


def test_trends_and_the_summary_say_who_added_removed_or_flipped_and_when(
    logged: FakeHub, settings_for, app
) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(logged)
    names = [repo["name"] for repo in logged.repos[ORG]]
    private = next(repo["name"] for repo in logged.repos[ORG] if repo["is_private"])
    export(settings, RunOptions(D1))
    logged.delete_repo(ORG, names[0], when=time.time(), actor="bob")
    logged.create_repo(ORG, dict(logged.repos[ORG][0], name="brand-new"), when=time.time(), actor="alice")
    logged.set_privacy(ORG, private, False, when=time.time(), actor="carol")
    result = export(settings, RunOptions(D2))
    events = {event["action"]: event for event in hub_events(logged)}

    report = json.loads(
        invoke(
            app, "trends", "--org", ORG, "--format", "json", "--database-url", store.database_url(settings)
        ).stdout
    )
    assert report["added"] == [{"name": "brand-new", "by": "alice", "at": events["repo.create"]["timestamp"]}]
    assert report["removed"] == [{"name": names[0], "by": "bob", "at": events["repo.delete"]["timestamp"]}]
    assert report["visibility_changed"] == [
        {
            "name": private,
            "from": "private",
            "to": "public",
            "by": "carol",
            "at": events["repo.change_privacy"]["timestamp"],
        }
    ]
    table = invoke(app, "trends", "--org", ORG, "--database-url", store.database_url(settings)).stdout
    assert f"removed (1): {names[0]} (by bob at" in table and f"visibility: {private} (by carol at" in table

    snapshot = result.snapshot
    assert snapshot is not None and snapshot.attributed["added"] == {
        "brand-new": {"by": "alice", "at": events["repo.create"]["timestamp"]}
    }
    removed = {names[0]: {"by": "bob", "at": events["repo.delete"]["timestamp"]}}
    assert snapshot.attributed["removed"] == removed
    assert snapshot.visibility_changed[0]["by"] == "carol"


def test_a_flip_is_attributed_to_the_newest_event_that_set_that_visibility(
    logged: FakeHub, settings_for
) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(logged)
    export(settings, RunOptions(D1))
    public = next(repo["name"] for repo in logged.repos[ORG] if not repo["is_private"])
    logged.set_privacy(ORG, public, True, when=time.time(), actor="dave")  # flipped to private ...
    engine = store.open_engine(store.database_url(settings))
    try:
        export(settings, RunOptions(D2))
        logged.set_privacy(
            ORG, public, False, when=time.time() + 1, actor="erin"
        )  # ... back after the snapshot
        export(settings, RunOptions(D3))  # stores erin's event, newer than dave's but within D2's UTC day too
        report = snapshot_queries.trends(engine, ORG, since=D1, until=D2)
        assert [(item["name"], item["to"], item["by"]) for item in report.visibility_changed] == [
            (public, "private", "dave")
        ]
        # An event that set the other visibility explains nothing.
        changes = attribution.attributed_changes(engine, ORG, D1, D2)
        del changes[f"{attribution.PRIVACY}:private"]
        flips = [{"name": public, "from": "public", "to": "private"}]
        attribution.attribute([], [], flips, changes)
        assert "by" not in flips[0] and public in changes[f"{attribution.PRIVACY}:public"]
    finally:
        engine.dispose()


def test_events_are_kept_exactly_and_time_windows_are_utc_days(sqlite_engine) -> None:  # type: ignore[no-untyped-def]
    event = {"account": ORG, "action": "repo.tag.push", "name": f"{ORG}/web", "actor": "x",
             "data": {"tag": "v1"}, "timestamp": "2026-11-27T23:59:59.123456789Z",
             "action_description": "pushed tag"}  # fmt: skip
    assert store.audit.store_events(sqlite_engine, ORG, [event, dict(event)]) == 1
    assert store.audit.store_events(sqlite_engine, ORG, [event]) == 0
    (kept,) = store.audit.events(sqlite_engine, ORG, since=date(2026, 11, 27), until=date(2026, 11, 27))
    assert kept["timestamp"] == "2026-11-27T23:59:59.123456789Z" and kept["data"] == {"tag": "v1"}
    assert store.audit.events(sqlite_engine, ORG, since=date(2026, 11, 28)) == []
    assert store.audit.latest_event(sqlite_engine, ORG) == datetime(2026, 11, 27, 23, 59, 59, 123456)
    aware = datetime(2026, 11, 28, 0, 30, tzinfo=UTC) + timedelta(hours=-1)
    assert len(store.audit.events(sqlite_engine, ORG, since=aware)) == 1


def _event(action: str, timestamp: str, name: str = f"{ORG}/web") -> dict[str, Any]:
    return {"account": ORG, "action": action, "name": name, "actor": "x", "data": {}, "timestamp": timestamp}


@pytest.fixture
def two_events(db_url: str) -> str:
    """Two events of acme stored, on each backend."""
    engine = store.open_engine(db_url)
    store.audit.store_events(
        engine,
        ORG,
        [_event("repo.tag.push", "2026-11-27T10:00:00Z"), _event("repo.create", "2026-11-28T09:00:00Z")],
    )
    engine.dispose()
    return db_url


def test_an_unknown_action_is_refused_in_one_line_with_close_matches(app, two_events: str) -> None:  # type: ignore[no-untyped-def]
    result = invoke(app, "audit", "--org", ORG, "--action", "repo.tag.pushed", "--database-url", two_events)
    assert result.exit_code == 1 and isinstance(result.exception, ConfigError)
    assert str(result.exception) == (
        "unknown audit action 'repo.tag.pushed': did you mean repo.tag.push? "
        "the actions stored for acme: repo.create, repo.tag.push"
    )
    privacy = invoke(app, "audit", "--org", ORG, "--action", "privacy", "--database-url", two_events)
    assert str(privacy.exception).startswith(
        "unknown audit action 'privacy': did you mean repo.change_privacy? "
    )
    bogus = invoke(app, "audit", "--org", ORG, "--action", "bogus", "--database-url", two_events)
    assert (
        str(bogus.exception)
        == "unknown audit action 'bogus': the actions stored for acme: repo.create, repo.tag.push"
    )


def test_an_action_of_the_hubs_catalog_not_stored_yet_is_an_empty_answer_that_says_why(
    app, two_events: str
) -> None:  # type: ignore[no-untyped-def]
    result = invoke(
        app,
        "audit",
        "--org",
        ORG,
        "--action",
        "repo.delete",
        "--format",
        "json",
        "--database-url",
        two_events,
    )
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert result.stderr == (
        "no repo.delete events of acme at all: the database holds 2 events of acme, "
        "from 2026-11-27 to 2026-11-28\n"
    )


def test_an_empty_audit_says_why_and_what_to_do(app, two_events: str) -> None:  # type: ignore[no-untyped-def]
    outside = invoke(app, "audit", "--org", ORG, "--since", "2026-12-01", "--database-url", two_events)
    assert outside.exit_code == 0 and outside.stdout == ""  # no empty table
    assert outside.stderr == (
        "no audit-log events of acme on or after 2026-12-01: the database holds 2 events of acme, "
        "from 2026-11-27 to 2026-11-28\n"
    )
    other = invoke(app, "audit", "--org", "other", "--database-url", two_events)
    assert other.exit_code == 0 and other.stdout == ""
    assert other.stderr.startswith(
        f"no audit-log events of other are stored in {store.redact(two_events)}: "
    ) and other.stderr.endswith(
        ": each `dockerhub-export run --org other` stores the new ones "
        "(an OAT needs 'Activity read'; without it the run warns and goes on)\n"
    )
    nothing = invoke(app, "audit", "--org", "other", "--action", "bogus", "--database-url", two_events)
    assert str(nothing.exception).startswith(
        "unknown audit action 'bogus': the actions of the Hub (none stored yet): "
        "repo.category.updated, repo.change_privacy"
    )


def test_the_audit_table_counts_its_events_in_the_singular_too(app, two_events: str) -> None:  # type: ignore[no-untyped-def]
    result = invoke(app, "audit", "--org", ORG, "--action", "repo.create", "--database-url", two_events)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].rstrip() == "acme: 1 audit-log event, newest first"
    assert "2026-11-28T09:00:00Z" in result.stdout and result.stderr == ""
