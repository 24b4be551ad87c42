"""What a night's tag inventory says: stale tags and the bytes only they hold; storage per repository.

Computed in Python over one night's inventory (`store.tag_inventory`: a few hundred thousand rows at
most), the same on every backend. Two caveats, also in the docs:

* ``tag_last_pulled`` is a weak signal: vulnerability scanners, mirrors and crawlers pull too, so a
  tag that looks used may not be. A tag that was never pulled counts by its push.
* The tags endpoint does not list untagged manifests, so storage from tags is a lower bound of what
  the registry keeps; and layers shared between images count once per digest that uses them.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

STALE_DAYS = 180  # the nightly summary's threshold: the Hub's UI calls an image stale after 6 months

INVENTORY = ("digest", "full_size", "tag_last_pulled", "tag_last_pushed")
"""The columns these reports read, after ``repository`` and ``tag``."""


def moment(text: str | None) -> str:
    """A canonical timestamp as a sortable key: the fraction padded to 9 digits ("" for unknown)."""
    if not text:
        return ""
    if len(text) > 20 and text[19] == ".":
        return text[:19] + "." + text[20:].rstrip("Z").ljust(9, "0")
    return text[:19] + ".000000000"


def last_activity(pulled: str | None, pushed: str | None) -> str | None:
    """The later of the last pull and the last push (a tag never pulled counts by its push)."""
    known = [text for text in (pulled, pushed) if text]
    return max(known, key=moment) if known else None


@dataclass
class StaleReport:
    snapshot_date: date
    days: int
    tags: list[dict[str, Any]] = field(default_factory=list)  # largest first
    reclaimable_bytes: int = 0

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "snapshot_date": self.snapshot_date.isoformat(),
            "days": self.days,
            "tags": self.tags,
            "reclaimable_bytes": self.reclaimable_bytes,
        }


def stale(rows: Iterable[Sequence[Any]], night: date, days: int) -> StaleReport:
    """The tags whose last activity is before 00:00 UTC of ``night`` minus ``days`` days.

    ``rows``: (repository, tag, digest, full_size, tag_last_pulled, tag_last_pushed), timestamps as
    canonical text. Reclaimable: per repository, each digest that only stale tags point at, its size
    counted once.
    """
    # Against a midnight, canonical timestamps compare as text: "2026-10-27T23:59:59.999999999Z" is before
    # "2026-10-28T00:00:00", and "2026-10-28T00:00:00Z" (or any fraction of that second) is not.
    threshold = (night - timedelta(days=days)).isoformat() + "T00:00:00"
    report = StaleReport(night, days)
    fresh_digests: set[tuple[str, Any]] = set()
    stale_digests: dict[tuple[str, Any], int] = {}
    for repository, tag, digest, size, pulled, pushed in rows:
        if (pulled and pulled >= threshold) or (pushed and pushed >= threshold):
            fresh_digests.add((repository, digest))
            continue
        report.tags.append(
            {"repository": repository, "tag": tag, "digest": digest, "full_size": size,
             "tag_last_pulled": pulled, "tag_last_pushed": pushed}
        )  # fmt: skip
        stale_digests[(repository, digest)] = max(stale_digests.get((repository, digest), 0), size or 0)
    report.reclaimable_bytes = sum(size for key, size in stale_digests.items() if key not in fresh_digests)
    report.tags.sort(key=lambda row: (-(row["full_size"] or 0), row["repository"], row["tag"]))
    return report


@dataclass
class StorageReport:
    snapshot_date: date
    repositories: list[dict[str, Any]] = field(default_factory=list)  # largest first
    total_bytes: int = 0

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "snapshot_date": self.snapshot_date.isoformat(),
            "repositories": self.repositories,
            "total_bytes": self.total_bytes,
        }


def storage(rows: Iterable[Sequence[Any]], night: date) -> StorageReport:
    """Per repository: the bytes of its distinct digests (each digest's ``full_size`` once), its tags and
    its digests. ``rows`` as for `stale`."""
    sizes: dict[str, dict[Any, int]] = defaultdict(dict)
    tags: dict[str, int] = defaultdict(int)
    for repository, _tag, digest, size, _pulled, _pushed in rows:
        tags[repository] += 1
        digests = sizes[repository]
        digests[digest] = max(digests.get(digest, 0), size or 0)
    return storage_of(
        (
            (repository, tags[repository], len(digests), sum(digests.values()))
            for repository, digests in sizes.items()
        ),
        night,
    )


def storage_of(totals: Iterable[Sequence[Any]], night: date) -> StorageReport:
    """The report of per-repository totals: (repository, tags, digests, bytes), as `tag_storage` keeps
    them for every night."""
    report = StorageReport(night)
    for repository, tags, digests, size in totals:
        report.repositories.append(
            {"repository": repository, "bytes": int(size), "tags": int(tags), "digests": int(digests)}
        )
    report.repositories.sort(key=lambda row: (-row["bytes"], row["repository"]))
    report.total_bytes = sum(row["bytes"] for row in report.repositories)
    return report
