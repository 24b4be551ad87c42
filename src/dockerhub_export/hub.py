"""Docker Hub client: every repository of a namespace, fetched concurrently and checked.

Page 1 gives ``count``; the other pages are fetched by number, at most ``concurrency`` requests in
flight. A 429 pauses every request (one shared pause, honouring ``Retry-After`` / ``X-RateLimit-Reset``)
and halves the concurrency, which successes then restore; 5xx, timeouts and dropped connections are
retried with exponential backoff and jitter; other 4xx are not retried. Errors leave this module as
`ExportError` subclasses with one-line messages.
"""

import asyncio
import gc
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from . import __version__
from .auth import Credentials, HubAuth, _detail, same_origin
from .errors import (
    AuthError,
    ExportError,
    ForeignHostError,
    HubError,
    HubUnavailable,
    TransientHubError,
)
from .settings import MAX_PAGE_SIZE, Settings, validate_org
from .transform import COLUMNS, Columns, raw_columns

log = logging.getLogger(__name__)
# Page-by-page progress goes to its own logger, silent unless someone listens (the CLI's progress bar):
# it must not flood the run logs with one line per page.
progress_log = logging.getLogger("dockerhub_export.progress")
progress_log.propagate = False
progress_log.addHandler(logging.NullHandler())

PageCallback = Callable[[int, int | None], None]
"""Called after each page with (pages done, pages expected or None when unknown)."""

MAX_RATE_LIMIT_WAITS = 30  # 429s per request before giving up: slow is fine, endless is not
MAX_PAUSE = 900.0  # never sleep longer than 15 minutes on one Retry-After
DEFAULT_PAUSE = 5.0  # a 429 without any hint
MAX_PAGES = 100_000  # 10 million repositories: a larger count is a broken server, not an org


@dataclass
class FetchStats:
    requests: int = 0
    pages: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0
    duplicates: int = 0
    max_in_flight: int = 0
    seconds: float = 0.0


@dataclass(repr=False)
class Listing:
    """What the Hub returned for one namespace, after de-duplication.

    ``columns`` holds the schema's fields of every repository, in the Hub's order, one list per column
    (`transform.raw_columns`; `transform.from_columns` types them): each page's dicts are freed as soon
    as it arrives, which at 100,000 repositories is most of the listing's memory.
    """

    org: str
    columns: Columns
    api_count: int | None
    stats: FetchStats = field(default_factory=FetchStats)
    warnings: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return self.columns.get("name", [])

    def __repr__(self) -> str:
        # Short on purpose: asyncio.run formats the repr of its finished task (and so of this result)
        # when it restores the SIGINT handler; a full repr of 100,000 repositories costs seconds.
        return f"Listing(org={self.org!r}, repositories=<{len(self.names)}>, api_count={self.api_count})"


@dataclass
class _Page:
    """One page of the listing, its repositories already turned into columns."""

    columns: Columns
    size: int  # entries in the page's results list, including the skipped ones
    skipped: int  # entries without a name
    next: object  # the page's next link
    count: object  # the page's count (page 1's sizes the listing)

    @classmethod
    def parse(cls, body: dict[str, Any], org: str) -> "_Page":
        results = body.get("results")
        if not isinstance(results, list):
            raise HubError(f"the Hub answered a page of {org} without a results list: try again later")
        named = [item for item in results if isinstance(item, dict) and isinstance(item.get("name"), str)
                 and item["name"]]
        skipped = len(results) - len(named)
        return cls(raw_columns(named), len(results), skipped, body.get("next"), body.get("count"))


def retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date), ``X-Retry-After`` or
    ``X-RateLimit-Reset`` (both epoch seconds), whichever the Hub sent."""
    now = time.time() if now is None else now
    value = headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    for name in ("X-Retry-After", "X-RateLimit-Reset"):
        value = headers.get(name)
        if value:
            try:
                stamp = float(value)
            except ValueError:
                continue
            # Older docs call X-Retry-After an epoch; accept a small number as seconds too.
            return max(0.0, stamp - now) if stamp > 1e9 else max(0.0, stamp)
    return None


class AdaptiveLimiter:
    """At most ``limit`` requests in flight; a 429 pauses everybody and halves the limit.

    After ``limit`` successes in a row the limit grows by one again, up to ``maximum``: the client
    backs off together instead of every request hammering the Hub on its own schedule. Only requests
    sent since the last pause count as successes: those already in flight when a 429 came back say
    nothing about the halved limit (they would otherwise regrow it before the pause is even over).
    """

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.limit = maximum
        self.in_flight = 0
        self.max_in_flight = 0
        self._resume_at = 0.0
        self._successes = 0
        self._pauses = 0  # pauses set so far: a slot counts as a success only if none was set since it began
        self._cond = asyncio.Condition()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator["_Slot"]:
        loop = asyncio.get_running_loop()
        async with self._cond:
            while True:
                wait = self._resume_at - loop.time()
                if wait > 0:
                    try:
                        await asyncio.wait_for(self._cond.wait(), wait)
                    except TimeoutError:
                        pass
                elif self.in_flight < self.limit:
                    break
                else:
                    await self._cond.wait()
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        slot = _Slot(pauses=self._pauses)
        try:
            yield slot
        finally:
            async with self._cond:
                self.in_flight -= 1
                if slot.pause is not None:
                    self._resume_at = max(self._resume_at, loop.time() + slot.pause)
                    if self.limit > 1:
                        log.info("rate limited: concurrency %d -> %d", self.limit, max(1, self.limit // 2))
                    self.limit = max(1, self.limit // 2)
                    self._successes = 0
                    self._pauses += 1
                elif slot.ok and slot.pauses == self._pauses:
                    self._successes += 1
                    if self.limit < self.maximum and self._successes >= self.limit:
                        self.limit += 1
                        self._successes = 0
                self._cond.notify_all()


@dataclass
class _Slot:
    pauses: int  # the limiter's pause count when this slot was acquired
    pause: float | None = None
    ok: bool = False


class _InOrder:
    """The listing's columns, each page appended as soon as every page before it is in (they arrive in
    any order): a page's lists are freed early and the listing never exists twice. A name seen on an
    earlier page is dropped (pages shift while repositories are created or deleted mid-run)."""

    def __init__(self, listing: Listing, stats: FetchStats) -> None:
        self.listing = listing
        self.stats = stats
        self.columns = listing.columns = {name: [] for name in COLUMNS}
        self.last: _Page | None = None  # the last page appended
        self._waiting: dict[int, _Page | None] = {}
        self._next = 1
        self._seen: set[str] = set()

    def add(self, number: int, page: _Page | None) -> None:
        """Page ``number``, or None for a page that answered 404 (the listing shrank)."""
        self._waiting[number] = page
        while self._next in self._waiting:
            page = self._waiting.pop(self._next)
            self._next += 1
            if page is not None:
                self._append(page)

    def _append(self, page: _Page) -> None:
        self.stats.pages += 1
        self.last = page
        self.listing.warnings += ["skipped a repository entry without a name"] * page.skipped
        keep = []
        for index, name in enumerate(page.columns["name"]):
            if name in self._seen:
                self.stats.duplicates += 1
            else:
                self._seen.add(name)
                keep.append(index)
        for name, values in page.columns.items():
            self.columns[name] += values if len(keep) == len(values) else [values[index] for index in keep]
        page.columns = {}

    def finish(self) -> None:
        listing = self.listing
        if self.stats.duplicates:
            log.info("dropped %d duplicate entries (pages shifted during the run)", self.stats.duplicates)
        if listing.api_count is not None and listing.api_count != len(listing.names):
            listing.warnings.append(
                f"the Hub reported {listing.api_count} repositories but {len(listing.names)} were "
                "listed: repositories were probably created or deleted during the run"
            )


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, (TransientHubError, httpx.TransportError))


class HubClient:
    """An async Docker Hub API client for one run; use as ``async with HubClient(...) as hub``."""

    def __init__(
        self,
        api_url: str,
        auth: HubAuth,
        *,
        concurrency: int = 4,
        timeout: float = 30.0,
        max_attempts: int = 6,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.auth = auth
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.stats = FetchStats()
        self._origin = httpx.URL(self.api_url)
        self._limiter = AdaptiveLimiter(concurrency)
        self._http = httpx.AsyncClient(
            auth=auth,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0), pool=None),
            limits=httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2),
            headers={"User-Agent": f"dockerhub-export/{__version__}", "Accept": "application/json"},
            follow_redirects=False,  # a redirect could carry the token elsewhere: see _send
        )

    async def __aenter__(self) -> "HubClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.aclose()

    async def login(self) -> None:
        """Exchange the token for a JWT now, so bad credentials fail before any listing."""
        await self._call(lambda: self.auth.ensure_login(self._http), what="login")

    # -- listing -------------------------------------------------------------------------------

    async def list_repositories(self, org: str, *, on_page: PageCallback | None = None) -> Listing:
        """Every repository of ``org`` visible to the token, in the Hub's ``ordering=name`` order."""
        validate_org(org)
        started = time.monotonic()
        url = f"{self.api_url}/v2/namespaces/{quote(org, safe='')}/repositories"
        listing = Listing(org=org, columns={}, api_count=None)
        first = await self._page(url, 1, org)
        if first is None:
            raise HubError(f"{url} answered 404: check DOCKERHUB_API_URL ({self.api_url})")
        joined = _InOrder(listing, self.stats)
        joined.add(1, first)
        count = first.count
        if isinstance(count, int) and count >= 0:
            listing.api_count = count
            await self._numbered_pages(url, org, count, joined, on_page)
        else:
            log.info("the Hub gave no count: following next links one page at a time")
            await self._linked_pages(org, joined, on_page)
        joined.finish()
        self.stats.seconds = time.monotonic() - started
        self.stats.max_in_flight = self._limiter.max_in_flight
        listing.stats = self.stats
        return listing

    async def _numbered_pages(
        self, url: str, org: str, count: int, joined: "_InOrder", on_page: PageCallback | None
    ) -> None:
        total = max(1, math.ceil(count / MAX_PAGE_SIZE))
        if total > MAX_PAGES:
            raise HubError(f"the Hub claims {count} repositories for {org}: check DOCKERHUB_API_URL")
        done = 1
        if on_page:
            on_page(done, total)

        # A pool of `concurrency` workers drawing page numbers from one iterator: only that many
        # coroutines ever wait on the limiter (one task per page would wake hundreds on every release).
        numbers = iter(range(2, total + 1))

        async def worker() -> None:
            nonlocal done
            for number in numbers:
                joined.add(number, await self._page(url, number, org))
                done += 1
                if on_page:
                    on_page(done, total)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.concurrency, total - 1)):
                    group.create_task(worker())
        except ExceptionGroup as group_error:
            raise _first_error(group_error) from None
        # Repositories created during the run can push the listing past the count seen on page 1.
        number = total
        while (last := joined.last) is not None and last.next and last.size >= MAX_PAGE_SIZE:
            number += 1
            extra = await self._page(url, number, org)
            if extra is None:
                break
            joined.add(number, extra)
            done += 1
            if on_page:
                on_page(done, None)

    async def _linked_pages(self, org: str, joined: "_InOrder", on_page: PageCallback | None) -> None:
        number = 1
        seen: set[str] = set()
        while joined.last is not None and isinstance(link := joined.last.next, str) and link:
            next_url = httpx.URL(link)
            if not same_origin(next_url, self._origin):
                raise ForeignHostError(
                    f"the Hub's next link points at {next_url.host}, not {self._origin.host}: refusing to "
                    "send the token there; check DOCKERHUB_API_URL or the server in front of it"
                )
            if link in seen:
                raise HubError(f"the Hub's pagination loops back to {next_url.copy_with(query=None)}: try again later")
            seen.add(link)
            number += 1
            body = await self._get_json(str(next_url), None, what=f"{org} page {number}")
            if body is None:
                break
            joined.add(number, _Page.parse(body, org))
            if on_page:
                on_page(number, None)

    # -- requests ------------------------------------------------------------------------------

    async def _page(self, url: str, number: int, org: str) -> _Page | None:
        params = {"page": number, "page_size": MAX_PAGE_SIZE, "ordering": "name"}
        body = await self._get_json(url, params, what=f"{org} page {number}")
        if body is None:
            if number > 1:
                log.info("page %d of %s no longer exists (the listing shrank during the run)", number, org)
            return None
        return _Page.parse(body, org)

    async def _get_json(self, url: str, params: dict[str, Any] | None, *, what: str) -> dict[str, Any] | None:
        return await self._call(lambda: self._send(url, params, what), what=what)

    async def _call(self, attempt: Callable[[], Any], *, what: str) -> Any:
        """Run ``attempt`` with retries: backoff for 5xx and transport errors, shared pauses for 429."""
        errors = 0
        limited = 0

        def stop(state: RetryCallState) -> bool:
            nonlocal errors, limited
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, TransientHubError) and exc.status == 429:
                limited += 1
            else:
                errors += 1
            return errors >= self.max_attempts or limited >= MAX_RATE_LIMIT_WAITS

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, TransientHubError) and exc.status == 429:
                return 0.0  # the limiter holds every request until the Hub's pause is over
            # Full jitter: spread retries of concurrent requests instead of synchronising them.
            return random.uniform(0, min(30.0, self.backoff * 2 ** max(0, errors - 1)))

        def before_sleep(state: RetryCallState) -> None:
            self.stats.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            log.info("retrying %s after %s", what, _describe(exc))

        try:
            async for try_ in AsyncRetrying(
                retry=retry_if_exception_type((TransientHubError, httpx.TransportError)),
                stop=stop,
                wait=wait,
                before_sleep=before_sleep,
                reraise=True,
            ):
                with try_:
                    return await attempt()
        except (TransientHubError, httpx.TransportError) as exc:
            tries = f"{errors} attempts" if errors >= self.max_attempts else f"{limited} rate-limit pauses"
            raise HubUnavailable(
                f"Docker Hub kept failing for {what} after {tries} (last: {_describe(exc)}): try again "
                "later or lower --concurrency"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, url: str, params: dict[str, Any] | None, what: str) -> dict[str, Any] | None:
        async with self._limiter.slot() as slot:
            self.stats.requests += 1
            response = await self._http.get(url, params=params)
            status = response.status_code
            if status == 429:
                pause = min(MAX_PAUSE, retry_after(response.headers) or DEFAULT_PAUSE)
                slot.pause = pause
                self.stats.rate_limited += 1
                self.stats.waited_seconds += pause
                log.info("rate limited on %s: pausing all requests for %.1f s", what, pause)
                raise TransientHubError("429 Too Many Requests", status=429, retry_after=pause)
            if status >= 500:
                raise TransientHubError(f"{status} {_detail(response)}", status=status)
            if 300 <= status < 400:
                target = response.headers.get("Location", "?")
                raise ForeignHostError(
                    f"the Hub redirected {what} to {target}: set DOCKERHUB_API_URL to the final address "
                    "(redirects are not followed, so the token cannot leak)"
                )
            if status == 401:
                raise AuthError(
                    f"Docker Hub refused the token for {what} even after a fresh login (401: "
                    f"{_detail(response)}): check DOCKERHUB_TOKEN"
                )
            if status == 403:
                raise AuthError(
                    f"the token may not list {what.split(' page ')[0]} (403: {_detail(response)}): an "
                    "organization access token needs the 'Repository list' permission (scope-repository-list)"
                )
            if status == 404:
                return None
            if status >= 400:
                raise HubError(f"Docker Hub answered {status} for {what}: {_detail(response)}")
            try:
                body = orjson.loads(response.content)  # ~4x faster than json on 100-repository pages
            except orjson.JSONDecodeError:
                raise TransientHubError(f"{status} with a body that is not JSON", status=status) from None
            if not isinstance(body, dict):
                raise HubError(f"Docker Hub answered {what} with unexpected JSON: check DOCKERHUB_API_URL")
            slot.ok = True
            return body


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, TransientHubError):
        return str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return "a timeout"
    if isinstance(exc, httpx.TransportError):
        return f"a network error ({type(exc).__name__})"
    return repr(exc)


def _first_error(group: BaseExceptionGroup) -> BaseException:
    """The most useful error of a failed TaskGroup: an `ExportError` when there is one."""
    flat: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            flat.append(exc)

    walk(group)
    return next((exc for exc in flat if isinstance(exc, ExportError)), flat[0])


# -- plain entry points (used by the flow's tasks and by tests) ----------------------------------


def hub_auth(settings: Settings) -> HubAuth:
    """The auth object for these settings: token and identifier checked, nothing sent yet."""
    token = settings.require_token()
    return HubAuth(settings.api_url, Credentials(identifier=settings.identifier, secret=token))


def authenticate(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> HubAuth:
    """Log in to the Hub with the configured token; returns the auth to reuse for the listing."""
    settings.require_org()
    auth = hub_auth(settings)

    async def run() -> None:
        async with _client(settings, auth, transport) as hub:
            await hub.login()

    asyncio.run(run())
    return auth


def fetch_all_pages(
    settings: Settings,
    auth: HubAuth,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    on_page: PageCallback | None = None,
) -> Listing:
    """Every repository of ``settings.org``; logs its warnings and totals."""
    org = settings.require_org()
    report = on_page or _log_progress

    async def run() -> Listing:
        async with _client(settings, auth, transport) as hub:
            return await hub.list_repositories(org, on_page=report)

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
        "fetched %d repositories of %s in %d pages (%d requests, %d retries, %d rate-limit pauses, %.1f s)",
        len(listing.names), org, stats.pages, stats.requests, stats.retries, stats.rate_limited,
        stats.seconds,
    )
    return listing


def _log_progress(done: int, total: int | None) -> None:
    progress_log.info("page %d of %s", done, total or "?", extra={"pages_done": done, "pages_total": total})


def _client(settings: Settings, auth: HubAuth, transport: httpx.AsyncBaseTransport | None) -> HubClient:
    return HubClient(
        settings.api_url,
        auth,
        concurrency=settings.concurrency,
        timeout=settings.timeout,
        max_attempts=settings.max_attempts,
        transport=transport,
    )
