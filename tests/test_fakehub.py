"""The fake Docker Hub, exercised over real HTTP with httpx, as the exporter will use it."""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakehub import FakeHub, Faults, make_repos

LIST = "/v2/namespaces/acme/repositories"
N_REPOS = 120  # private_every=3 -> 40 private, 80 public


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    credentials = {"oat-all": ("acme", "all"), "oat-pub": ("acme", "public"), "pat": ("alice", "all")}
    with FakeHub({"acme": make_repos("acme", N_REPOS)}, credentials) as started:
        yield started


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def login(hub: FakeHub, client: httpx.Client, secret: str = "oat-all", identifier: str = "acme") -> str:
    response = client.post(f"{hub.url}/v2/auth/token", json={"identifier": identifier, "secret": secret})
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def walk(client: httpx.Client, url: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Follow `next` links to the end, as the exporter does."""
    pages = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url, **kwargs)
        response.raise_for_status()
        pages.append(response.json())
        next_url = pages[-1]["next"]
        kwargs.pop("params", None)  # next links carry the query
    return pages


# -- authentication ------------------------------------------------------------------------------


def test_auth_token_returns_signed_expiring_jwt(hub: FakeHub, client: httpx.Client) -> None:
    token = login(hub, client)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "HS256", "typ": "JWT"}
    payload = claims(token)
    assert payload["sub"] == "acme" and payload["scope"] == "all" and payload["jti"]
    assert payload["exp"] - payload["iat"] == 600 and isinstance(payload["exp"], int)  # whole seconds
    assert client.get(hub.url + LIST, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert claims(login(hub, client))["jti"] != payload["jti"]


def test_auth_token_rejects_bad_credentials_and_bodies(hub: FakeHub, client: httpx.Client) -> None:
    url = f"{hub.url}/v2/auth/token"
    for body in ({"identifier": "acme", "secret": "nope"}, {"identifier": "other", "secret": "oat-all"}):
        response = client.post(url, json=body)
        assert response.status_code == 401
        assert response.json()["detail"] == "Incorrect authentication credentials"
        assert set(response.json()) >= {"detail", "errinfo", "message"}
    assert client.post(url, content=b"{not json").status_code == 400
    assert client.post(url, json={"username": "acme", "password": "oat-all"}).status_code == 400
    assert client.post(url, json={"identifier": "ACME", "secret": "oat-all"}).status_code == 200


def test_users_login(hub: FakeHub, client: httpx.Client) -> None:
    url = f"{hub.url}/v2/users/login"
    ok = client.post(url, json={"username": "alice", "password": "pat"})
    assert ok.status_code == 200 and claims(ok.json()["token"])["sub"] == "alice"
    bad = client.post(url, json={"username": "alice", "password": "wrong"})
    assert bad.status_code == 401
    assert bad.json() == {"detail": "Incorrect authentication credentials", "login_2fa_token": None}


def test_auth_token_route_can_be_missing(hub: FakeHub, client: httpx.Client) -> None:
    hub.faults.auth_token_route = False
    response = client.post(f"{hub.url}/v2/auth/token", json={"identifier": "acme", "secret": "oat-all"})
    assert response.status_code == 404 and response.headers["content-type"] == "application/json"
    fallback = client.post(f"{hub.url}/v2/users/login", json={"username": "acme", "password": "oat-all"})
    assert fallback.status_code == 200


def test_require_2fa(hub: FakeHub, client: httpx.Client) -> None:
    hub.faults.require_2fa = True
    old = client.post(f"{hub.url}/v2/users/login", json={"username": "alice", "password": "pat"})
    assert old.status_code == 401
    assert old.json() == {
        "detail": "Require secondary authentication on MFA enabled account",
        "login_2fa_token": "abc",
    }
    new = client.post(f"{hub.url}/v2/auth/token", json={"identifier": "alice", "secret": "pat"})
    assert new.status_code == 401 and "2FA" in new.json()["detail"] and new.json()["login_2fa_token"] == "abc"


def test_login_rate_limited(hub: FakeHub, client: httpx.Client) -> None:
    hub.faults.login_rate_limited = True
    for path, body in (
        ("/v2/auth/token", {"identifier": "acme", "secret": "oat-all"}),
        ("/v2/users/login", {"username": "acme", "password": "oat-all"}),
    ):
        response = client.post(hub.url + path, json=body)
        assert response.status_code == 429 and response.headers["retry-after"] == "60"
        assert response.headers["content-type"].startswith("text/plain")


def test_expired_and_invalid_jwts_get_401(hub: FakeHub, client: httpx.Client) -> None:
    hub.faults.jwt_lifetime = 0.5
    token = login(hub, client)
    assert claims(token)["exp"] - claims(token)["iat"] == pytest.approx(0.5)  # sub-second precision
    assert claims(token)["exp"] == pytest.approx(time.time() + 0.5, abs=0.2)
    hub.faults.jwt_has_exp = False
    token_without_exp = login(hub, client)
    assert "exp" not in claims(token_without_exp)
    for t in (token, token_without_exp):
        assert client.get(hub.url + LIST, headers={"Authorization": f"Bearer {t}"}).status_code == 200
    time.sleep(0.55)
    for t in (token, token_without_exp):
        response = client.get(hub.url + LIST, headers={"Authorization": f"Bearer {t}"})
        assert response.status_code == 401 and response.json()["detail"] == "token expired"

    with FakeHub({}, {"oat-all": ("acme", "all")}) as other:
        foreign = login(other, client)  # signed with another server's secret
    for auth in (f"Bearer {foreign}", "Bearer garbage", "Bearer a.b.c", "Basic xyz"):
        response = client.get(hub.url + LIST, headers={"Authorization": auth})
        assert response.status_code == 401 and "detail" in response.json(), auth


# -- listing ---------------------------------------------------------------------------------------


def test_pagination_walks_every_repository_with_absolute_links(hub: FakeHub, client: httpx.Client) -> None:
    token = login(hub, client)
    pages = walk(
        client,
        hub.url + LIST,
        params={"page_size": 25, "ordering": "name"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert len(pages) == 5 and all(p["count"] == N_REPOS for p in pages)
    names = [r["name"] for p in pages for r in p["results"]]
    assert names == sorted(r["name"] for r in hub.repos["acme"])
    assert pages[0]["previous"] is None and pages[-1]["next"] is None
    assert pages[0]["next"] == f"{hub.url}{LIST}?page=2&page_size=25&ordering=name"
    assert pages[2]["previous"] == f"{hub.url}{LIST}?page=2&page_size=25&ordering=name"
    assert [len(p["results"]) for p in pages] == [25, 25, 25, 25, 20]
    assert pages[0]["results"][0] == next(r for r in hub.repos["acme"] if r["name"] == names[0])


def test_default_ordering_and_page_size(hub: FakeHub, client: httpx.Client) -> None:
    token = login(hub, client)
    body = client.get(hub.url + LIST, headers={"Authorization": f"Bearer {token}"}).json()
    assert body["results"] == hub.repos["acme"][:10]
    assert body["next"] == f"{hub.url}{LIST}?page=2&page_size=10"


def test_anonymous_and_public_scope_see_only_public(hub: FakeHub, client: httpx.Client) -> None:
    public = [r for r in hub.repos["acme"] if not r["is_private"]]
    anonymous = walk(client, hub.url + LIST, params={"page_size": 100})
    assert anonymous[0]["count"] == len(public) == 80
    assert [r for p in anonymous for r in p["results"]] == public
    token = login(hub, client, "oat-pub")
    scoped = client.get(
        hub.url + LIST, params={"page_size": 100}, headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert scoped["count"] == 80 and not any(r["is_private"] for r in scoped["results"])
    login_body = {"username": "alice", "password": "pat"}
    pat = client.post(f"{hub.url}/v2/users/login", json=login_body).json()["token"]
    full = client.get(hub.url + LIST, headers={"Authorization": f"Bearer {pat}"}).json()
    assert full["count"] == N_REPOS


def test_unknown_namespace_is_empty_and_past_the_end_is_404(hub: FakeHub, client: httpx.Client) -> None:
    empty = client.get(f"{hub.url}/v2/namespaces/nobody/repositories")
    assert empty.status_code == 200
    assert empty.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert client.get(f"{hub.url}/v2/namespaces/nobody/repositories", params={"page": 2}).status_code == 404
    past = client.get(hub.url + LIST, params={"page": 9, "page_size": 10})  # 80 public -> 8 pages
    assert past.status_code == 404 and past.json()["detail"] == "Page not found"
    assert client.get(hub.url + LIST, params={"page": 8, "page_size": 10}).status_code == 200


@pytest.mark.parametrize("params", [{"page_size": 101}, {"page_size": 0}, {"page": 0}, {"page": "x"}])
def test_bad_paging_parameters_are_400(hub: FakeHub, client: httpx.Client, params: dict[str, Any]) -> None:
    response = client.get(hub.url + LIST, params=params)
    assert response.status_code == 400 and set(response.json()) == {"detail", "errinfo", "message"}


def test_bad_ordering_is_400(hub: FakeHub, client: httpx.Client) -> None:
    response = client.get(hub.url + LIST, params={"ordering": "stars"})
    assert response.status_code == 400
    assert response.json()["text"] == "Invalid ordering value" and "ordering" in response.json()["fields"]


def test_ordering_by_timestamp_and_pulls(hub: FakeHub, client: httpx.Client) -> None:
    token = login(hub, client)
    auth = {"Authorization": f"Bearer {token}"}
    for ordering, key in (("last_updated", "last_updated"), ("-pull_count", "pull_count")):
        pages = walk(client, hub.url + LIST, params={"page_size": 100, "ordering": ordering}, headers=auth)
        values = [r[key] for p in pages for r in p["results"]]
        present = [v for v in values if v is not None]
        nulls = len(values) - len(present)
        assert nulls > 0
        if ordering.startswith("-"):  # descending: nulls first, like PostgreSQL
            assert values[:nulls] == [None] * nulls and present == sorted(present, reverse=True)
        else:  # ascending: nulls last; compared as instants, not strings (mixed fraction digits)
            assert values[len(present) :] == [None] * nulls
            instants = [datetime.fromisoformat(v) for v in present]
            assert instants == sorted(instants)


def test_name_filter_is_partial_and_kept_in_links(hub: FakeHub, client: httpx.Client) -> None:
    token = login(hub, client)
    pages = walk(
        client,
        hub.url + LIST,
        params={"name": "SVC", "page_size": 5},
        headers={"Authorization": f"Bearer {token}"},
    )
    names = [r["name"] for p in pages for r in p["results"]]
    assert names == [r["name"] for r in hub.repos["acme"] if "svc" in r["name"]] and len(names) == 12
    assert "name=SVC" in pages[0]["next"]


def test_next_link_base_and_omit_count(hub: FakeHub, client: httpx.Client) -> None:
    hub.faults = Faults(next_link_base="http://mirror.example:8443/", omit_count=True)  # swappable at runtime
    body = client.get(hub.url + LIST).json()
    assert "count" not in body
    assert body["next"] == f"http://mirror.example:8443{LIST}?page=2&page_size=10"


# -- faults ----------------------------------------------------------------------------------------


def test_rate_limit_every_nth_list_request(hub: FakeHub, client: httpx.Client) -> None:
    hub.faults.rate_limit_every = 2
    hub.faults.retry_after = 0.2
    login(hub, client)  # logins do not count
    assert client.get(hub.url + LIST).status_code == 200
    limited = client.get(hub.url + LIST)
    assert limited.status_code == 429 and limited.text == "Too Many Requests"
    assert limited.headers["content-type"].startswith("text/plain")
    assert limited.headers["retry-after"] == "0.2"

    hub.faults.rate_limit_header = "X-RateLimit-Reset"
    client.get(hub.url + LIST)
    reset = client.get(hub.url + LIST)
    assert reset.status_code == 429 and "retry-after" not in reset.headers
    assert time.time() < int(reset.headers["x-ratelimit-reset"]) <= time.time() + 2

    hub.faults.rate_limit_header = "none"
    client.get(hub.url + LIST)
    bare = client.get(hub.url + LIST)
    assert bare.status_code == 429 and "retry-after" not in bare.headers
    assert "x-ratelimit-reset" not in bare.headers


def test_503_every_nth_list_request(hub: FakeHub, client: httpx.Client) -> None:
    hub.faults.fail_503_every = 3
    statuses = [client.get(hub.url + LIST).status_code for _ in range(6)]
    assert statuses == [200, 200, 503, 200, 200, 503]
    hub.faults.fail_503_every = 1
    failed = client.get(hub.url + LIST)
    assert failed.headers["content-type"].startswith("text/plain") and failed.text == "Service Unavailable"


def test_fail_pages_are_consumed_in_order(hub: FakeHub, client: httpx.Client) -> None:
    hub.faults.fail_pages = {2: [503, 429, 500]}
    statuses = [client.get(hub.url + LIST, params={"page": 2}).status_code for _ in range(4)]
    assert statuses == [503, 429, 500, 200]
    assert client.get(hub.url + LIST, params={"page": 1}).status_code == 200
    assert hub.faults.fail_pages == {2: []}


def test_dropped_connection_is_a_transport_error(hub: FakeHub, client: httpx.Client) -> None:
    assert client.get(hub.url + LIST).status_code == 200  # leaves a pooled keep-alive connection
    hub.faults.drop_every = 1
    with pytest.raises(httpx.TransportError):
        client.get(hub.url + LIST)
    hub.faults.fail_pages = {1: [0]}  # 0 in fail_pages drops too
    hub.faults.drop_every = 0
    with pytest.raises(httpx.TransportError):
        client.get(hub.url + LIST)
    assert client.get(hub.url + LIST).status_code == 200  # the client recovers on a new connection
    assert [r.status for r in hub.requests] == [200, 0, 0, 200]


def test_keep_alive_reuses_one_connection(hub: FakeHub, client: httpx.Client) -> None:
    addresses = set()
    for _ in range(5):
        response = client.get(hub.url + LIST)
        addresses.add(response.extensions["network_stream"].get_extra_info("client_addr"))
    assert len(addresses) == 1


def test_latency_recording_and_max_in_flight(hub: FakeHub, client: httpx.Client) -> None:
    hub.faults.latency = 0.3  # long enough for all four requests to overlap on a busy machine
    token = login(hub, client)
    hub.reset_stats()
    assert hub.requests == [] and hub.max_in_flight == 0
    with httpx.Client(timeout=5, limits=httpx.Limits(max_connections=4)) as pooled:
        threads = [
            threading.Thread(
                target=pooled.get,
                args=(hub.url + LIST,),
                kwargs={"headers": {"Authorization": f"Bearer {token}"}, "params": {"page": p}},
            )
            for p in range(1, 5)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert hub.max_in_flight == 4
    assert sorted(int(r.query["page"][0]) for r in hub.requests) == [1, 2, 3, 4]
    for recorded in hub.requests:
        assert recorded.method == "GET" and recorded.path == LIST and recorded.status == 200
        assert recorded.headers["authorization"] == f"Bearer {token}"
        assert recorded.ended - recorded.started >= 0.3


def test_logins_are_recorded_with_body(hub: FakeHub, client: httpx.Client) -> None:
    login(hub, client)
    (recorded,) = hub.requests
    assert recorded.path == "/v2/auth/token" and json.loads(recorded.body)["secret"] == "oat-all"
    assert hub.list_requests_seen == 0 and hub.max_in_flight == 0


def test_unknown_routes_and_methods(hub: FakeHub, client: httpx.Client) -> None:
    missing = client.get(f"{hub.url}/v2/repositories/acme/")
    assert missing.status_code == 404 and missing.json()["detail"] == "Not found"
    assert client.post(hub.url + LIST).status_code == 405
    assert client.get(f"{hub.url}/v2/auth/token").status_code == 405


def test_stop_closes_keep_alive_connections(client: httpx.Client) -> None:
    hub = FakeHub({"acme": make_repos("acme", 5)}).start()
    assert client.get(hub.url + LIST).status_code == 200
    hub.stop()
    with pytest.raises(httpx.TransportError):
        client.get(hub.url + LIST)


def test_runs_as_a_script_with_tags_and_an_announced_budget() -> None:
    script = Path(__file__).with_name("fakehub.py")
    args = ["--org", "demo", "--repos", "30", "--token", "tok", "--port", "0", "--tags", "3", "--quota", "50"]
    proc = subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        # every 10th of the 30 repositories has 10 times as many tags: 27 × 3 + 3 × 30
        expected = (
            r"fake hub on (http://127\.0\.0\.1:\d+) \(org demo, day 0: the night of \d{4}-\d\d-\d\d, "
            r"30 repositories, 171 tags, token: tok\)\n"
        )
        match = re.fullmatch(expected, line)
        assert match, line
        listing = httpx.get(f"{match.group(1)}/v2/namespaces/demo/repositories", timeout=5)
        assert listing.json()["count"] == 20  # anonymous: the public ones
        assert listing.headers["X-RateLimit-Limit"] == "50"
        name = listing.json()["results"][0]["name"]
        tags = httpx.get(f"{match.group(1)}/v2/namespaces/demo/repositories/{name}/tags", timeout=5).json()
        assert tags["count"] in (3, 30)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=5) == 0
        finally:
            proc.kill()  # no-op when it already exited
            proc.wait()


# -- make_repos ------------------------------------------------------------------------------------

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z")
SPEC_KEYS = [
    "name",
    "namespace",
    "repository_type",
    "status",
    "status_description",
    "description",
    "is_private",
    "star_count",
    "pull_count",
    "last_updated",
    "last_modified",
    "date_registered",
    "affiliation",
    "media_types",
    "content_types",
    "categories",
    "storage_size",
]


def fraction_digits(stamp: str) -> int:
    return len(stamp[20:-1]) if "." in stamp else 0


def test_make_repos_is_deterministic_and_valid() -> None:
    repos = make_repos("acme", 300)
    assert repos == make_repos("acme", 300)
    assert repos != make_repos("acme", 300, seed=1)
    assert make_repos("acme", 300)[:50] == make_repos("acme", 50)
    names = [r["name"] for r in repos]
    assert len(set(names)) == 300
    assert all(re.fullmatch(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", n) for n in names)
    assert any("." in n and "_" in n and "-" in n for n in names)
    assert all(list(r) == SPEC_KEYS and r["namespace"] == "acme" for r in repos)
    assert sum(r["is_private"] for r in repos) == 100
    assert not any(r["is_private"] for r in make_repos("acme", 30, private_every=0))
    for r in repos:
        for key in ("last_updated", "last_modified", "date_registered"):
            assert r[key] is None or TIMESTAMP.fullmatch(r[key]), r[key]
        assert all(set(c) == {"name", "slug"} for c in r["categories"])


def test_make_repos_tricky_values_present_from_50() -> None:
    repos = make_repos("acme", 50)
    for key in (
        "last_updated",
        "last_modified",
        "description",
        "repository_type",
        "storage_size",
        "pull_count",
        "star_count",
        "affiliation",
    ):
        assert any(r[key] is None for r in repos), key
    stamps = [r[k] for r in repos for k in ("last_updated", "last_modified", "date_registered") if r[k]]
    assert {0, 3, 5, 6, 9} <= {fraction_digits(s) for s in stamps}
    descriptions = [r["description"] for r in repos]
    for needle in (",", '"', "\r\n", "日本語 🐳"):
        assert any(d and needle in d for d in descriptions), needle
    assert any(d and "\n" in d and "\r" not in d for d in descriptions)
    assert {"=SUM(A1)", "+1", "-x", "@cmd", "\tTab", ""} <= set(descriptions)
    assert {"", None} <= {r["affiliation"] for r in repos}
    for key in ("media_types", "content_types", "categories"):
        assert any(r[key] == [] for r in repos), key
    assert descriptions.count("=SUM(A1)") == 1  # sprinkled, not everywhere
    assert sum(r["description"] in ("", None) or not r["description"].isascii() for r in repos) <= 12


def test_make_repos_without_tricky_values_is_clean() -> None:
    for r in make_repos("acme", 200, tricky=False):
        assert None not in r.values()
        assert r["affiliation"] == "" and r["media_types"] and r["content_types"]
        assert all(fraction_digits(r[k]) == 6 for k in ("last_updated", "last_modified", "date_registered"))
        assert re.fullmatch(r"[a-z ]+", r["description"])


# -- tags, the audit log, the announced budget ------------------------------------------------------


@pytest.fixture
def tagged(hub: FakeHub) -> FakeHub:
    from fakehub import make_tags

    public, private = hub.repos["acme"][0]["name"], hub.repos["acme"][2]["name"]
    hub.tags[("acme", public)] = make_tags("acme", public, 230)
    hub.tags[("acme", private)] = make_tags("acme", private, 3)
    hub.credentials["oat-noaudit"] = ("acme", "all-noaudit")
    return hub


def test_tags_are_paged_in_the_live_shape_and_private_ones_need_the_scope(
    tagged: FakeHub, client: httpx.Client
) -> None:
    public, private = tagged.repos["acme"][0]["name"], tagged.repos["acme"][2]["name"]
    auth = {"Authorization": f"Bearer {login(tagged, client)}"}
    pages = walk(
        client, f"{tagged.url}/v2/namespaces/acme/repositories/{public}/tags?page_size=100", headers=auth
    )
    assert [page["count"] for page in pages] == [230, 230, 230]
    tags = [tag for page in pages for tag in page["results"]]
    assert len(tags) == len({tag["name"] for tag in tags}) == 230
    latest = next(tag for tag in tags if tag["name"] == "latest")
    assert {"tag_status", "images", "digest", "media_type", "full_size", "tag_last_pulled"} <= set(latest)
    assert isinstance(latest["images"], list) and "status" not in latest
    assert sum(tag["digest"] == latest["digest"] for tag in tags) == 2  # latest shares its version's digest
    public_auth = {"Authorization": f"Bearer {login(tagged, client, 'oat-pub')}"}
    url = f"{tagged.url}/v2/namespaces/acme/repositories/{private}/tags"
    assert client.get(url, headers=public_auth).status_code == 404
    assert client.get(url, headers=auth).json()["count"] == 3
    assert (
        client.get(f"{tagged.url}/v2/namespaces/acme/repositories/gone/tags", headers=auth).status_code == 404
    )
    assert client.get(f"{url}?page=2", headers=auth).status_code == 404  # past the last page


def test_history_helpers_change_tags_and_log_what_the_repository_does_not_show(
    tagged: FakeHub, client: httpx.Client
) -> None:
    name = tagged.repos["acme"][0]["name"]
    before = dict(tagged.repos["acme"][0])
    tagged.delete_tag("acme", name, "v1.0.3", when=1764633600.0, actor="bob")
    assert tagged.repos["acme"][0] == before  # a deleted tag leaves no trace on the repository
    tagged.push_tag("acme", name, "v9", digest="sha256:" + "9" * 64, size=10, when=1764637200.0)
    assert tagged.repos["acme"][0]["last_updated"] == "2025-12-02T01:00:02.5Z"
    tagged.pull("acme", name, "v9", when=1764640800.0, count=3)
    assert tagged.repos["acme"][0]["pull_count"] == (before["pull_count"] or 0) + 3
    auth = {"Authorization": f"Bearer {login(tagged, client)}"}
    logs = client.get(f"{tagged.url}/v2/auditlogs/acme", headers=auth).json()["logs"]
    assert [(event["action"], event["actor"], event["data"]) for event in logs] == [
        ("repo.tag.push", "ci-bot", {"tag": "v9", "digest": "sha256:" + "9" * 64}),  # newest first
        ("repo.tag.delete", "bob", {"tag": "v1.0.3"}),
    ]
    assert logs[0]["name"] == f"acme/{name}" and logs[0]["timestamp"] == "2025-12-02T01:00:00Z"
    only = client.get(
        f"{tagged.url}/v2/auditlogs/acme?from=2025-12-02T00:30:00Z&action=repo.tag.push", headers=auth
    ).json()["logs"]
    assert len(only) == 1 and only[0]["action"] == "repo.tag.push"


def test_the_audit_log_pages_without_count_or_next_and_needs_its_scope(
    tagged: FakeHub, client: httpx.Client
) -> None:
    for i in range(60):
        tagged.delete_tag("acme", "x", f"t{i}", when=1764633600.0 + i)
    auth = {"Authorization": f"Bearer {login(tagged, client)}"}
    sizes = [
        len(client.get(f"{tagged.url}/v2/auditlogs/acme?page={p}", headers=auth).json()["logs"])
        for p in (1, 2, 3, 4)
    ]
    assert sizes == [25, 25, 10, 0]  # page_size 25 by default: a short page is the end
    assert set(client.get(f"{tagged.url}/v2/auditlogs/acme", headers=auth).json()) == {"logs"}
    noaudit = {"Authorization": f"Bearer {login(tagged, client, 'oat-noaudit')}"}
    assert client.get(f"{tagged.url}/v2/auditlogs/acme", headers=noaudit).status_code == 403
    tagged.faults.audit_status = 404  # a plan without audit logs
    assert client.get(f"{tagged.url}/v2/auditlogs/acme", headers=auth).status_code == 404


def test_an_announced_budget_is_in_every_answer_and_enforced(hub: FakeHub, client: httpx.Client) -> None:
    hub.faults.quota, hub.faults.quota_window = 3, 1.0
    auth = {"Authorization": f"Bearer {login(hub, client)}"}
    answers = [client.get(f"{hub.url}{LIST}", headers=auth) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["X-RateLimit-Limit"] == "3" for a in answers)
    reset = float(answers[0].headers["X-RateLimit-Reset"])
    assert 0 < reset - time.time() <= 1.0 and 0 < float(answers[3].headers["Retry-After"]) <= 1.0
    assert hub.quota_rejections == 1
    time.sleep(max(0.0, reset - time.time()) + 0.05)
    assert client.get(f"{hub.url}{LIST}", headers=auth).status_code == 200  # a new window
