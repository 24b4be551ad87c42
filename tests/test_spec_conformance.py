"""Every request the export makes is valid under Docker's official Hub API spec."""

import httpx
import pytest
from specmock import SpecMock

from dockerhub_export.fetch import fetch_all_pages
from dockerhub_export.resources import REPOSITORIES
from dockerhub_export.session import open_session


@pytest.fixture
def spec_hub():  # type: ignore[no-untyped-def]
    with SpecMock() as mock:
        yield mock


def test_login_and_listing_requests_are_all_valid_under_the_spec(spec_hub: SpecMock, settings_for) -> None:
    settings = settings_for(spec_hub, concurrency=2)  # type: ignore[arg-type]
    with open_session(settings) as session:
        listing = fetch_all_pages(session, REPOSITORIES)
    assert spec_hub.violations == []
    operations = [operation for operation, _ in spec_hub.calls]
    assert operations[0] == "AuthCreateAccessToken"
    # The spec's example says count 287 in pages of 2, and the mock answers it whatever the page: page 2
    # equal to page 1 ends the listing (page 3 may already be asked for, at concurrency 2), instead of
    # the 144 pages of 2 that a real Hub giving 2 a page would need.
    assert 2 <= operations.count("listNamespaceRepositories") <= 4
    assert listing.keys == ["highland_builder", "whalesay"]
    assert any("reported 287 repositories" in warning for warning in listing.warnings)


def test_the_mock_does_catch_requests_outside_the_spec(spec_hub: SpecMock) -> None:
    httpx.get(f"{spec_hub.url}/v2/namespaces/acme/repositories", params={"page_size": 101})
    httpx.post(f"{spec_hub.url}/v2/auth/token", json={"identifier": "acme"})
    httpx.get(f"{spec_hub.url}/v2/repositories/acme/")
    assert len(spec_hub.violations) == 3, spec_hub.violations
