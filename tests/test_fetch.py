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
