"""One Hub session per run, against the fake Hub over real HTTP: one login, one budget and one set of
figures for every stage, stages callable from any thread, the loop closed whatever happens; and optional
resources, which the Hub may refuse at the cost of one warning."""

import contextvars
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest
from conftest import ORG, REPO_COUNT, TOKEN
from fakehub import FakeHub, Faults, make_repos, make_tags

from dockerhub_export import audit
from dockerhub_export.errors import AuthError, HubForbidden
from dockerhub_export.fetch import fetch_all_pages, fetch_per_repository, fetch_tags, list_records
from dockerhub_export.pipeline import RunOptions, export
from dockerhub_export.resources import AUDIT_LOG, REPOSITORIES, TAGS, Resource, TableResource
from dockerhub_export.session import HubSession, open_session

# Declared like the access review's listings: one per org (a route the fake Hub does not have: 404), and
# one per repository (on the tags' route, so that faults can refuse it for one repository).
GADGETS = Resource(
    name="gadgets",
    item="gadget",
    path="/v2/orgs/{namespace}/gadgets",
    label="the {namespace} gadgets",
    optional=True,
    forbidden="the token lacks 'Gadget read', scope-gadget-read",
    without="the night has no gadget data",
)
WIDGETS = TableResource(
    name="widgets",
    item="widget",
    path="/v2/namespaces/{namespace}/repositories/{repository}/tags",
    label="{namespace}/{repository} widgets",
    key="tag",
    schema=TAGS.schema,
    csv_stem="widgets",
    optional=True,
    forbidden="the token lacks 'Widget read', scope-widget-read",
    without="the night has no widgets",
)


def _names(hub: FakeHub, n: int) -> list[str]:
    return [repo["name"] for repo in hub.repos[ORG][:n]]


def _sessions_alive() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "hub-session")


def _logins(hub: FakeHub) -> int:
    return sum(1 for r in hub.requests if r.method == "POST")


# -- one session per run ----------------------------------------------------------------------------


def test_a_429_in_the_tag_stage_counts_in_the_runs_summary_and_the_run_logs_in_once(
    hub: FakeHub, settings_for: Any
) -> None:
    names = _names(hub, REPO_COUNT)
    hub.tags[(ORG, names[5])] = make_tags(ORG, names[5], 3)
    hub.faults.fail_tags = {names[5]: [429]}  # the only 429 of the run: in the tag stage
    hub.faults.retry_after = 0.2
    options = RunOptions(date(2026, 11, 27), write_snapshots=False, include_tags=True)
    result = export(settings_for(hub), options)
    assert result.tags is not None and result.tags.tags == 3
    assert result.rate_limited == 1 and result.waited_seconds >= 0.2
    assert _logins(hub) == 1  # one JWT for the repositories and every repository's tags


def test_the_session_adds_up_every_request_of_the_run_and_each_listing_its_own(
    hub: FakeHub, settings_for: Any, sqlite_engine: Any
) -> None:
    names = _names(hub, 12)
    hub.faults.fail_503_every = 7  # a few retries, spread over the stages
    with open_session(settings_for(hub, max_attempts=6)) as session:
        repositories = fetch_all_pages(session, REPOSITORIES)
        events = audit.sync_audit_log(session, sqlite_engine)
        tags = fetch_tags(session, names)
        total = session.stats
    gets = [r for r in hub.requests if r.method == "GET"]

    def sent(stage: str) -> int:
        return sum(1 for r in gets if r.path.endswith(stage))

    assert events.read == 0 and events.warnings == []
    assert repositories.stats.requests == sent("/repositories") and tags.stats.requests == sent("/tags")
    assert total.requests == len(gets) == sent("/repositories") + sent(f"/auditlogs/{ORG}") + sent("/tags")
    failed = [r for r in gets if r.status == 503]
    assert total.retries == len(failed) >= 2
    assert tags.stats.retries == sum(1 for r in failed if r.path.endswith("/tags"))


def test_the_budget_the_hub_announced_to_one_stage_paces_the_next(settings_for: Any) -> None:
    """10 requests a 0.5 s window: the tags go on where the repositories' listing left the budget."""
    server = FakeHub(
        repos={ORG: make_repos(ORG, 250)},
        credentials={TOKEN: (ORG, "all")},
        faults=Faults(quota=10, quota_window=0.5),
    )
    with server, open_session(settings_for(server, concurrency=8)) as session:
        fetch_all_pages(session, REPOSITORIES)
        assert session.budget.limit == 10 and session.budget.left is not None
        listing = fetch_tags(session, _names(server, 14))
    assert len(listing.fetched) == 14
    assert server.quota_rejections == 0 and session.stats.rate_limited == 0
    assert listing.stats.budget_pauses >= 1


def test_a_stage_may_run_from_another_thread_and_keeps_the_callers_context(
    hub: FakeHub, settings_for: Any
) -> None:
    """A Prefect task may run in a thread of its own; its run's logger finds the run in context variables."""
    run_id: contextvars.ContextVar[str] = contextvars.ContextVar("run_id", default="none")

    async def seen(client: Any) -> str:
        return run_id.get()

    def stage(session: HubSession) -> tuple[int, str]:
        run_id.set("run-7")
        return len(fetch_all_pages(session, REPOSITORIES).keys), session.run(seen)

    with open_session(settings_for(hub)) as session, ThreadPoolExecutor(1) as pool:
        assert pool.submit(stage, session).result() == (REPO_COUNT, "run-7")


def test_the_session_closes_its_loop_at_the_end_and_when_the_login_fails(
    hub: FakeHub, settings_for: Any
) -> None:
    before = _sessions_alive()
    with open_session(settings_for(hub)) as session:
        assert _sessions_alive() == before + 1
    assert _sessions_alive() == before
    with pytest.raises(RuntimeError, match="closed"):
        fetch_all_pages(session, REPOSITORIES)
    with pytest.raises(AuthError, match="rejected the credentials"):
        open_session(settings_for(hub, token="wrong"))
    assert _sessions_alive() == before


# -- optional resources -----------------------------------------------------------------------------


def test_an_optional_resource_the_hub_does_not_have_is_one_warning_naming_the_permission(
    hub: FakeHub, settings_for: Any
) -> None:
    warnings: list[str] = []
    with open_session(settings_for(hub)) as session:
        gadgets = session.fetch_optional(
            GADGETS, lambda: session.run(lambda client: list_records(client, GADGETS, ORG)), warnings
        )
        listing = fetch_all_pages(session, REPOSITORIES)  # the run goes on
    assert gadgets is None and len(listing.keys) == REPO_COUNT
    assert [r.status for r in hub.requests if r.path == f"/v2/orgs/{ORG}/gadgets"] == [404]
    assert warnings == [
        "the acme gadgets cannot be read (the token lacks 'Gadget read', scope-gadget-read): the night has "
        "no gadget data"
    ]


@pytest.mark.parametrize("refusal", [[403], [401, 401]], ids=["403", "401 after a fresh login"])
def test_a_refused_optional_listing_per_repository_is_one_warning_for_all_of_them(
    hub: FakeHub, settings_for: Any, refusal: list[int]
) -> None:
    names = _names(hub, 20)
    hub.faults.fail_tags = {names[3]: list(refusal)}
    warnings: list[str] = []
    with open_session(settings_for(hub)) as session:

        def widgets() -> Any:
            return fetch_per_repository(session, WIDGETS, names)

        assert session.fetch_optional(WIDGETS, widgets, warnings) is None
        hub.faults.fail_tags = {names[3]: list(refusal)}
        assert session.fetch_optional(WIDGETS, widgets, warnings) is None  # refused again: no new warning
        assert len(fetch_tags(session, names).fetched) == 20  # the rest of the run goes on
    assert warnings == [
        "acme/* widgets cannot be read (the token lacks 'Widget read', scope-widget-read): the night has no "
        "widgets"
    ]


def test_a_required_resource_refused_fails_and_a_failed_login_is_no_refusal(
    hub: FakeHub, settings_for: Any, sqlite_engine: Any
) -> None:
    names = _names(hub, 3)
    hub.faults.fail_tags = {names[1]: [403]}
    warnings: list[str] = []
    with open_session(settings_for(hub)) as session:
        with pytest.raises(HubForbidden, match="scope-tag-read"):
            session.fetch_optional(TAGS, lambda: fetch_tags(session, names), warnings)
        hub.faults.jwt_lifetime, hub.faults.jwt_has_exp = 0.2, False
        hub.credentials.clear()  # revoked: the next login fails, which no optional resource excuses
        session.auth._jwt = None  # noqa: SLF001 - as if the JWT had expired
        with pytest.raises(AuthError, match="rejected the credentials"):
            audit.sync_audit_log(session, sqlite_engine)
    assert warnings == []


@pytest.mark.parametrize("status", [401, 403, 404])
def test_an_audit_log_refused_is_the_declared_warning_and_nothing_stored(
    hub: FakeHub, settings_for: Any, sqlite_engine: Any, status: int
) -> None:
    hub.delete_tag(ORG, "web", "old", when=time.time())
    hub.faults.audit_status = status
    with open_session(settings_for(hub)) as session:
        sync = audit.sync_audit_log(session, sqlite_engine)
    assert sync == audit.AuditSync(None, 0, [AUDIT_LOG.refused(ORG)])
    assert sync.warnings == [
        "the acme audit log cannot be read (the plan has none, or the token lacks 'Activity read', "
        "scope-activity-read): changes are not attributed, and deleted tags show within --tags-refresh-days"
    ]
    hub.faults.audit_status = 0
    with open_session(settings_for(hub)) as session:
        assert audit.sync_audit_log(session, sqlite_engine) == audit.AuditSync(1, 1)
