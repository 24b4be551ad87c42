"""The access review through the pipeline (`run --access`) against the fake Hub, over two nights with
churn: the second night's summary names each change and, from the audit log the run stored, who made
it, exactly as ``access-changes`` lists them; a first night compares with nothing; no email reaches the
summary or the logs."""

import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fakehub import FakeHub
from hubdata import hub_time
from hubhistory import build

from dockerhub_export import access_queries, store
from dockerhub_export.flows import summary
from dockerhub_export.pipeline import RunOptions, export

ORG, PAT = "acme", "dckr_pat_alice-owner"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def nights() -> tuple[date, date]:
    """Yesterday and today (UTC). The second night is today's, as a nightly run makes it: its run's time
    tells when its state was read (`access_changes.run_time`). The first, read today, counts as its
    whole date."""
    today = datetime.now(UTC).date()
    return today - timedelta(days=1), today


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    server = FakeHub(credentials={PAT: ("alice", "all")})
    build(server, ORG, 40, day=0, start=nights()[0], access=True)
    with server:
        yield server


def _export(hub: FakeHub, settings_for: Any, night: date) -> Any:
    settings = settings_for(hub, token=PAT, username="alice")
    return export(settings, RunOptions(night, include_access=True))


def _churn(hub: FakeHub) -> dict[str, str]:
    """Between the two runs (now, as a real org changes between two nights): bob adds a member to a team
    she is not in, carol makes another an editor, a team gets a permission (never logged)."""
    state, now = hub.access[ORG], time.time()
    members = sorted(n for n, m in state.members.items() if m["role"] == "Member")
    joiner, promoted = members[0], members[1]
    team = next(name for name in sorted(state.teams) if joiner not in state.teams[name]["members"])
    repo = next(r["name"] for r in hub.repos[ORG] if team not in state.permissions.get(r["name"], {}))
    log = hub.audit.setdefault(ORG, [])
    log.append(state.join_team(joiner, team, when=now, actor="bob"))
    log.append(state.set_role(promoted, "Editor", when=now + 1, actor="carol"))
    state.set_permission(repo, team, "write")
    return {"joiner": joiner, "team": team, "promoted": promoted, "repo": repo, "at": hub_time(now)}


def test_the_second_night_summary_names_each_change_and_who_made_it_and_no_email(
    hub: FakeHub, settings_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    yesterday, today = nights()
    first = _export(hub, settings_for, yesterday)
    assert first.access is not None and first.access.review is not None
    assert first.access.review.changes is None  # nothing stored before it
    assert "not compared: no earlier access night of this org" in summary.summary_markdown(first)
    changed = _churn(hub)
    second = _export(hub, settings_for, today)
    text = summary.summary_markdown(second)
    at = datetime.fromisoformat(changed["at"]).astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    assert f"| Changes since {yesterday} | 3 (2 with who made them) |" in text
    assert f"- `{changed['joiner']}` added to team `{changed['team']}` by bob at {at}" in text
    assert f"- `{changed['promoted']}` role member → editor by carol at " in text
    assert f"- team `{changed['team']}` granted write on `{changed['repo']}`\n" in text
    engine = store.open_engine(store.database_url(settings_for(hub)), create=False)
    listed = access_queries.access_changes(engine, ORG, yesterday, today)
    engine.dispose()
    assert second.access.review.changes == tuple(listed.changes)  # one rule: the summary's are the query's
    emails = {m["email"] for m in hub.access[ORG].members.values()}
    assert emails and all("@" in email for email in emails)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "stored the acme access" in logged  # the library's logs were captured
    for shown in (text, logged):
        assert not EMAIL.search(shown) and not any(email in shown for email in emails)
