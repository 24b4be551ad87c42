"""The tag inventory's stages: which repositories to list tonight, their tags typed, the night's
inventory, and what it says (stale tags, storage).

After the first night, a repository's tags are listed only when something says they may have changed:
it was never listed; its ``last_updated`` or ``pull_count`` differs from the repository snapshot of
the previous tag night; an audit-log event named it after its tags were last listed; or its tags were
last listed ``refresh_days`` or more nights ago (0: every night). A deleted tag leaves no trace on
its repository's own fields: only the audit log, or the refresh, catches it. The other repositories'
tags carry forward, so every night's inventory is complete.
"""

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import csv_output, store, transform
from .fetch import PerRepositoryListing
from .resources import REPOSITORIES, TAGS
from .store.frames import driver_columns
from .tag_queries import INVENTORY, STALE_DAYS, StaleReport, StorageReport, moment, stale, storage
from .timestamps import OVERLAP, format_timestamp

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

TAG_ACTIONS = ("repo.tag.",)  # audit actions that change a repository's tags


@dataclass
class Selection:
    """The repositories whose tags are listed tonight, and why (reason -> repositories)."""

    repositories: list[str]
    reasons: Counter[str] = field(default_factory=Counter)


def audit_since(previous: store.TagNight | None) -> datetime | None:
    """Where to read the audit log from: a little before the previous tag night began (events can reach
    the log late)."""
    return None if previous is None else previous.started_at - OVERLAP


def select_repositories(
    engine: sa.Engine,
    org: str,
    night: date,
    frame: "pd.DataFrame",
    refresh_days: int,
    previous: store.TagNight | None,
    events: Sequence[dict[str, Any]] | None,
) -> Selection:
    """Tonight's repositories (``frame``, the night's typed listing) whose tags need listing."""
    names: list[str] = frame["name"].tolist()
    if previous is None or refresh_days == 0:
        reason = "first tag night" if previous is None else "--tags-refresh-days 0"
        return Selection(names, Counter({reason: len(names)}))
    listed = store.last_fetched(engine, org, night)
    began = {
        known.snapshot_date: format_timestamp(known.started_at) for known in store.tag_night_list(engine, org)
    }
    before = store.repository_fields(engine, org, previous.snapshot_date)
    fields = driver_columns(frame, REPOSITORIES.schema, ("last_updated", "pull_count"))
    now = dict(zip(names, zip(fields["last_updated"], fields["pull_count"], strict=True), strict=True))
    named = _named_by_audit(org, events or ())  # repository -> its latest tag event
    selection = Selection([])
    for name in names:
        last = listed.get(name)
        if last is None:
            reason = "new"
        elif before.get(name) != now[name]:
            reason = "changed"
        elif name in named and moment(named[name]) >= moment(began.get(last)):
            reason = "audit log"  # an event since its tags were listed (that night's run began)
        elif (night - last).days >= refresh_days:
            reason = f"not listed for {refresh_days}+ nights"
        else:
            continue
        selection.repositories.append(name)
        selection.reasons[reason] += 1
    return selection


def _named_by_audit(org: str, events: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Each repository named by a tag event, with the time of its latest one."""
    prefix = f"{org}/"
    named: dict[str, str] = {}
    for event in events:
        name, when = str(event.get("name", "")), str(event.get("timestamp", ""))
        if str(event.get("action", "")).startswith(TAG_ACTIONS) and name.startswith(prefix):
            repository = name[len(prefix) :]
            named[repository] = max(named.get(repository, when), when, key=moment)
    return named


def tags_frame(listing: PerRepositoryListing) -> "pd.DataFrame":
    """The listed tags typed, by repository and tag (the Hub's own order is not reliable)."""
    frame = transform.from_columns(listing.columns, TAGS.schema, listing.org, consume=True)
    return frame.sort_values(["repository", "tag"], ignore_index=True)


def store_tags(
    engine: sa.Engine,
    org: str,
    night: date,
    frame: "pd.DataFrame",
    listing: PerRepositoryListing,
    present: Sequence[str],
    *,
    started_at: datetime,
    run_id: int | None,
) -> store.TagNightSummary:
    """The night's tag history: the listed repositories' tags replace theirs, the rest carry on."""
    columns = driver_columns(frame, TAGS.schema, ("repository", "tag", *store.TAG_COLUMNS), timestamps="text")
    return store.write_tag_night(
        engine, org, night, columns, listing.fetched, present, started_at=started_at, run_id=run_id
    )


def inventory_frame(
    engine: sa.Engine, org: str, night: date, listed: "pd.DataFrame", fetched: Sequence[str]
) -> "pd.DataFrame":
    """The night's whole inventory, typed like `tags_frame`: the tags listed tonight (``listed``, of the
    ``fetched`` repositories) and those carried forward, read back from the history. A night that
    listed every repository reads nothing back."""
    import pandas as pd

    shared = [column.name for column in TAGS.schema.columns if column.few_values]
    columns = store.tag_inventory_columns(engine, org, night, without=fetched, shared=shared)
    if not columns["tag"]:
        return listed
    columns["namespace"] = [org] * len(columns["tag"])
    carried = transform.from_columns(columns, TAGS.schema, org, consume=True)
    whole = pd.concat([listed, carried], ignore_index=True) if len(listed) else carried
    return whole.sort_values(["repository", "tag"], ignore_index=True)


@dataclass
class TagFigures:
    """What the nightly summary says about the tags."""

    stale: StaleReport
    storage: StorageReport
    previous_bytes: int | None


def figures(
    frame: "pd.DataFrame",
    night: date,
    previous: store.TagNight | None,
    days: int = STALE_DAYS,
    *,
    top: int | None = None,
) -> TagFigures:
    """Stale tags (``days`` without activity; the largest ``top`` of them kept, all counted) and storage
    of the night's inventory ``frame``."""
    columns = driver_columns(frame, TAGS.schema, ("repository", "tag", *INVENTORY), timestamps="text")

    def rows() -> Iterator[tuple[Any, ...]]:
        return zip(*columns.values(), strict=True)

    return TagFigures(
        stale(rows(), night, days, top=top),
        storage(rows(), night),
        None if previous is None else previous.bytes,
    )


def write_tags_csv(inventory: "pd.DataFrame", path: Path, *, safe: bool) -> Path:
    """The night's tags CSV (its own stage, so a flow's graph tells it from the repositories' CSV)."""
    return csv_output.write_csv(inventory, path, TAGS, safe=safe)
