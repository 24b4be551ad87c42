"""The Docker Hub HTTP client: auth, pacing, retries, the origin guard and pagination, for any endpoint.

It knows no resource. `HubClient.paginate` walks one paginated endpoint and hands each page's records,
as plain JSON values, to the caller's sink as soon as the page arrives (pages arrive in any order): the
caller decides what to keep, so a large listing never exists as dicts all at once. A run has one client
(`session.HubSession`): one login, one budget, one limiter, and figures that add up every request.

Pagination: page 1 gives ``count``; the other pages are fetched by number, at most ``concurrency``
requests in flight, then on past the count while the last page is full and has a ``next`` link
(entries created mid-run). The page size is the one page 1 came back with, not the one asked for: the
Hub has answered 25 whatever ``page_size`` said. Without a count, ``next`` links are followed one page
at a time, only to the API's own origin. Endpoints that give neither (the audit log) are read page by
page until a page shorter than the first, or an empty one.

A 429 pauses every request (one shared pause, honouring ``Retry-After`` / ``X-RateLimit-Reset``) and
halves the concurrency, which successes then restore; 5xx, timeouts and dropped connections are
retried with exponential backoff and jitter; other 4xx are not retried. A connection that cannot be
opened before any login of the run succeeded (a wrong URL, a refused port, an unknown host) is tried
only `CONNECT_ATTEMPTS` times, and its message names the URL. Errors leave this module as
`ExportError` subclasses with one-line messages.
"""

import asyncio
import logging
import math
import random
import re
import socket
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Any

import httpx
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from . import __version__
from .auth import HubAuth, error_detail, same_origin
from .errors import (
    ExportError,
    ForeignHostError,
    HubError,
    HubForbidden,
    HubNotFound,
    HubUnavailable,
    TransientHubError,
)
from .limits import AdaptiveLimiter, Budget, announced_budget, retry_after
from .settings import MAX_PAGE_SIZE, Settings

log = logging.getLogger(__name__)

PageCallback = Callable[[int, int | None], None]
"""Called after each page with (pages done, pages expected or None when unknown)."""

PageSink = Callable[[int, list[Any] | None], None]
"""Given each page's records as it arrives: (page number, the page's ``results``), or None for a page
past page 1 that answered 404 (the listing shrank during the run). Pages arrive in any order."""

MAX_RATE_LIMIT_WAITS = 30  # 429s per request before giving up: slow is fine, endless is not
MAX_PAUSE = 900.0  # never sleep longer than 15 minutes on one Retry-After
DEFAULT_PAUSE = 5.0  # a 429 without any hint
MAX_PAGES = 100_000  # 10 million entries: a larger count is a broken server, not an org
CONNECT_ATTEMPTS = 3  # before the first login: a refused port or an unknown host rarely heals in seconds


@dataclass
class FetchStats:
    """What requests cost: a client's since it was made (the run's), or one listing's (`measure`)."""

    requests: int = 0
    pages: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0
    max_in_flight: int = 0
    budget_pauses: int = 0  # waits for an announced budget's window to reset
    budget_waited: float = 0.0
    seconds: float = 0.0


@dataclass(frozen=True)
class Endpoint:
    """One paginated listing, and how messages name it.

    ``path`` is below the API URL, its variable parts already quoted. ``label`` names what is listed
    (``acme`` gives "acme page 3"), ``noun`` what its entries are ("repositories"), and ``forbidden``
    what a 403 most likely means for this endpoint (the token's missing permission). ``results`` is
    the key of a page's list and ``count`` that of the listing's size on page 1; ``counted`` False: no
    count and no next link, pages until a short one.
    """

    path: str
    label: str
    noun: str
    forbidden: str
    params: Mapping[str, str] = field(default_factory=dict)
    results: str = "results"
    count: str = "count"
    page_size: int = MAX_PAGE_SIZE
    counted: bool = True


@dataclass
class _Last:
    """The highest-numbered page seen so far: whether the listing may go on past it."""

    number: int = 0
    size: int = 0
    next: object = None


class HubClient:
    """An async Docker Hub API client for one run; use as ``async with HubClient(...) as hub``.

    Its limiter (and so the Hub's announced budget) and its figures (`stats`) last as long as it does:
    every listing of the run goes through them.
    """

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
        self._stats = FetchStats()
        self._started = time.monotonic()
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

    @classmethod
    def for_settings(
        cls, settings: Settings, auth: HubAuth, transport: httpx.AsyncBaseTransport | None = None
    ) -> "HubClient":
        return cls(
            settings.api_url,
            auth,
            concurrency=settings.concurrency,
            timeout=settings.timeout,
            max_attempts=settings.max_attempts,
            transport=transport,
        )

    async def __aenter__(self) -> "HubClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def budget(self) -> Budget:
        """What the Hub announced of its rate limit, as last seen (shared by every listing of the client)."""
        return self._limiter.budget

    async def login(self) -> None:
        """Exchange the token for a JWT now, so bad credentials fail before any listing."""
        await self._call(lambda: self.auth.ensure_login(self._http), what="login")

    @property
    def stats(self) -> FetchStats:
        """Every request since the client was made: the run's figures."""
        stats, limiter = self._stats, self._limiter
        stats.max_in_flight, stats.budget_pauses, stats.budget_waited = (
            limiter.max_in_flight,
            limiter.budget_pauses,
            limiter.budget_waited,
        )
        stats.seconds = time.monotonic() - self._started
        return stats

    @contextmanager
    def measure(self) -> Iterator[FetchStats]:
        """The figures of the requests made inside (one stage's listing), filled in on leaving; the
        client's own go on adding up."""
        before = replace(self.stats)
        self._limiter.peak = self._limiter.in_flight
        measured = FetchStats()
        try:
            yield measured
        finally:
            after = self.stats
            for name in (item.name for item in fields(FetchStats)):
                setattr(measured, name, getattr(after, name) - getattr(before, name))
            measured.max_in_flight = self._limiter.peak

    # -- pagination ----------------------------------------------------------------------------

    async def paginate(
        self, endpoint: Endpoint, sink: PageSink, *, on_page: PageCallback | None = None
    ) -> int | None:
        """Every page of ``endpoint`` into ``sink``; returns the Hub's ``count`` (None if it gave none)."""
        url = f"{self.api_url}{endpoint.path}"
        last = _Last()
        first = await self._page(url, 1, endpoint)
        if first is None:
            raise HubNotFound(f"{url} answered 404: check DOCKERHUB_API_URL ({self.api_url})")
        records = self._deliver(sink, last, 1, first, endpoint)
        count = first.get(endpoint.count)
        if not endpoint.counted:
            count = None
            # A first page shorter than asked is the whole log or the Hub's own page size (it has
            # answered 25 whatever page_size said): the next page tells which.
            full = min(last.size, endpoint.page_size)
            await self._pages_in_turn(url, endpoint, sink, last, on_page, full, records)
        elif isinstance(count, int) and count >= 0:
            await self._numbered_pages(url, endpoint, count, sink, last, on_page, records)
        else:
            count = None
            log.info("the Hub gave no count: following next links one page at a time")
            await self._linked_pages(endpoint, sink, last, on_page)
        return count

    async def get_object(self, endpoint: Endpoint) -> dict[str, Any] | None:
        """The one object at ``endpoint`` (a detail, not a listing), with the listings' pacing, retries
        and refusals; None for a 404."""
        url = f"{self.api_url}{endpoint.path}"
        return await self._get_json(url, dict(endpoint.params) or None, endpoint, what=endpoint.label)

    def _deliver(
        self, sink: PageSink, last: _Last, number: int, body: dict[str, Any] | None, endpoint: Endpoint
    ) -> list[Any] | None:
        if body is None:
            sink(number, None)
            return None
        results = body.get(endpoint.results)
        if not isinstance(results, list):
            raise HubError(
                f"the Hub answered a page of {endpoint.label} without a results list: try again later"
            )
        self._stats.pages += 1
        if number > last.number:
            last.number, last.size, last.next = number, len(results), body.get("next")
        sink(number, results)
        return results

    async def _numbered_pages(
        self,
        url: str,
        endpoint: Endpoint,
        count: int,
        sink: PageSink,
        last: _Last,
        on_page: PageCallback | None,
        first: list[Any] | None,
    ) -> None:
        # Page 1 tells the page size the Hub honours: asking 100 has brought back 25.
        asked = endpoint.page_size
        size = last.size if 0 < last.size < asked and count > last.size else asked
        if size < asked:
            log.info(
                "the Hub gives %d %s a page, not the %d asked for: reading %d pages",
                size, endpoint.noun, asked, math.ceil(count / size),
            )  # fmt: skip
        total = max(1, math.ceil(count / size))
        if total > MAX_PAGES:
            raise HubError(
                f"the Hub claims {count} {endpoint.noun} for {endpoint.label}: check DOCKERHUB_API_URL"
            )
        done = 1
        if on_page:
            on_page(done, total)

        # A pool of `concurrency` workers drawing page numbers from one iterator: only that many
        # coroutines ever wait on the limiter (one task per page would wake hundreds on every release).
        # An empty page (or a 404) ends the listing: the pages after it are past the end too. A page 2
        # equal to page 1 is a server that ignores ``page`` (a spec-driven mock): nothing more to read.
        numbers = iter(range(2, total + 1))
        end = total

        async def worker() -> None:
            nonlocal done, end
            for number in numbers:
                if number > end:
                    return
                results = self._deliver(sink, last, number, await self._page(url, number, endpoint), endpoint)
                done += 1
                if on_page:
                    on_page(done, total)
                if not results:
                    end = min(end, number - 1)
                elif number == 2 and _repeats(results, first, number, endpoint):
                    end = 1

        await pool(min(self.concurrency, total - 1), worker)
        if end < total:
            return
        # Entries created during the run can push the listing past the count seen on page 1.
        await self._pages_in_turn(url, endpoint, sink, last, on_page, size)

    async def _pages_in_turn(
        self,
        url: str,
        endpoint: Endpoint,
        sink: PageSink,
        last: _Last,
        on_page: PageCallback | None,
        full: int,
        previous: list[Any] | None = None,
    ) -> None:
        """The pages after the last one read, one at a time, while that one was full (``full`` entries or
        more, and a ``next`` link where the endpoint gives them); a 404 or an empty page ends them. So
        does a page equal to the one before it: a server that ignores ``page`` would otherwise be read
        until MAX_PAGES."""
        number = last.number
        while last.number == number and last.size >= max(full, 1) and (last.next or not endpoint.counted):
            number += 1
            _check_page_limit(number, endpoint)
            results = self._deliver(sink, last, number, await self._page(url, number, endpoint), endpoint)
            if results is None:
                break
            if on_page:
                on_page(number, None)
            if _repeats(results, previous, number, endpoint):
                break
            previous = results

    async def _linked_pages(
        self, endpoint: Endpoint, sink: PageSink, last: _Last, on_page: PageCallback | None
    ) -> None:
        number = 1
        seen: set[str] = set()
        while isinstance(link := last.next, str) and link:
            next_url = httpx.URL(link)
            if not same_origin(next_url, self._origin):
                raise ForeignHostError(
                    f"the Hub's next link points at {next_url.host}, not {self._origin.host}: refusing to "
                    "send the token there; check DOCKERHUB_API_URL or the server in front of it"
                )
            if link in seen:
                raise HubError(
                    f"the Hub's pagination loops back to {next_url.copy_with(query=None)}: try again later"
                )
            seen.add(link)
            number += 1
            body = await self._get_json(str(next_url), None, endpoint, what=f"{endpoint.label} page {number}")
            if body is None:
                break
            self._deliver(sink, last, number, body, endpoint)
            if on_page:
                on_page(number, None)

    async def _page(self, url: str, number: int, endpoint: Endpoint) -> dict[str, Any] | None:
        params = {"page": number, "page_size": endpoint.page_size, **endpoint.params}
        body = await self._get_json(url, params, endpoint, what=f"{endpoint.label} page {number}")
        if body is None and number > 1 and endpoint.counted:  # uncounted: asking past the end is how they end
            log.info(
                "page %d of %s no longer exists (the listing shrank during the run)", number, endpoint.label
            )
        return body

    # -- requests ------------------------------------------------------------------------------

    async def _get_json(
        self, url: str, params: dict[str, Any] | None, endpoint: Endpoint, *, what: str
    ) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self._call(
            lambda: self._send(url, params, endpoint, what), what=what
        )
        return result

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
            return errors >= self._attempts(exc) or limited >= MAX_RATE_LIMIT_WAITS

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, TransientHubError) and exc.status == 429:
                return 0.0  # the limiter holds every request until the Hub's pause is over
            # Full jitter: spread retries of concurrent requests instead of synchronising them.
            return random.uniform(0, min(30.0, self.backoff * 2 ** max(0, errors - 1)))

        def before_sleep(state: RetryCallState) -> None:
            self._stats.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            if _no_connection(exc):
                log.info("cannot connect to %s for %s (%s): trying again", self.api_url, what, _describe(exc))
            else:
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
            tries = (
                f"{errors} attempt{'s' if errors != 1 else ''}"
                if limited < MAX_RATE_LIMIT_WAITS
                else f"{limited} rate-limit pauses"
            )
            raise self._gave_up(exc, what, tries) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempts(self, exc: BaseException | None) -> int:
        """Attempts for this failure: fewer when no connection opens and no login of this run has
        succeeded yet (a wrong URL, a refused port, an unknown host), where waiting does not help."""
        if _no_connection(exc) and self.auth.logins == 0:
            return min(self.max_attempts, CONNECT_ATTEMPTS)
        return self.max_attempts

    def _gave_up(self, exc: BaseException, what: str, tries: str) -> HubUnavailable:
        """The one line that says what failed, where, and what helps: the URL and the network when no
        connection opens, fewer requests in flight only where they are what the Hub refused or timed out."""
        last = _describe(exc)
        if _no_connection(exc):
            return HubUnavailable(
                f"cannot connect to Docker Hub at {self.api_url} for {what} after {tries} ({last}): check "
                "DOCKERHUB_API_URL and the network (DNS, proxy, firewall)"
            )
        # A login is one request: concurrency cannot be what makes it fail.
        advice = "try again later" if what == "login" else "try again later or lower --concurrency"
        return HubUnavailable(
            f"Docker Hub at {self.api_url} kept failing for {what} after {tries} (last: {last}): {advice}"
        )

    async def _send(
        self, url: str, params: dict[str, Any] | None, endpoint: Endpoint, what: str
    ) -> dict[str, Any] | None:
        async with self._limiter.slot() as slot:
            self._stats.requests += 1
            response = await self._http.get(url, params=params)
            slot.budget = announced_budget(response.headers)
            status = response.status_code
            if status == 429:
                pause = min(MAX_PAUSE, retry_after(response.headers) or DEFAULT_PAUSE)
                slot.pause = pause
                self._stats.rate_limited += 1
                self._stats.waited_seconds += pause
                log.info("rate limited on %s: pausing all requests for %.1f s", what, pause)
                raise TransientHubError("429 Too Many Requests", status=429, retry_after=pause)
            if status >= 500:
                raise TransientHubError(f"{status} {error_detail(response)}", status=status)
            if 300 <= status < 400:
                target = response.headers.get("Location", "?")
                raise ForeignHostError(
                    f"the Hub redirected {what} to {target}: set DOCKERHUB_API_URL to the final address "
                    "(redirects are not followed, so the token cannot leak)"
                )
            if status == 401:  # the login just succeeded: this listing is what the token may not read
                raise HubForbidden(
                    f"Docker Hub refused the token for {what} even after a fresh login (401: "
                    f"{error_detail(response)}): check DOCKERHUB_TOKEN"
                )
            if status == 403:
                detail = error_detail(response)
                listed, needed = endpoint.label, endpoint.forbidden
                raise HubForbidden(f"the token may not list {listed} (403: {detail}): {needed}")
            if status == 404:
                return None
            if status >= 400:
                raise HubError(f"Docker Hub answered {status} for {what}: {error_detail(response)}")
            try:
                body = orjson.loads(response.content)  # ~4x faster than json on 100-entry pages
            except orjson.JSONDecodeError:
                raise TransientHubError(f"{status} with a body that is not JSON", status=status) from None
            if not isinstance(body, dict):
                raise HubError(f"Docker Hub answered {what} with unexpected JSON: check DOCKERHUB_API_URL")
            slot.ok = True
            return body


def _no_connection(exc: BaseException | None) -> bool:
    """No connection could be opened (refused, unknown host, nothing answered in time): not the Hub's
    load, so fewer requests in flight would not help."""
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, TransientHubError):
        return str(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return "no connection within the timeout"
    if isinstance(exc, httpx.ConnectError):
        return _connect_reason(exc)
    if isinstance(exc, httpx.TimeoutException):
        return "a timeout"
    if isinstance(exc, httpx.TransportError):
        return f"a network error ({type(exc).__name__})"
    return repr(exc)


def _connect_reason(exc: BaseException) -> str:
    """Why no connection opened, from the OS error under httpx's ("All connection attempts failed")."""
    cause: BaseException | None = exc
    for _ in range(8):  # the chain is short; bounded all the same
        if cause is None:
            break
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "unknown host"
        cause = cause.__cause__ or cause.__context__
    text = re.sub(r"^\[Errno [-\d]+\] ", "", str(exc)) or type(exc).__name__
    return f"no connection: {text[:1].lower()}{text[1:]}"


def _check_page_limit(number: int, endpoint: Endpoint) -> None:
    if number > MAX_PAGES:
        raise HubError(f"the Hub keeps giving full pages of {endpoint.label}: check DOCKERHUB_API_URL")


def _repeats(results: list[Any] | None, previous: list[Any] | None, number: int, endpoint: Endpoint) -> bool:
    """Whether page ``number`` is page ``number - 1`` again: a server that ignores ``page`` would
    otherwise be read until MAX_PAGES."""
    if not results or results != previous:
        return False
    log.warning(
        "the Hub answered page %d of %s with the same %s as page %d: reading no further",
        number, endpoint.label, endpoint.noun, number - 1,
    )  # fmt: skip
    return True


async def pool(count: int, worker: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """``count`` runs of ``worker`` at once (each draws its work from a shared iterator): the first
    failure cancels the others and is raised as itself, an `ExportError` where there is one, not as an
    exception group."""
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(count):
                group.create_task(worker())
    except ExceptionGroup as group_error:
        raise _first_error(group_error) from None


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
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
