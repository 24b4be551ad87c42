"""One night's report gathered from the snapshot database: the night and the ``days`` before it.

Each section reads what the query commands read, through their functions: `snapshot_queries.trends`
(added, removed, flipped, attributed; the top movers), `tag_queries` (storage, stale tags), the access
queries; only the org's totals night by night and a few descriptions are read here (`queries`). So the
page says what `trends`, `storage`, `stale` and `access` say for the same night.

A section the night lacks (no tag inventory, no access data, a listing the token could not read, a
single night with nothing to compare) is None, and a `Gap` says why.
"""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .. import snapshot_queries, store, tag_queries
from ..errors import ConfigError
from ..resources import AUDIT_LOG
from . import queries
from .access_section import access_section
from .model import (
    Changes,
    Figure,
    Gap,
    Mover,
    NightTotals,
    Pulls,
    Report,
    RepositoryChange,
    RepositorySize,
    StaleTag,
    Storage,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

DAYS = 30  # the window: the night against the first snapshot night of the 30 days before it
TOP = 10  # movers and largest repositories shown
TOP_STALE = 20  # largest stale tags shown
STALE_DAYS = tag_queries.STALE_DAYS  # as the nightly summary: the Hub's UI calls an image stale after it


def build(
    engine: "sa.Engine", org: str, night: date | None = None, days: int = DAYS, *, now: datetime | None = None
) -> Report:
    """The report of ``night`` (default: the org's newest snapshot) against ``days`` earlier; a
    `ConfigError` (or the store's error) when the org has no snapshot, or none on ``night``."""
    if days < 1:
        raise ConfigError(f"--days must be at least 1, got {days}")
    day = choose_night(engine, org, night)
    since = day - timedelta(days=days)
    series = queries.night_totals(engine, org, since, day)
    first, last = series[0], series[-1]
    compared = first if first.night != day else None
    gaps: list[Gap] = []
    pulls, changes = None, None
    if compared is None:
        gaps.append(Gap("pulls", f"no snapshot in the {days} days before the night: nothing to compare with"))
    else:
        pulls, changes = _pulls_and_changes(engine, org, day, since, days, series)
        if not changes.attributed:
            gaps.append(
                Gap(
                    "changes",
                    f"no audit log stored, so who made each change is unknown ({AUDIT_LOG.forbidden})",
                )
            )
    storage, storage_figures = _storage(engine, org, day, since, gaps)
    access, members = access_section(engine, org, day, since, gaps)
    figures = (*_snapshot_figures(last, compared), *storage_figures, members)
    return Report(
        org=org,
        night=day,
        days=days,
        compared_with=None if compared is None else compared.night,
        generated_at=now or datetime.now(UTC),
        figures=figures,
        pulls=pulls,
        changes=changes,
        storage=storage,
        access=access,
        gaps=tuple(gaps),
    )


def choose_night(engine: "sa.Engine", org: str, asked: date | None) -> date:
    """``asked``, if the org has a snapshot that night, else its newest snapshot night."""
    nights = snapshot_queries.snapshot_dates(engine, org)
    if not nights:
        raise store.no_snapshots(store.redact(engine.url), org)
    if asked is None:
        return nights[-1]
    if asked not in nights:
        before = [night for night in nights if night < asked]
        nearest = f"; the nearest before it is {before[-1].isoformat()}" if before else ""
        raise ConfigError(
            f"no snapshot of {org} on {asked.isoformat()}: its snapshots span {nights[0].isoformat()} "
            f"to {nights[-1].isoformat()}{nearest}"
        )
    return asked


def _snapshot_figures(last: NightTotals, first: NightTotals | None) -> tuple[Figure, ...]:
    since = None if first is None else first.night

    def figure(key: str, label: str) -> Figure:
        before = None if first is None else getattr(first, key)
        return Figure(key, label, "", getattr(last, key), before, since)

    return (
        figure("repositories", "Repositories"),
        figure("private", "Private repositories"),
        figure("pulls", "Pulls"),
        figure("stars", "Stars"),
    )


def _pulls_and_changes(
    engine: "sa.Engine", org: str, day: date, since: date, days: int, series: list[NightTotals]
) -> tuple[Pulls, Changes]:
    """The window's trends (every repository compared, the audit log's who and when) as the pulls
    section and the repository changes; the night's own movers since the snapshot before it."""
    trend = snapshot_queries.trends(engine, org, since=since, days=days)
    moved = [row for row in trend.repositories if row["pulls_delta"]][:TOP]
    movers_series = snapshot_queries.pull_series(engine, replace(trend, repositories=moved), top=TOP)
    previous = store.previous_snapshot(engine, org, day)
    night_rows = snapshot_queries.top_movers(engine, org, day, n=TOP)
    start = trend.from_date
    named = [row["name"] for row in (*moved, *night_rows, *trend.added, *trend.visibility_changed)]
    said = queries.descriptions(engine, org, day, named)
    said_before = queries.descriptions(engine, org, start, [item["name"] for item in trend.removed])
    pulls = Pulls(
        series=tuple(series),
        movers=tuple(_mover(row, said) for row in moved),
        movers_series=movers_series,
        night_movers=tuple(_mover(row, said) for row in night_rows),
        previous_night=None if previous is None else previous.snapshot_date,
    )
    changes = Changes(
        added=tuple(_change(item, said) for item in trend.added),
        removed=tuple(_change(item, said_before) for item in trend.removed),
        flipped=tuple(_change(item, said) for item in trend.visibility_changed),
        attributed=store.audit.latest_event(engine, org) is not None,
    )
    return pulls, changes


def _mover(row: dict[str, Any], said: dict[str, str]) -> Mover:
    return Mover(
        row["name"], row["pulls_end"], row["pulls_delta"], row["is_private"], said.get(row["name"], "")
    )


def _change(item: dict[str, str], said: dict[str, str]) -> RepositoryChange:
    return RepositoryChange(
        item["name"],
        item.get("by"),
        item.get("at"),
        said.get(item["name"], ""),
        item.get("from"),
        item.get("to"),
    )


def _storage(
    engine: "sa.Engine", org: str, day: date, since: date, gaps: list[Gap]
) -> tuple[Storage | None, tuple[Figure, ...]]:
    """The tag night of ``day`` (or the newest before it): what `storage` and `stale --days STALE_DAYS`
    say of it, its storage over the window, and its headline figures against the window's first tag
    night."""
    found = store.newest_tag_night(engine, org, before=day + timedelta(days=1))
    if found is None:
        gaps.append(
            Gap(
                "storage",
                f"no tag inventory on or before {day.isoformat()}: the night was exported without --tags",
            )
        )
        return None, tuple(Figure(key, label, unit, None) for key, label, unit in _TAG_FIGURES)
    tag_day = found.snapshot_date
    note = ""
    if tag_day != day:
        note = f"from the tag night of {tag_day.isoformat()}"
        gaps.append(
            Gap(
                "storage", f"the night has no tag inventory: storage and stale tags are {note}", missing=False
            )
        )
    nights = store.tag_night_list(engine, org, since=min(since, tag_day), until=tag_day)
    sizes = tag_queries.storage_of(store.tag_storage_totals(engine, org, tag_day), tag_day)
    stale = _stale(engine, org, tag_day, TOP_STALE)
    earlier = nights[0] if nights[0].snapshot_date != tag_day else None
    storage = Storage(
        night=tag_day,
        series=tuple((night.snapshot_date, night.bytes) for night in nights),
        total_bytes=sizes.total_bytes,
        tags=sum(row["tags"] for row in sizes.repositories),
        repositories=sizes.repositories_total,
        largest=tuple(
            RepositorySize(r["repository"], r["bytes"], r["tags"], r["digests"])
            for r in sizes.repositories[:TOP]
        ),
        stale_days=STALE_DAYS,
        stale=tuple(
            StaleTag(t["repository"], t["tag"], t["full_size"], t["tag_last_pulled"], t["tag_last_pushed"])
            for t in stale.tags[:TOP_STALE]
        ),
        stale_total=stale.tags_total,
        reclaimable_bytes=stale.reclaimable_bytes,
    )
    if earlier is None:
        before: tuple[int | None, ...] = (None, None, None)
    else:
        reclaimable = _stale(engine, org, earlier.snapshot_date, 1).reclaimable_bytes
        before = (earlier.tags, earlier.bytes, reclaimable)
    since_night = None if earlier is None else earlier.snapshot_date
    values = (storage.tags, storage.total_bytes, storage.reclaimable_bytes)
    figures = tuple(
        Figure(key, label, unit, value, was, since_night, note)
        for (key, label, unit), value, was in zip(_TAG_FIGURES, values, before, strict=True)
    )
    return storage, figures


_TAG_FIGURES = (("tags", "Tags", ""), ("storage", "Storage", "B"), ("reclaimable", "Reclaimable", "B"))


def _stale(engine: "sa.Engine", org: str, day: date, top: int) -> tag_queries.StaleReport:
    """`stale --days STALE_DAYS` of ``day``, keeping only the ``top`` largest tags (at least 1: the count
    and the reclaimable bytes are of them all; a night of 100,000 tags need not be sorted for 20)."""
    rows = store.tag_inventory(engine, org, day, tag_queries.INVENTORY)
    return tag_queries.stale(rows, day, STALE_DAYS, top=max(1, top))
