"""Pacing shared by every request of a run: the Hub's pause hints, its announced budget, and the
adaptive concurrency limit.

`retry_after` reads how long the Hub asks us to wait after a 429; `announced_budget` reads the budget
it announces on every answer (``X-RateLimit-Remaining`` / ``-Reset``). `AdaptiveLimiter` keeps at most
``limit`` requests in flight, spends the announced budget and then holds every request until the
window resets (so a long run never trips the limit the Hub announced), and on a 429 all the same
pauses every request together and halves the limit, which successes then restore.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

log = logging.getLogger("dockerhub_export.hub")

# Seconds after an announced window resets before sending again: the Hub's clock and ours differ, and
# whole-second reset times round.
BUDGET_MARGIN = 0.25
# An answer announcing a reset this much later than the one known starts a new window.
NEW_WINDOW = 0.5


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


def announced_budget(headers: httpx.Headers, now: float | None = None) -> tuple[int, float] | None:
    """(requests left in the Hub's current window, seconds until it resets), from ``X-RateLimit-Remaining``
    and ``X-RateLimit-Reset`` (epoch seconds, or seconds when small), or None when not announced."""
    remaining, reset = headers.get("X-RateLimit-Remaining"), headers.get("X-RateLimit-Reset")
    if not remaining or not reset:
        return None
    try:
        left, stamp = int(float(remaining)), float(reset)
    except ValueError:
        return None
    now = time.time() if now is None else now
    return max(0, left), max(0.0, stamp - now if stamp > 1e9 else stamp)


class AdaptiveLimiter:
    """At most ``limit`` requests in flight; a 429 pauses everybody and halves the limit.

    After ``limit`` successes in a row the limit grows by one again, up to ``maximum``: the client
    backs off together instead of every request hammering the Hub on its own schedule. Only requests
    sent since the last pause count as successes: those already in flight when a 429 came back say
    nothing about the halved limit (they would otherwise regrow it before the pause is even over).

    The announced budget: every answer that carries one sets what is left of it, less the requests
    still in flight (they may not have been counted yet); each request sent takes one. With nothing
    left, every request waits for the window to reset; the next answer then tells the new budget.
    """

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.limit = maximum
        self.in_flight = 0
        self.max_in_flight = 0
        self._resume_at = 0.0
        self._successes = 0
        self._pauses = 0  # pauses set so far: a slot counts as a success only if none was set since it began
        self._left: int | None = None  # requests the announced budget still allows; None: not announced
        self._window_end = 0.0  # loop time the announced window resets
        self.budget_pauses = 0
        self.budget_waited = 0.0
        self._cond = asyncio.Condition()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator["Slot"]:
        loop = asyncio.get_running_loop()
        async with self._cond:
            while True:
                now = loop.time()
                wait = self._resume_at - now
                if wait > 0:
                    try:
                        await asyncio.wait_for(self._cond.wait(), wait)
                    except TimeoutError:
                        pass
                elif self._left is not None and self._left <= 0:
                    if now < self._window_end + BUDGET_MARGIN:
                        self._resume_at = self._window_end + BUDGET_MARGIN
                        self.budget_pauses += 1
                        self.budget_waited += self._resume_at - now
                        log.info("the announced rate limit is spent: pausing all requests for %.1f s, until "
                                 "its window resets", self._resume_at - now)  # fmt: skip
                    else:
                        self._left = None  # a new window: the next answer announces its budget
                elif self.in_flight < self.limit:
                    break
                else:
                    await self._cond.wait()
            if self._left is not None:
                self._left -= 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        slot = Slot(pauses=self._pauses)
        try:
            yield slot
        finally:
            async with self._cond:
                self.in_flight -= 1
                if slot.budget is not None:
                    self._announce(*slot.budget, loop.time())
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

    def _announce(self, remaining: int, seconds: float, now: float) -> None:
        end = now + seconds
        left = max(0, remaining - self.in_flight)
        if self._left is None or end > self._window_end + NEW_WINDOW:
            self._left, self._window_end = left, end
        else:
            self._left = min(self._left, left)


@dataclass
class Slot:
    pauses: int  # the limiter's pause count when this slot was acquired
    pause: float | None = None  # the Hub answered 429: pause everybody this long
    ok: bool = False  # the Hub answered with data
    budget: tuple[int, float] | None = None  # the answer announced (requests left, seconds to reset)
