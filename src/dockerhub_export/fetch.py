"""Every record of a resource, fetched through the HTTP client and joined into the resource's columns.

The client (`hub`) knows no resource: it hands over each page's records as the page arrives. Here
each page becomes the schema's columns at once (`transform.raw_columns`), waits until the pages before
it are in, and is appended in page order; a record whose key was seen on an earlier page is dropped
(pages shift while entries are created or deleted mid-run). A large listing so never exists as dicts.

Also here: the tags of many repositories (one listing each, all sharing the client's pacing) and the
audit log (its events as the Hub gives them).
"""

import asyncio
import gc
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import httpx

from .auth import HubAuth
from .errors import HubForbidden, HubNotFound
from .hub import Endpoint, FetchStats, HubClient, PageCallback, _first_error
from .resources import TAGS, Resource
from .schema import Columns
from .settings import Settings, validate_org
from .timestamps import format_timestamp
from .transform import raw_columns

T = TypeVar("T")

log = logging.getLogger("dockerhub_export.hub")
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
    resource: Resource
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
        # Short on purpose: asyncio.run formats the repr of its finished task (and so of this result)
        # when it restores the SIGINT handler; a full repr of 100,000 records costs seconds.
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
    hub: HubClient, resource: Resource, org: str, *, on_page: PageCallback | None = None
) -> Listing:
    """Every record of ``resource`` in namespace ``org`` visible to the token, in the Hub's order."""
    validate_org(org)
    listing = Listing(org=org, resource=resource, columns={}, api_count=None)
    joiner = ColumnJoiner(listing)
    endpoint = Endpoint(
        path=resource.url_path(org),
        label=org,
        noun=resource.name,
        forbidden=resource.forbidden,
        params=resource.params,
    )
    listing.api_count = await hub.paginate(endpoint, joiner, on_page=on_page)
    joiner.finish()
    listing.stats = hub.stats
    return listing


def fetch_all_pages(
    settings: Settings,
    auth: HubAuth,
    resource: Resource,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    on_page: PageCallback | None = None,
) -> Listing:
    """Every record of ``resource`` in ``settings.org``; logs its warnings and totals."""
    org = settings.require_org()
    report = on_page or _log_progress

    async def run() -> Listing:
        async with HubClient.for_settings(settings, auth, transport) as hub:
            return await list_resource(hub, resource, org, on_page=report)

    # Each page's JSON is acyclic and freed by reference counting once it is in the listing's columns;
    # full collections would only walk every object of the process again and again mid-fetch (0.11 s in
    # all at 100,000 repositories; 1.6 s while the listing was kept as dicts). Only the oldest
    # generation is held back: young cycles from httpx and asyncio are still freed.
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], 1_000_000)
    try:
        listing = asyncio.run(run())
    finally:
        gc.set_threshold(*thresholds)
    for warning in listing.warnings:
        log.warning(warning)
    stats = listing.stats
    log.info(
        "fetched %d %s of %s in %d pages (%d requests, %d retries, %d rate-limit pauses, %.1f s)",
        len(listing.keys),
        resource.name,
        org,
        stats.pages,
        stats.requests,
        stats.retries,
        stats.rate_limited,
        stats.seconds,
    )
    return listing


def _log_progress(done: int, total: int | None) -> None:
    progress_log.info("page %d of %s", done, total or "?", extra={"pages_done": done, "pages_total": total})


# -- tags ------------------------------------------------------------------------------------------


@dataclass(repr=False)
class TagListing(Listing):
    """The tags of the repositories asked for, one row per (repository, tag), in no particular order.

    ``fetched``: the repositories whose tags were listed; ``gone``: those that answered 404 (deleted
    since the repositories were listed), skipped with a warning each.
    """

    fetched: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


async def list_tags(
    hub: HubClient,
    org: str,
    repositories: Iterable[str],
    *,
    on_repository: Callable[[int], None] | None = None,
) -> TagListing:
    """The tags of ``repositories`` of ``org``: ``concurrency`` repositories at a time, all their
    requests through the client's one limiter (so never more than ``concurrency`` in flight)."""
    validate_org(org)
    listing = TagListing(
        org=org, resource=TAGS, columns={name: [] for name in TAGS.schema.names}, api_count=None
    )
    names = iter(repositories)
    done = 0

    async def worker() -> None:
        nonlocal done
        for name in names:
            one = Listing(org=org, resource=TAGS, columns={}, api_count=None)
            joiner = ColumnJoiner(one, constants={"namespace": org, "repository": name})
            endpoint = Endpoint(
                path=TAGS.url_path(org, repository=name), label=f"{org}/{name} tags", noun="tags",
                forbidden=TAGS.forbidden,
            )  # fmt: skip
            try:
                await hub.paginate(endpoint, joiner)
            except HubNotFound:
                listing.gone.append(name)
                listing.warnings.append(
                    f"{org}/{name} answered 404 when its tags were listed (deleted during the run?): skipped"
                )
            else:
                listing.fetched.append(name)
                listing.warnings += one.warnings
                for column, values in one.columns.items():
                    listing.columns[column] += values
            done += 1
            if on_repository:
                on_repository(done)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(hub.concurrency):
                group.create_task(worker())
    except ExceptionGroup as group_error:
        raise _first_error(group_error) from None
    listing.stats = hub.stats
    return listing


def fetch_tags(
    settings: Settings,
    auth: HubAuth,
    repositories: list[str],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> TagListing:
    """The tags of ``repositories`` of ``settings.org``; logs its warnings and totals."""
    org = settings.require_org()

    def progress(done: int) -> None:
        progress_log.info(
            "repository %d of %d", done, len(repositories),
            extra={"pages_done": done, "pages_total": len(repositories)},
        )  # fmt: skip

    async def run(hub: HubClient) -> TagListing:
        return await list_tags(hub, org, repositories, on_repository=progress)

    listing = _run(settings, auth, transport, run)
    for warning in listing.warnings:
        log.warning(warning)
    stats = listing.stats
    log.info(
        "fetched %d tags of %d repositories of %s (%d requests, %d retries, %d rate-limit pauses, %d budget "
        "pauses, %.1f s)",
        len(listing.keys), len(listing.fetched), org, stats.requests, stats.retries, stats.rate_limited,
        stats.budget_pauses, stats.seconds,
    )  # fmt: skip
    return listing


# -- the audit log ---------------------------------------------------------------------------------

AUDIT_PATH = "/v2/auditlogs/{account}"


def fetch_audit_log(
    settings: Settings,
    auth: HubAuth,
    since: datetime | None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[dict[str, Any]] | None:
    """The org's audit-log events since ``since`` (None: all it keeps), as the Hub gives them, newest
    first; or None when the plan or the token has no audit log (403 / 404): one warning, not a failure."""
    org = settings.require_org()
    events: list[dict[str, Any]] = []
    endpoint = Endpoint(
        path=AUDIT_PATH.format(account=org), label=f"the {org} audit log", noun="events", results="logs",
        counted=False, forbidden="an organization access token needs the 'Activity read' permission "
        "(scope-activity-read)", params={} if since is None else {"from": format_timestamp(since)},
    )  # fmt: skip

    def sink(number: int, records: list[Any] | None) -> None:
        events.extend(record for record in records or () if isinstance(record, dict))

    async def run(hub: HubClient) -> None:
        await hub.paginate(endpoint, sink)

    try:
        _run(settings, auth, transport, run)
    except (HubForbidden, HubNotFound) as exc:
        status = "404" if isinstance(exc, HubNotFound) else "403"
        log.debug("the %s audit log cannot be read (%s)", org, status)  # the caller warns, once
        return None
    log.info(
        "read %d audit-log events of %s %s", len(events), org,
        "(all it keeps)" if since is None else f"since {format_timestamp(since)}",
    )  # fmt: skip
    return events


def _run(
    settings: Settings,
    auth: HubAuth,
    transport: httpx.AsyncBaseTransport | None,
    work: Callable[[HubClient], Coroutine[Any, Any, T]],
) -> T:
    async def run() -> T:
        async with HubClient.for_settings(settings, auth, transport) as hub:
            return await work(hub)

    return asyncio.run(run())
