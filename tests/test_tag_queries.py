"""tag_queries: stale tags and the bytes only they hold, storage per repository, by the issue's rules."""

from datetime import date

from dockerhub_export.tag_queries import stale, storage

NIGHT = date(2026, 11, 27)


def row(repository: str, tag: str, digest: str, size: int, pulled: str | None, pushed: str | None) -> tuple:
    return (repository, tag, digest, size, pulled, pushed)


def test_stale_is_before_midnight_utc_of_the_night_minus_n_days() -> None:
    rows = [
        row("web", "edge-old", "sha256:a", 10, "2026-10-27T23:59:59.999999999Z", None),  # a nanosecond before
        row("web", "edge-new", "sha256:b", 20, "2026-10-28T00:00:00Z", None),  # exactly on the threshold
        row("web", "never-pulled", "sha256:c", 30, None, "2026-01-01T00:00:00Z"),
        row("web", "unknown", "sha256:d", 40, None, None),
    ]
    report = stale(rows, NIGHT, 30)
    assert [tag["tag"] for tag in report.tags] == ["unknown", "never-pulled", "edge-old"]  # largest first
    assert report.to_json_dict()["tags"][0] == {
        "repository": "web",
        "tag": "unknown",
        "digest": "sha256:d",
        "full_size": 40,
        "tag_last_pulled": None,
        "tag_last_pushed": None,
    }
    assert report.reclaimable_bytes == 10 + 30 + 40


def test_a_digest_is_reclaimable_only_if_every_tag_on_it_is_stale_and_counts_once() -> None:
    old, new = "2020-01-01T00:00:00Z", "2026-11-26T00:00:00Z"
    rows = [
        row("web", "v1", "sha256:x", 100, old, old),
        row("web", "v1-alias", "sha256:x", 100, old, old),  # once
        row("web", "v2", "sha256:y", 200, old, old),
        row("web", "latest", "sha256:y", 200, new, old),  # in use
        row("api", "v1", "sha256:x", 100, old, old),  # the same digest in another repository counts again
    ]
    report = stale(rows, NIGHT, 180)
    assert len(report.tags) == 4 and report.reclaimable_bytes == 100 + 100


def test_storage_counts_each_digest_once_per_repository() -> None:
    rows = [
        row("web", "v1", "sha256:x", 100, None, None),
        row("web", "latest", "sha256:x", 100, None, None),
        row("web", "v2", "sha256:y", 50, None, None),
        row("api", "v1", "sha256:x", 100, None, None),
    ]
    report = storage(rows, NIGHT)
    assert report.to_json_dict() == {
        "snapshot_date": "2026-11-27",
        "repositories": [
            {"repository": "web", "bytes": 150, "tags": 3, "digests": 2},
            {"repository": "api", "bytes": 100, "tags": 1, "digests": 1},
        ],
        "repositories_total": 2,
        "repositories_left_out": 0,
        "total_bytes": 250,
    }


def test_stale_with_top_keeps_the_largest_as_the_whole_list_would_and_still_counts_every_stale_tag() -> None:
    old, new = "2020-01-01T00:00:00Z", "2026-11-26T00:00:00Z"
    rows = [row("web", f"v{k}", f"sha256:{k % 4}", (k * 37) % 11, None, old) for k in range(30)]
    rows += [row("api", "fresh", "sha256:0", 99, new, old), row("api", "same", "sha256:9", 10, None, old)]
    whole = stale(rows, NIGHT, 180)
    kept = stale(iter(rows), NIGHT, 180, top=5)  # any iterable, read once
    assert kept.tags == whole.tags[:5] and len(whole.tags) == whole.tags_total == kept.tags_total == 31
    assert kept.reclaimable_bytes == whole.reclaimable_bytes > 0
    assert kept.to_json_dict()["tags_left_out"] == 26
