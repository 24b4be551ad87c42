"""One Hub session per run: the login, the rate budget, the figures, the transport and one event loop.

A run opens its session once (`open_session`: the flow's "authenticate" task) and hands it to every stage
that reads the Hub (`fetch.fetch_all_pages(session, REPOSITORIES)`, `audit.sync_audit_log(session, engine)`,
`fetch.fetch_tags(session, names)`). So one JWT serves the run, the budget the Hub announced to one stage
paces the next, and `stats` adds up every request of the run. Tests choose the server by building the
session: from settings whose API URL is the fake Hub, or with a transport.

The stages are plain functions, called directly or as Prefect tasks, perhaps from another thread than
the one that opened the session: `run` hands their coroutines to the session's event loop, which runs in
a thread of its own until the session is closed (the caller's context variables go along, so a flow
run's logger still knows its run).

A declaration is turned into the client's endpoint in one place (`endpoint`), and an optional resource
that the Hub refuses costs one warning in one place (`HubSession.fetch_optional`).
"""

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from .auth import Credentials, HubAuth
from .errors import HubForbidden, HubNotFound
from .hub import Endpoint, FetchStats, HubClient
from .limits import Budget
from .resources import Resource
from .settings import MAX_PAGE_SIZE, Settings

log = logging.getLogger(__name__)

T = TypeVar("T")


def hub_auth(settings: Settings) -> HubAuth:
    """The auth object for these settings: token and identifier checked, nothing sent yet."""
    token = settings.require_token()
    credentials = Credentials(settings.identifier, token, org_token=settings.username is None)
    return HubAuth(settings.api_url, credentials)


def endpoint(
    resource: Resource, namespace: str, /, params: Mapping[str, str] | None = None, **names: str
) -> Endpoint:
    """The client's endpoint for one listing of ``resource`` in ``namespace`` (``names`` fill the rest of
    its path; ``params`` add to its declared ones)."""
    return Endpoint(
        path=resource.url_path(namespace, **names),
        label=resource.title(namespace, **names),
        noun=resource.name,
        forbidden=resource.forbidden,
        params={**resource.params, **(params or {})},
        results=resource.results,
        count=resource.count,
        page_size=resource.page_size or MAX_PAGE_SIZE,
        counted=resource.paging == "counted",
    )


class HubSession:
    """The run's connection to the Hub; close it at the end of the run (``with``), also on failure."""

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.org = settings.require_org()
        self.auth = hub_auth(settings)
        self.client = HubClient.for_settings(settings, self.auth, transport)
        self.warned: set[str] = set()  # the optional resources refused so far: one warning each
        self._loop = _LoopThread()

    def __repr__(self) -> str:
        return f"HubSession({self.client.api_url!r}, org={self.org!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections and stop the loop; closing twice does nothing."""
        if self._loop.closed:
            return
        try:
            self._loop.call(self.client.aclose())
        finally:
            self._loop.close()

    def run(self, work: Callable[[HubClient], Coroutine[Any, Any, T]]) -> T:
        """What ``work(client)`` returns, run on the session's loop; from any thread but the loop's own."""
        return self._loop.call(work(self.client))

    def login(self) -> None:
        """Exchange the token for a JWT now, so bad credentials fail before any listing."""
        self.run(HubClient.login)

    @property
    def stats(self) -> FetchStats:
        """Every request of the run so far: retries, 429s and waits of every stage."""
        return self.client.stats

    @property
    def budget(self) -> Budget:
        return self.client.budget

    def fetch_optional(self, resource: Resource, fetch: Callable[[], T], warnings: list[str]) -> T | None:
        """What ``fetch()`` (a listing of ``resource``) gives; or, when ``resource`` is optional and the Hub
        refuses it (401 or 403: the token lacks its permission; 404: the plan has none), None, and the
        warning that names what the token lacks is added to ``warnings`` (once a session)."""
        if not resource.optional:
            return fetch()
        try:
            return fetch()
        except (HubForbidden, HubNotFound) as refusal:
            log.debug("%s: %s", resource.name, refusal)  # the run's warnings say it, once
            if resource.name not in self.warned:
                self.warned.add(resource.name)
                warnings.append(resource.refused(self.org))
            return None


def open_session(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> HubSession:
    """The run's session, logged in: bad credentials fail here, before any listing."""
    session = HubSession(settings, transport=transport)
    try:
        session.login()
    except BaseException:
        session.close()
        raise
    return session


class _LoopThread:
    """An event loop in a thread of its own, for as long as the session lasts."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="hub-session", daemon=True)
        self.thread.start()

    @property
    def closed(self) -> bool:
        return self.loop.is_closed()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for it. The task is made in a copy of the caller's
        context (`call_soon_threadsafe` copies it), so context variables go along."""
        if threading.current_thread() is self.thread or self.closed:
            coroutine.close()
            raise RuntimeError("the Hub session is closed, or was called from its own loop (await instead)")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # interrupted while waiting (Ctrl-C): the work stops too
            raise

    def close(self) -> None:
        try:
            self.call(_finish())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
            self.loop.close()


async def _finish() -> None:
    """Cancel what is still running (an interrupted stage) and shut the loop's helpers down."""
    loop = asyncio.get_running_loop()
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()
