"""What a night's tag inventory says: stale tags and the bytes only they hold; storage per repository.

Computed in Python over one night's inventory (`store.tag_inventory`: a few hundred thousand rows at
most), the same on every backend. Two caveats, also in the docs:

* ``tag_last_pulled`` is a weak signal: vulnerability scanners, mirrors and crawlers pull too, so a
  tag that looks used may not be. A tag that was never pulled counts by its push.
* The tags endpoint does not list untagged manifests, so storage from tags is a lower bound of what
  the registry keeps; and layers shared between images count once per digest that uses them.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from heapq import nsmallest
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    import sqlalchemy as sa

STALE_DAYS = 180  # the nightly summary's threshold: the Hub's UI calls an image stale after 6 months

INVENTORY = ("digest", "full_size", "tag_last_pulled", "tag_last_pushed")
"""The columns these reports read, after ``repository`` and ``tag``."""
STALE_FIELDS = ("repository", "tag", *INVENTORY)  # the keys of a stale tag's row


def moment(text: str | None) -> str:
    """A canonical timestamp as a sortable key: the fraction padded to 9 digits ("" for unknown)."""
    if not text:
        return ""
    if len(text) > 20 and text[19] == ".":
        return text[:19] + "." + text[20:].rstrip("Z").ljust(9, "0")
    return text[:19] + ".000000000"


@dataclass
class StaleReport:
    snapshot_date: date
    days: int
    tags: list[dict[str, Any]] = field(default_factory=list)  # largest first
    reclaimable_bytes: int = 0
    tags_total: int = 0  # the stale tags found, also when ``tags`` keeps only the largest

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "snapshot_date": self.snapshot_date.isoformat(),
            "days": self.days,
            "tags": self.tags,
            "tags_total": self.tags_total,
            "tags_left_out": self.tags_total - len(self.tags),
            "reclaimable_bytes": self.reclaimable_bytes,
        }


def stale(rows: Iterable[Sequence[Any]], night: date, days: int, *, top: int | None = None) -> StaleReport:
    """The tags whose last activity is before 00:00 UTC of ``night`` minus ``days`` days.

    ``rows``: (repository, tag, digest, full_size, tag_last_pulled, tag_last_pushed), timestamps as
    canonical text. Reclaimable: per repository, each digest that only stale tags point at, its size
    counted once. ``top``: ``tags`` keeps only the largest ``top`` (``tags_total`` counts them all), so
    a night whose tags are all stale holds no row per tag for a summary's table.
    """
    # Against a midnight, canonical timestamps compare as text: "2026-10-27T23:59:59.999999999Z" is before
    # "2026-10-28T00:00:00", and "2026-10-28T00:00:00Z" (or any fraction of that second) is not.
    threshold = (night - timedelta(days=days)).isoformat() + "T00:00:00"
    report = StaleReport(night, days)
    fresh_digests: set[tuple[str, Any]] = set()
    stale_digests: dict[tuple[str, Any], int] = {}

    def found() -> Iterator[Sequence[Any]]:
        for row in rows:
            repository, _tag, digest, size, pulled, pushed = row
            if (pulled and pulled >= threshold) or (pushed and pushed >= threshold):
                fresh_digests.add((repository, digest))
                continue
            stale_digests[(repository, digest)] = max(stale_digests.get((repository, digest), 0), size or 0)
            report.tags_total += 1
            yield row

    # nsmallest(n, ...) is sorted(...)[:n], holding n rows at a time
    chosen = (
        sorted(found(), key=_largest_first) if top is None else nsmallest(top, found(), key=_largest_first)
    )
    report.tags = [dict(zip(STALE_FIELDS, row, strict=True)) for row in chosen]
    report.reclaimable_bytes = sum(size for key, size in stale_digests.items() if key not in fresh_digests)
    return report


def _largest_first(row: Sequence[Any]) -> tuple[int, str, str]:
    return -(row[3] or 0), row[0], row[1]


@dataclass
class StorageReport:
    snapshot_date: date
    repositories: list[dict[str, Any]] = field(default_factory=list)  # largest first
    total_bytes: int = 0
    repositories_total: int = 0  # also when ``repositories`` keeps only the largest

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "snapshot_date": self.snapshot_date.isoformat(),
            "repositories": self.repositories,
            "repositories_total": self.repositories_total,
            "repositories_left_out": self.repositories_total - len(self.repositories),
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
    report.repositories_total = len(report.repositories)
    return report


def tag_night(engine: "sa.Engine", org: str, asked: date | None) -> date:
    """The night a tag report reads: ``asked`` or the nearest complete tag night before it (the newest
    when None); a `ConfigError` saying how to make one when there is none."""
    from . import store

    before = None if asked is None else asked + timedelta(days=1)
    newest = store.newest_tag_night(engine, org, before=before)
    if newest is None:
        where = "" if asked is None else f" on or before {asked.isoformat()}"
        raise ConfigError(
            f"no complete tag inventory of {org}{where} in {store.redact(engine.url)}: run "
            f"`dockerhub-export run --org {org} --tags` first"
        )
    return newest.snapshot_date
