"""Hub authentication against the fake Hub over real HTTP: routes, failures, renewal."""

import time

import pytest
from conftest import ORG, PAT, TOKEN
from fakehub import FakeHub, Faults, make_repos

from dockerhub_export.errors import AuthError, LoginRateLimited, TwoFactorRequired
from dockerhub_export.fetch import fetch_all_pages
from dockerhub_export.resources import REPOSITORIES
from dockerhub_export.session import open_session


def _logins(server) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.path for r in server.requests if r.method == "POST"]


def test_oat_is_exchanged_on_the_current_token_route(hub, settings_for) -> None:
    with open_session(settings_for(hub)) as session:
        assert session.auth.logins == 1
    assert _logins(hub) == ["/v2/auth/token"]
    body = hub.requests[0].body.decode()
    assert f'"identifier":"{ORG}"' in body.replace(" ", "")


def test_pat_logs_in_with_the_username(hub, settings_for) -> None:
    open_session(settings_for(hub, token=PAT, username="alice")).close()
    assert '"identifier":"alice"' in hub.requests[0].body.decode().replace(" ", "")


def test_falls_back_to_the_deprecated_login_route_when_the_new_one_is_absent(hub, settings_for) -> None:
    hub.faults.auth_token_route = False
    with open_session(settings_for(hub)) as session:
        listing = fetch_all_pages(session, REPOSITORIES)
    assert _logins(hub) == ["/v2/auth/token", "/v2/users/login"]
    assert len(listing.keys) == len(hub.repos[ORG])


def test_wrong_token_is_one_clear_error_without_retries(hub, settings_for) -> None:
    with pytest.raises(AuthError) as info:
        open_session(settings_for(hub, token="wrong"))
    message = str(info.value)
    assert "rejected the credentials" in message and "DOCKERHUB_TOKEN" in message
    assert "wrong" not in message  # the secret itself is never echoed
    assert len(_logins(hub)) == 1


def test_two_factor_answer_tells_to_use_an_access_token(hub, settings_for) -> None:
    hub.faults.require_2fa = True
    with pytest.raises(TwoFactorRequired, match="access token"):
        open_session(settings_for(hub))
    assert len(_logins(hub)) == 1


def test_login_rate_limit_fails_at_once_instead_of_retrying(hub, settings_for) -> None:
    hub.faults.login_rate_limited = True
    with pytest.raises(LoginRateLimited, match="wait"):
        open_session(settings_for(hub))
    assert len(_logins(hub)) == 1


def test_jwt_is_renewed_before_its_exp_claim(settings_for) -> None:
    """With exp in the token, the client renews early: the Hub never has to answer 401."""
    faults = Faults(jwt_lifetime=1.0, latency=0.1)  # ten pages one after another outlive the token
    with FakeHub(repos={ORG: make_repos(ORG, 1000)}, credentials={TOKEN: (ORG, "all")}, faults=faults) as hub:
        with open_session(settings_for(hub, concurrency=1)) as session:
            listing = fetch_all_pages(session, REPOSITORIES)
    assert len(listing.keys) == 1000
    assert session.auth.logins >= 2
    assert [r.status for r in hub.requests if r.status == 401] == []


def test_expired_jwt_without_exp_is_renewed_once_on_401_and_the_request_retried(hub, settings_for) -> None:
    hub.faults.jwt_lifetime = 0.3
    hub.faults.jwt_has_exp = False
    hub.faults.latency = 0.12
    with open_session(settings_for(hub, concurrency=2)) as session:
        time.sleep(0.35)
        listing = fetch_all_pages(session, REPOSITORIES)
    assert len(listing.keys) == len(hub.repos[ORG])
    assert session.auth.logins >= 2


def test_token_revoked_mid_run_is_an_auth_error_not_a_retry_loop(hub, settings_for) -> None:
    hub.faults.jwt_lifetime = 0.2
    hub.faults.jwt_has_exp = False
    with open_session(settings_for(hub)) as session:
        hub.credentials.clear()  # revoked: the JWT expires and logging in again fails
        time.sleep(0.25)
        with pytest.raises(AuthError, match="rejected the credentials"):
            fetch_all_pages(session, REPOSITORIES)


def test_secret_never_appears_in_reprs(hub, settings_for) -> None:
    with open_session(settings_for(hub)) as session:
        auth = session.auth
        assert TOKEN not in repr(session) and TOKEN not in repr(auth)
        assert TOKEN not in repr(auth._credentials)  # noqa: SLF001


def test_an_org_token_refused_for_a_mistyped_org_says_to_check_the_org(hub, settings_for) -> None:
    """An organization access token logs in with the org's name: a typo in --org fails here, at login."""
    with pytest.raises(AuthError) as info:
        open_session(settings_for(hub, org="acmee"))
    message = str(info.value)
    assert "rejected the credentials for 'acmee'" in message
    assert "check the org name (--org / DOCKERHUB_ORG" in message and "DOCKERHUB_TOKEN" in message
    assert TOKEN not in message and len(_logins(hub)) == 1


def test_a_personal_token_refused_points_at_the_username_and_token_not_the_org(hub, settings_for) -> None:
    with pytest.raises(AuthError) as info:
        open_session(settings_for(hub, token="wrong", username="alice"))
    message = str(info.value)
    assert "rejected the credentials for 'alice'" in message
    assert "check DOCKERHUB_USERNAME and DOCKERHUB_TOKEN" in message and "--org" not in message
