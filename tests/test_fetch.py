"""Pages joined into a resource's columns: in page order, whatever order they arrive in, keys unique."""

from conftest import ORG

from dockerhub_export.fetch import ColumnJoiner, Listing
from dockerhub_export.resources import REPOSITORIES


def _records(*names: str) -> list[dict]:
    return [{"name": name, "pull_count": len(name)} for name in names]


def test_pages_arriving_out_of_order_are_joined_in_page_order() -> None:
    listing = Listing(org=ORG, resource=REPOSITORIES, columns={}, api_count=5)
    joined = ColumnJoiner(listing)
    joined(3, _records("d", "e"))
    joined(4, None)  # answered 404: the listing shrank
    assert listing.keys == []  # waits for pages 1 and 2
    joined(2, _records("b", "c"))
    joined(1, _records("a", "b"))  # "b" moved to page 1 mid-run: page 2's copy is dropped
    joined(5, _records("f"))
    joined.finish()
    assert listing.keys == ["a", "b", "c", "d", "e", "f"]
    assert listing.columns["pull_count"] == [1, 1, 1, 1, 1, 1]
    assert list(listing.columns) == list(REPOSITORIES.schema.names)
    assert listing.duplicates == 1
    assert listing.warnings and "reported 5 repositories but 6" in listing.warnings[0]


def test_entries_without_a_key_are_skipped_with_a_warning_each() -> None:
    listing = Listing(org=ORG, resource=REPOSITORIES, columns={}, api_count=None)
    joined = ColumnJoiner(listing)
    joined(1, [{"name": "a"}, {"name": ""}, {"pull_count": 3}, "not a record", {"name": 7}])
    joined.finish()
    assert listing.keys == ["a"]
    assert listing.warnings == ["skipped a repository entry without a name"] * 4


# -- tags and the audit log, over real HTTP --------------------------------------------------------

from datetime import UTC, datetime  # noqa: E402

import pytest  # noqa: E402
from fakehub import make_tags  # noqa: E402

from dockerhub_export.errors import HubUnavailable  # noqa: E402
from dockerhub_export.fetch import fetch_audit_log, fetch_tags  # noqa: E402
from dockerhub_export.session import open_session  # noqa: E402


def _names(hub) -> list[str]:  # type: ignore[no-untyped-def]
    return [repo["name"] for repo in hub.repos[ORG]]


def test_tags_of_many_repositories_in_one_frame_with_their_repository(hub, settings_for) -> None:  # type: ignore[no-untyped-def]
    names = _names(hub)[:12]
    for i, name in enumerate(names):
        hub.tags[(ORG, name)] = make_tags(ORG, name, (0, 3, 250)[i % 3])  # none, one page, three pages
    with open_session(settings_for(hub, concurrency=4)) as session:
        listing = fetch_tags(session, names)
    assert sorted(listing.fetched) == sorted(names) and listing.gone == []
    assert len(listing.keys) == 4 * 3 + 4 * 250
    pairs = list(zip(listing.columns["repository"], listing.columns["tag"], strict=True))
    assert len(set(pairs)) == len(pairs) and set(listing.columns["namespace"]) == {ORG}
    first = hub.tags[(ORG, names[2])][0]
    row = pairs.index((names[2], first["name"]))
    assert listing.columns["digest"][row] == first["digest"]
    assert listing.columns["platforms"][row] in ("linux/amd64", "linux/amd64;linux/arm64/v8")
    assert hub.max_in_flight <= 4


def test_a_repository_deleted_mid_run_is_skipped_with_a_warning(hub, settings_for) -> None:  # type: ignore[no-untyped-def]
    names = _names(hub)[:3]
    for name in names:
        hub.tags[(ORG, name)] = make_tags(ORG, name, 2)
    hub.repos[ORG] = [repo for repo in hub.repos[ORG] if repo["name"] != names[1]]  # gone since listed
    with open_session(settings_for(hub)) as session:
        listing = fetch_tags(session, names)
    assert listing.gone == [names[1]] and sorted(listing.fetched) == sorted([names[0], names[2]])
    assert any(names[1] in warning and "404" in warning for warning in listing.warnings)


def test_a_tag_listing_that_keeps_failing_fails_the_fetch(hub, settings_for) -> None:  # type: ignore[no-untyped-def]
    names = _names(hub)[:3]
    hub.faults.fail_tags = {names[1]: [503] * 10}
    with open_session(settings_for(hub, max_attempts=2)) as session:
        with pytest.raises(HubUnavailable, match=f"{names[1]} tags page 1"):
            fetch_tags(session, names)


def test_the_audit_log_is_read_page_by_page_from_the_time_asked(hub, settings_for) -> None:  # type: ignore[no-untyped-def]
    for i in range(130):
        hub.delete_tag(ORG, "web", f"t{i}", when=1764633600.0 + i)
    since = datetime(2025, 12, 2, 0, 1, 0, tzinfo=UTC)  # 60 s in: 70 events
    with open_session(settings_for(hub)) as session:
        events = fetch_audit_log(session, since)
    assert len(events) == 70 and events[0]["data"] == {"tag": "t129"}
    requests = [r for r in hub.requests if r.path == f"/v2/auditlogs/{ORG}"]
    # A first page shorter than asked may be the Hub's own page size: page 2, empty, says it was all.
    assert [r.query["page"] for r in requests] == [["1"], ["2"]] and requests[0].query["from"] == [
        "2025-12-02T00:01:00Z"
    ]


def test_fewer_entries_a_page_than_asked_still_give_every_tag_and_event(hub, settings_for) -> None:  # type: ignore[no-untyped-def]
    """In 2023 the Hub answered 25 entries a page whatever page_size asked: nothing may go missing."""
    names = _names(hub)[:2]
    hub.tags[(ORG, names[0])] = make_tags(ORG, names[0], 130)
    for i in range(130):
        hub.delete_tag(ORG, "web", f"t{i}", when=1764633600.0 + i)
    hub.faults.page_size_cap = 25
    with open_session(settings_for(hub)) as session:
        listing = fetch_tags(session, names)
        events = fetch_audit_log(session, None)
    assert len(listing.keys) == 130 and listing.warnings == []
    assert len(events) == 130
    assert len({event["data"]["tag"] for event in events}) == 130
    pages = [r.query["page"][0] for r in hub.requests if r.path == f"/v2/auditlogs/{ORG}"]
    assert pages == ["1", "2", "3", "4", "5", "6"]  # 5 x 25, then 5: the short page ends it
