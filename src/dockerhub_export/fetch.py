"""Every record of a resource, fetched through the run's Hub session and joined into the resource's columns.

The client (`hub`) knows no resource: it hands over each page's records as the page arrives. Here
each page becomes the schema's columns at once (`transform.raw_columns`), waits until the pages before
it are in, and is appended in page order; a record whose key was seen on an earlier page is dropped
(pages shift while entries are created or deleted mid-run). A large listing so never exists as dicts.

Also here: a resource listed once per repository (tags: all the listings share the session's pacing),
and a resource kept as the Hub gives its records (the audit log's events).
"""

import gc
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import HubNotFound
from .hub import FetchStats, HubClient, PageCallback, pool
from .humanize import plural
from .resources import AUDIT_LOG, TAGS, Resource, TableResource
from .schema import Columns
from .session import HubSession, endpoint
from .settings import validate_org
from .timestamps import format_timestamp
from .transform import raw_columns

log = logging.getLogger(__name__)
# Page-by-page progress goes to its own logger, silent unless someone listens (the CLI's progress bar):
# it must not flood the run logs with one line per page.
progress_log = logging.getLogger("dockerhub_export.progress")
progress_log.propagate = False
progress_log.addHandler(logging.NullHandler())


@dataclass(repr=False)
class Listing:
    """What the Hub returned for one resource of one namespace, after de-duplication.

    ``columns`` holds the schema's fields of every record, in the Hub's order, one list per column
    (`transform.raw_columns`; `transform.from_columns` types them).
    """

    org: str
    resource: TableResource
    columns: Columns
    api_count: int | None
    stats: FetchStats = field(default_factory=FetchStats)
    warnings: list[str] = field(default_factory=list)
    duplicates: int = 0

    @property
    def keys(self) -> list[Any]:
        """The records' keys (the repositories' names), in the listing's order."""
        return self.columns.get(self.resource.key, [])

    def __repr__(self) -> str:
        # Short on purpose: loggers, debuggers and Prefect may format a stage's result, and a full
        # repr of 100,000 records costs seconds.
        return (
            f"Listing(org={self.org!r}, {self.resource.name}=<{len(self.keys)}>, api_count={self.api_count})"
        )


class ColumnJoiner:
    """The sink of `HubClient.paginate`: pages into ``listing.columns``, in page order, keys unique."""

    def __init__(self, listing: Listing, constants: Mapping[str, Any] | None = None) -> None:
        self.listing = listing
        self.resource = listing.resource
        self.constants = dict(constants or {})  # columns the API leaves out (the repository of a tag)
        self.columns = listing.columns = {name: [] for name in listing.resource.schema.names}
        self._waiting: dict[int, Columns | None] = {}
        self._next = 1
        self._seen: set[Any] = set()

    def __call__(self, number: int, records: list[Any] | None) -> None:
        """Page ``number``'s records, or None for a page that answered 404 (the listing shrank)."""
        self._waiting[number] = None if records is None else self._columns(records)
        while self._next in self._waiting:
            page = self._waiting.pop(self._next)
            self._next += 1
            if page is not None:
                self._append(page)

    def _columns(self, records: list[Any]) -> Columns:
        key = self.resource.schema.column(self.resource.key).api_field
        keyed = [
            item
            for item in records
            if isinstance(item, dict) and isinstance(item.get(key), str) and item[key]
        ]
        self.listing.warnings += [f"skipped a {self.resource.item} entry without a {key}"] * (
            len(records) - len(keyed)
        )
        columns = raw_columns(keyed, self.resource.schema)
        for name, value in self.constants.items():
            columns[name] = [value] * len(keyed)
        return columns

    def _append(self, page: Columns) -> None:
        keep = []
        for index, key in enumerate(page[self.resource.key]):
            if key in self._seen:
                self.listing.duplicates += 1
            else:
                self._seen.add(key)
                keep.append(index)
        for name, values in page.items():
            self.columns[name] += values if len(keep) == len(values) else [values[index] for index in keep]

    def finish(self) -> None:
        listing, name = self.listing, self.resource.name
        if listing.duplicates:
            log.info("dropped %d duplicate entries (pages shifted during the run)", listing.duplicates)
        if listing.api_count is not None and listing.api_count != len(listing.keys):
            listing.warnings.append(
                f"the Hub reported {listing.api_count} {name} but {len(listing.keys)} were listed: {name} "
                "were probably created or deleted during the run"
            )


async def list_resource(
    hub: HubClient, resource: TableResource, org: str, *, on_page: PageCallback | None = None
) -> Listing:
    """Every record of ``resource`` in namespace ``org`` visible to the token, in the Hub's order."""
    validate_org(org)
    listing = Listing(org=org, resource=resource, columns={}, api_count=None)
    joiner = ColumnJoiner(listing)
    with hub.measure() as stats:
        listing.api_count = await hub.paginate(endpoint(resource, org), joiner, on_page=on_page)
    joiner.finish()
    listing.stats = stats
    return listing


def fetch_all_pages(
    session: HubSession, resource: TableResource, *, on_page: PageCallback | None = None
) -> Listing:
    """Every record of ``resource`` in the session's org; logs its warnings and totals."""
    org = session.org
    report = on_page or _log_progress

    # Each page's JSON is acyclic and freed by reference counting once it is in the listing's columns;
    # full collections would only walk every object of the process again and again mid-fetch. Only
    # the oldest generation is held back: young cycles from httpx and asyncio are still freed.
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], 1_000_000)
    try:
        listing = session.run(lambda hub: list_resource(hub, resource, org, on_page=report))
    finally:
        gc.set_threshold(*thresholds)
    for warning in listing.warnings:
        log.warning(warning)
    stats = listing.stats
    log.info(
        "fetched %d %s of %s in %s (%s, %s, %s, %.1f s)",
        len(listing.keys),
        resource.name,
        org,
        plural(stats.pages, "page"),
        plural(stats.requests, "request"),
        plural(stats.retries, "retry", "retries"),
        plural(stats.rate_limited, "rate-limit pause"),
        stats.seconds,
    )
    return listing


def _log_progress(done: int, total: int | None) -> None:
    progress_log.info("page %d of %s", done, total or "?", extra={"pages_done": done, "pages_total": total})


# -- one listing per repository (tags) -------------------------------------------------------------


@dataclass(repr=False)
class PerRepositoryListing(Listing):
    """A resource of the repositories asked for, one row per (repository, record), in no particular order.

    ``fetched``: the repositories whose records were listed; ``gone``: those that answered 404 (deleted
    since the repositories were listed), skipped with a warning each.
    """

    fetched: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


async def list_per_repository(
    hub: HubClient,
    resource: TableResource,
    org: str,
    repositories: Iterable[str],
    *,
    on_repository: Callable[[int], None] | None = None,
) -> PerRepositoryListing:
    """``resource`` of each of ``repositories`` of ``org``: ``concurrency`` repositories at a time, all
    their requests through the client's one limiter (so never more than ``concurrency`` in flight)."""
    validate_org(org)
    listing = PerRepositoryListing(
        org=org, resource=resource, columns={name: [] for name in resource.schema.names}, api_count=None
    )
    names = iter(repositories)
    done = 0

    async def worker() -> None:
        nonlocal done
        for name in names:
            one = Listing(org=org, resource=resource, columns={}, api_count=None)
            joiner = ColumnJoiner(one, constants={"namespace": org, "repository": name})
            try:
                await hub.paginate(endpoint(resource, org, repository=name), joiner)
            except HubNotFound:
                listing.gone.append(name)
                listing.warnings.append(
                    f"{org}/{name} answered 404 when its {resource.name} were listed (deleted during the "
                    "run?): skipped"
                )
            else:
                listing.fetched.append(name)
                listing.warnings += one.warnings
                for column, values in one.columns.items():
                    listing.columns[column] += values
            done += 1
            if on_repository:
                on_repository(done)

    with hub.measure() as stats:
        await pool(hub.concurrency, worker)
    listing.stats = stats
    return listing


def fetch_per_repository(
    session: HubSession, resource: TableResource, repositories: list[str]
) -> PerRepositoryListing:
    """``resource`` of each of ``repositories`` of the session's org; logs its warnings and totals."""
    org = session.org

    def progress(done: int) -> None:
        progress_log.info(
            "repository %d of %d", done, len(repositories),
            extra={"pages_done": done, "pages_total": len(repositories)},
        )  # fmt: skip

    listing = session.run(
        lambda hub: list_per_repository(hub, resource, org, repositories, on_repository=progress)
    )
    for warning in listing.warnings:
        log.warning(warning)
    stats = listing.stats
    log.info(
        "fetched %d %s of %s of %s (%s, %s, %s, %s, %.1f s)",
        len(listing.keys), resource.name, plural(len(listing.fetched), "repository", "repositories"), org,
        plural(stats.requests, "request"), plural(stats.retries, "retry", "retries"),
        plural(stats.rate_limited, "rate-limit pause"), plural(stats.budget_pauses, "budget pause"),
        stats.seconds,
    )  # fmt: skip
    return listing


def fetch_tags(session: HubSession, repositories: list[str]) -> PerRepositoryListing:
    """The tags of ``repositories`` of the session's org (the flow's fetch-tags stage)."""
    return fetch_per_repository(session, TAGS, repositories)


# -- records as the Hub gives them (the audit log) -------------------------------------------------


async def list_records(
    hub: HubClient, resource: Resource, org: str, params: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every record of ``resource`` in namespace ``org``, as the Hub gives them, in its order."""
    validate_org(org)
    pages: dict[int, list[dict[str, Any]]] = {}

    def sink(number: int, records: list[Any] | None) -> None:
        pages[number] = [record for record in records or () if isinstance(record, dict)]

    await hub.paginate(endpoint(resource, org, params), sink)
    return [record for number in sorted(pages) for record in pages[number]]


def fetch_audit_log(session: HubSession, since: datetime | None) -> list[dict[str, Any]]:
    """The org's audit-log events since ``since`` (None: all it keeps), as the Hub gives them, newest
    first. A refusal raises (`HubForbidden`, `HubNotFound`): `audit.sync_audit_log` reads the log as the
    optional resource it is."""
    org = session.org
    params = {} if since is None else {"from": format_timestamp(since)}
    events = session.run(lambda hub: list_records(hub, AUDIT_LOG, org, params))
    log.info(
        "read %d audit-log events of %s %s", len(events), org,
        "(all it keeps)" if since is None else f"since {format_timestamp(since)}",
    )  # fmt: skip
    return events
