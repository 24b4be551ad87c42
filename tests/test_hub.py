"""The Hub client (and the repositories fetched through it) against the fake Hub over real HTTP:
pagination, limits, retries, safety."""

import logging
import socket
import time

import httpx
import orjson
import pandas as pd
import pytest
from conftest import ORG, PAT, PUBLIC_TOKEN, REPO_COUNT
from fakehub import FakeHub, Faults, make_repos

from dockerhub_export import csv_output, transform
from dockerhub_export import hub as hubmod
from dockerhub_export.errors import AuthError, ConfigError, ForeignHostError, HubError, HubUnavailable
from dockerhub_export.fetch import fetch_all_pages, list_resource
from dockerhub_export.resources import REPOSITORIES
from dockerhub_export.session import HubSession, open_session

SCHEMA = REPOSITORIES.schema


def _fetch(settings):  # type: ignore[no-untyped-def]
    with open_session(settings) as session:
        return fetch_all_pages(session, REPOSITORIES)


def _list_requests(server: FakeHub) -> list:
    return [r for r in server.requests if r.method == "GET"]


def test_fetches_every_page_once_with_the_spec_parameters(hub, settings_for) -> None:
    listing = _fetch(settings_for(hub))
    assert listing.keys == sorted(r["name"] for r in hub.repos[ORG])
    assert listing.api_count == REPO_COUNT and listing.warnings == []
    requests = _list_requests(hub)
    assert sorted(int(r.query["page"][0]) for r in requests) == [1, 2, 3]
    assert all(r.query["page_size"] == ["100"] and r.query["ordering"] == ["name"] for r in requests)
    assert all(r.path == f"/v2/namespaces/{ORG}/repositories" for r in requests)


def test_the_page_wise_columns_give_the_frame_and_csv_of_the_records(hub, settings_for, tmp_path) -> None:
    """The listing's columns, built page by page, type exactly like `to_frame` of the Hub's records: same
    frame (values and dtypes), same CSV bytes. Odd values included: strings where the API has numbers and
    booleans, an offset timestamp, lists with empty, null and non-string items, categories without slug."""
    base = hub.repos[ORG][0]
    hub.repos[ORG] += [
        dict(
            base,
            name="zz-odd-1",
            pull_count="12",
            star_count=None,
            is_private="true",
            last_updated="2021-12-20T19:19:58.123+02:00",
            media_types=["", "a", None, 3],
            categories=[{"name": "Only a name"}, "plain", None],
            content_types="image",
        ),
        dict(base, name="zz-odd-2", pull_count=1.0, storage_size="7", categories=None, media_types=[""]),
    ]
    listing = _fetch(settings_for(hub, concurrency=3))
    # What the Hub sent, as JSON decodes it, in the Hub's order (ordering=name).
    records = sorted(orjson.loads(orjson.dumps(hub.repos[ORG])), key=lambda r: r["name"])
    assert listing.keys == [r["name"] for r in records]

    paged = transform.from_columns(listing.columns, SCHEMA, ORG)
    reference = transform.to_frame(records, SCHEMA, ORG)
    pd.testing.assert_frame_equal(paged, reference, check_exact=True)
    assert list(paged.dtypes) == list(reference.dtypes)
    assert paged.loc[len(paged) - 2, "media_types"] == "a;3"  # the odd rows are there and typed
    old, new = tmp_path / "records.csv", tmp_path / "paged.csv"
    csv_output.write_csv(reference, old, REPOSITORIES)
    csv_output.write_csv(paged, new, REPOSITORIES)
    assert new.read_bytes() == old.read_bytes()


def test_never_more_requests_in_flight_than_the_concurrency(settings_for) -> None:
    server = FakeHub(
        repos={ORG: make_repos(ORG, 3000)}, credentials={"t": (ORG, "all")}, faults=Faults(latency=0.03)
    )
    with server:
        listing = _fetch(settings_for(server, token="t", concurrency=3))
    assert len(listing.keys) == 3000
    assert server.max_in_flight == 3 and listing.stats.max_in_flight == 3


def test_pages_are_fetched_concurrently(settings_for) -> None:
    server = FakeHub(
        repos={ORG: make_repos(ORG, 2000)}, credentials={"t": (ORG, "all")}, faults=Faults(latency=0.1)
    )
    with server:
        started = time.monotonic()
        _fetch(settings_for(server, token="t", concurrency=8))
        elapsed = time.monotonic() - started
    # 20 pages at 100 ms: sequential would take >= 2 s; 1 + ceil(19/8) = 4 round trips is the limit.
    assert elapsed < 1.5


def test_plain_text_429_pauses_everyone_and_the_result_is_complete(hub, settings_for) -> None:
    hub.faults.rate_limit_every = 2
    hub.faults.retry_after = 0.3
    listing = _fetch(settings_for(hub, concurrency=4))
    assert len(listing.keys) == REPO_COUNT
    assert listing.stats.rate_limited >= 1 and listing.stats.waited_seconds >= 0.3
    limited = [r for r in _list_requests(hub)]
    assert len(limited) == listing.stats.requests


def test_429_with_x_ratelimit_reset_epoch_is_honoured(hub, settings_for) -> None:
    hub.faults.rate_limit_every = 3
    hub.faults.rate_limit_header = "X-RateLimit-Reset"
    hub.faults.retry_after = 0.1
    listing = _fetch(settings_for(hub))
    assert len(listing.keys) == REPO_COUNT and listing.stats.rate_limited >= 1


def test_503_and_dropped_connections_are_retried(hub, settings_for) -> None:
    hub.faults.fail_503_every = 2
    hub.faults.drop_every = 3
    listing = _fetch(settings_for(hub, max_attempts=6))
    assert len(listing.keys) == REPO_COUNT
    assert listing.stats.retries >= 2


def test_persistent_503_gives_up_with_a_clear_error(hub, settings_for) -> None:
    hub.faults.fail_pages = {2: [503] * 10}
    with pytest.raises(HubUnavailable) as info:
        _fetch(settings_for(hub, max_attempts=3))
    assert "page 2" in str(info.value) and "after 3 attempts" in str(info.value)
    assert sum(1 for r in _list_requests(hub) if r.query["page"] == ["2"]) == 3


def test_other_4xx_are_not_retried(hub, settings_for) -> None:
    hub.faults.fail_pages = {2: [400, 400, 400]}
    with pytest.raises(HubError, match="400"):
        _fetch(settings_for(hub))
    assert sum(1 for r in _list_requests(hub) if r.query["page"] == ["2"]) == 1


def test_unknown_org_is_an_empty_listing(hub, settings_for) -> None:
    listing = _fetch(settings_for(hub, org="nosuchorg", token=PAT, username="alice"))
    assert listing.keys == [] and listing.api_count == 0


def test_token_without_list_scope_sees_public_repositories_only(hub, settings_for) -> None:
    listing = _fetch(settings_for(hub, token=PUBLIC_TOKEN))
    assert listing.keys and not any(listing.columns["is_private"])


def test_next_link_to_another_host_is_refused_and_the_token_never_reaches_it(hub, trap, settings_for) -> None:
    hub.faults.omit_count = True  # forces the client onto the next links
    hub.faults.next_link_base = trap.url.replace("127.0.0.1", "localhost")
    with pytest.raises(ForeignHostError, match="refusing to send the token"):
        _fetch(settings_for(hub))
    assert trap.requests == []


def test_next_links_on_the_same_host_are_followed_when_there_is_no_count(hub, settings_for) -> None:
    hub.faults.omit_count = True
    listing = _fetch(settings_for(hub))
    assert len(listing.keys) == REPO_COUNT and listing.api_count is None


def test_a_hub_that_gives_fewer_per_page_than_asked_still_gives_every_repository(hub, settings_for) -> None:
    """In 2023 the Hub answered 25 a page whatever page_size asked: the pages follow the size it gives."""
    hub.faults.page_size_cap = 25
    listing = _fetch(settings_for(hub))
    assert listing.keys == sorted(r["name"] for r in hub.repos[ORG]) and listing.warnings == []
    pages = sorted(int(r.query["page"][0]) for r in _list_requests(hub))
    assert pages == list(range(1, REPO_COUNT // 25 + 1))


def _paginate(settings_for, handler, endpoint: hubmod.Endpoint, **overrides):  # type: ignore[no-untyped-def]
    """``(count, pages received)`` of ``endpoint`` on a server that is ``handler`` (the login aside)."""

    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/auth/token":
            return httpx.Response(200, json={"access_token": "a.b.c"})
        return handler(request)

    settings = settings_for(FakeHub(), api_url="http://hub.test", **overrides)
    received: dict[int, list | None] = {}

    with HubSession(settings, transport=httpx.MockTransport(serve)) as session:
        count = session.run(lambda client: client.paginate(endpoint, received.__setitem__))
    return count, received


def test_an_endpoint_without_count_or_next_ends_on_a_short_page_or_a_repeated_one(
    settings_for, caplog
) -> None:
    """Pages of 3 are the Hub's page size once page 2 is as long; a server that ignores ``page`` gives the
    same page again, which ends the listing instead of looping."""
    logs = [{"action": "repo.create", "name": f"acme/r{i}"} for i in range(8)]
    ignore_page = False
    asked: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        asked.append(number)
        start = 0 if ignore_page else (number - 1) * 3
        return httpx.Response(200, json={"logs": logs[start : start + 3]})

    endpoint = hubmod.Endpoint(
        path="/v2/auditlogs/acme", label="the acme audit log", noun="events", forbidden="", results="logs",
        counted=False,
    )  # fmt: skip
    _, received = _paginate(settings_for, handler, endpoint)
    assert asked == [1, 2, 3] and [e for n in sorted(received) for e in received[n] or ()] == logs
    ignore_page, asked[:] = True, []
    _paginate(settings_for, handler, endpoint)
    assert asked == [1, 2] and "with the same events as page 1: reading no further" in caplog.text


def test_a_page_past_the_end_stops_the_pages_still_to_ask(settings_for) -> None:
    """A count far above the listing (entries deleted since page 1): the first 404 ends the listing,
    instead of asking every page the count promised."""
    asked: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        asked.append(number)
        if number > 2:
            return httpx.Response(404, json={"detail": "Page not found"})
        results = [{"name": f"r{number}-{i}"} for i in range(100)]
        return httpx.Response(200, json={"count": 5000, "next": "x", "results": results})

    endpoint = hubmod.Endpoint(path="/v2/namespaces/acme/repositories", label="acme", noun="r", forbidden="")
    count, received = _paginate(settings_for, handler, endpoint, concurrency=2)
    assert count == 5000 and sum(len(page or ()) for page in received.values()) == 200
    assert sorted(asked)[:3] == [1, 2, 3] and len(asked) <= 4  # at most the other worker's page more


def test_duplicates_across_shifting_pages_are_dropped_and_the_count_checked(hub, settings_for) -> None:
    settings = settings_for(hub, concurrency=1)
    seen = []

    def on_page(done: int, total: int | None) -> None:
        seen.append(done)
        if done == 1:  # a repository created mid-run shifts page 2 by one entry
            hub.repos[ORG].insert(0, dict(hub.repos[ORG][0], name="0-new-repo"))

    with open_session(settings) as session:
        listing = session.run(lambda client: list_resource(client, REPOSITORIES, ORG, on_page=on_page))
    names = listing.keys
    assert len(names) == len(set(names)) == REPO_COUNT
    assert listing.duplicates == 1


def test_malformed_org_is_refused_before_any_request(hub, settings_for) -> None:
    with pytest.raises(ConfigError):
        settings_for(hub, org="../x")
    assert hub.requests == []


def test_redirects_are_not_followed(settings_for) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/auth/token":
            return httpx.Response(200, json={"access_token": "a.b.c"})
        return httpx.Response(302, headers={"Location": "https://elsewhere.example/x"})

    settings = settings_for(FakeHub(), api_url="http://hub.test")
    with HubSession(settings, transport=httpx.MockTransport(handler)) as session:
        with pytest.raises(ForeignHostError, match="redirected"):
            fetch_all_pages(session, REPOSITORIES)


def test_the_client_pages_through_any_endpoint_and_hands_over_plain_records(settings_for) -> None:
    """No resource in the client: another path, its own parameters, records as the Hub sent them, in
    whatever order the pages arrive; a 403 names what the endpoint says a token needs."""
    pages = {1: ["t1", "t2"], 2: ["t3"]}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/secret/tags"):
            return httpx.Response(403, json={"detail": "forbidden"})
        assert request.url.path == "/v2/namespaces/acme/repositories/web/tags"
        assert request.url.params["page_size"] == "100" and request.url.params["ordering"] == "last_updated"
        number = int(request.url.params["page"])
        return httpx.Response(200, json={"count": 3, "results": [{"name": n} for n in pages.get(number, [])]})

    def endpoint(path: str) -> hubmod.Endpoint:
        return hubmod.Endpoint(
            path=path, label="acme/web", noun="tags", forbidden="needs tag read",
            params={"ordering": "last_updated"},
        )  # fmt: skip

    count, received = _paginate(settings_for, handler, endpoint("/v2/namespaces/acme/repositories/web/tags"))
    assert count == 3 and received == {1: [{"name": "t1"}, {"name": "t2"}], 2: [{"name": "t3"}]}
    with pytest.raises(AuthError, match=r"may not list acme/web \(403: forbidden\): needs tag read"):
        _paginate(settings_for, handler, endpoint("/v2/namespaces/acme/repositories/secret/tags"))


def test_an_announced_budget_is_spent_then_every_request_waits_for_the_window(settings_for) -> None:
    """The Hub announces 12 requests per 0.4 s window: 40 pages take several windows and no 429."""
    server = FakeHub(
        repos={ORG: make_repos(ORG, 4000)},
        credentials={"t": (ORG, "all")},
        faults=Faults(quota=12, quota_window=0.4),
    )
    with server:
        listing = _fetch(settings_for(server, token="t", concurrency=8))
    assert len(listing.keys) == 4000
    assert server.quota_rejections == 0 and listing.stats.rate_limited == 0
    # 40 requests at 12 a window: the first 12 go at once, then every request waits for a new window.
    windows = sorted({int((r.started - server.requests[0].started) / 0.4) for r in _list_requests(server)})
    assert len(windows) >= 4


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: bound to learn a free number, then closed (connections to it
    are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "dockerhub_export.hub" and "again" in r.getMessage()
    ]


def test_a_refused_connection_names_the_url_and_the_network_not_the_concurrency(
    settings_for, closed_port, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="dockerhub_export.hub")
    url = f"http://127.0.0.1:{closed_port}"
    with pytest.raises(HubUnavailable) as info:
        open_session(settings_for(FakeHub(), api_url=url, max_attempts=6))
    message = str(info.value)
    assert message == (
        f"cannot connect to Docker Hub at {url} for login after 3 attempts (connection refused): check "
        "DOCKERHUB_API_URL and the network (DNS, proxy, firewall)"
    )
    lines = _retry_lines(caplog)  # 3 attempts of the 6 allowed: 2 lines, each naming the URL
    assert lines == [f"cannot connect to {url} for login (connection refused): trying again"] * 2


def test_after_a_login_connection_failures_get_every_attempt(settings_for) -> None:
    """Connections refused after a login are a Hub restarting, not a wrong URL: the usual retries."""
    server = FakeHub(repos={ORG: make_repos(ORG, 10)}, credentials={"t": (ORG, "all")}).start()
    settings = settings_for(server, token="t", max_attempts=4)
    with open_session(settings) as session:
        server.stop()
        with pytest.raises(HubUnavailable) as info:
            fetch_all_pages(session, REPOSITORIES)
    assert f"cannot connect to Docker Hub at {server.url} for {ORG} page 1 after 4 attempts" in str(
        info.value
    )


def test_timeouts_still_suggest_fewer_requests_in_flight_but_not_for_the_login(hub, settings_for) -> None:
    settings = settings_for(hub, timeout=0.2, max_attempts=2)
    with open_session(settings) as session:
        hub.faults.latency = 0.5
        with pytest.raises(HubUnavailable) as info:
            fetch_all_pages(session, REPOSITORIES)
    assert str(info.value) == (
        f"Docker Hub at {hub.url} kept failing for {ORG} page 1 after 2 attempts (last: a timeout): try "
        "again later or lower --concurrency"
    )
    with pytest.raises(HubUnavailable) as info:
        open_session(settings)
    assert str(info.value).endswith("for login after 2 attempts (last: a timeout): try again later")
