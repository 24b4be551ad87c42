"""Pacing shared by every request of a run: the Hub's pause hints, its announced budget, and the
adaptive concurrency limit.

`retry_after` reads how long the Hub asks us to wait after a 429; `announced_budget` reads the budget
it announces on every answer (``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset``). `AdaptiveLimiter`
keeps at most ``limit`` requests in flight, spends the announced budget and then holds every request
until the window resets (so a long run never trips the limit the Hub announced), and on a 429 all the
same pauses every request together and halves the limit, which successes then restore. What the Hub
announced lives in a `Budget`: one for the run's session, so every stage (repositories, audit log, tags)
goes on where the one before stopped.

The Hub does not say whom it counts; reports say per address (about 600 requests a minute). So another
process, or another org's run from the same address, may spend the same budget unseen: a 429 while the
announced budget is not spent says so. From then on the end of each window goes one request at a time,
so each answer tells what the others spent, and the window's last request stays unsent: clients sharing
a budget no longer overshoot its end together (the `shared-budget` bench).
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import NamedTuple

import httpx

log = logging.getLogger(__name__)

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


class Announced(NamedTuple):
    left: int  # requests left in the Hub's current window
    seconds: float  # until it resets
    limit: int | None = None  # requests a window allows (X-RateLimit-Limit), when told


def announced_budget(headers: httpx.Headers, now: float | None = None) -> Announced | None:
    """What the Hub announces on an answer: ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` (epoch
    seconds, or seconds when small) and ``X-RateLimit-Limit`` if given; None when not announced."""
    remaining, reset = headers.get("X-RateLimit-Remaining"), headers.get("X-RateLimit-Reset")
    if not remaining or not reset:
        return None
    try:
        left, stamp = int(float(remaining)), float(reset)
    except ValueError:
        return None
    try:
        limit: int | None = max(1, int(float(headers.get("X-RateLimit-Limit", ""))))
    except ValueError:
        limit = None
    now = time.time() if now is None else now
    return Announced(max(0, left), max(0.0, stamp - now if stamp > 1e9 else stamp), limit)


@dataclass
class Budget:
    """The Hub's announced budget as last seen, in `time.monotonic` time (an event loop's clock): kept
    for the whole run, so that a stage goes on where the one before stopped instead of sending a blind
    burst into a window that is already spent."""

    left: int | None = None  # requests the window still allows, less those in flight; None: not known
    lowest: int | None = None  # the least the Hub announced left in this window
    window_end: float | None = None  # when the window resets; None: a new window not yet announced
    limit: int | None = None  # what a new window allows (X-RateLimit-Limit), when announced
    shared: bool = False  # a 429 came with budget left: someone else spends it too
    sent: int = 0  # requests sent so far
    # For each request that ended without announcing the budget (it may have been counted): `sent` when
    # it ended. An answer to a request sent later covers it: the Hub had counted it, or never will.
    unseen: list[int] = field(default_factory=list)


class AdaptiveLimiter:
    """At most ``limit`` requests in flight; a 429 pauses everybody and halves the limit.

    After ``limit`` successes in a row the limit grows by one again, up to ``maximum``: the client
    backs off together instead of every request hammering the Hub on its own schedule. Only requests
    sent since the last pause count as successes: those already in flight when a 429 came back say
    nothing about the halved limit (they would otherwise regrow it before the pause is even over).

    The announced budget: what is left is the least the Hub announced in the window, less what it may
    not have counted yet: the requests in flight, and those that ended without announcing it after that
    answer's request was sent. Each request sent takes one. A request in flight that the Hub had counted
    already is taken twice, so with nothing left, requests first wait for the answers in flight, and
    only if still nothing is left for the window to reset. Once the budget is shared, answers give
    nothing back (the lower count leaves room for the others' requests in flight). A new window allows
    what the Hub announced as its limit (unknown: as many as may be in flight), until the next answer
    tells the new budget.
    """

    def __init__(self, maximum: int, budget: Budget | None = None) -> None:
        self.maximum = maximum
        self.limit = maximum
        self.in_flight = 0
        self.max_in_flight = 0
        self.peak = 0  # the most in flight since the last `measure` of the client (one stage's listing)
        self._resume_at = 0.0
        self._successes = 0
        self._pauses = 0  # pauses set so far: a slot counts as a success only if none was set since it began
        self.budget = Budget() if budget is None else budget
        self.budget_pauses = 0
        self.budget_waited = 0.0
        self._cond = asyncio.Condition()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator["Slot"]:
        loop = asyncio.get_running_loop()  # its clock is time.monotonic, as `Budget` says
        budget = self.budget
        async with self._cond:
            while True:
                now = loop.time()
                wait = self._resume_at - now
                if wait > 0:
                    try:
                        await asyncio.wait_for(self._cond.wait(), wait)
                    except TimeoutError:
                        pass
                # Shared: the window's last request is left unsent, else both clients would send it.
                elif budget.left is not None and budget.left <= (1 if budget.shared else 0):
                    await self._spent(now)
                elif self.in_flight < self._room(budget):
                    break
                else:
                    await self._cond.wait()
            if budget.left is not None:
                budget.left -= 1
            budget.sent += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.peak = max(self.peak, self.in_flight)
        slot = Slot(pauses=self._pauses, sent=budget.sent)
        try:
            yield slot
        finally:
            async with self._cond:
                self._release(slot, loop.time())
                self._cond.notify_all()

    async def _spent(self, now: float) -> None:
        """Nothing left of the announced budget (under the lock): wait for the answers in flight, which
        announce a new window's budget or (unless shared) give back what they took twice; then pause
        every request until the window resets, or start the new window."""
        budget = self.budget
        if budget.window_end is None:  # a new window's limit spent before its first answer
            if self.in_flight:
                await self._cond.wait()
            else:
                budget.left = None  # no answer will announce it: send, and read the next
        elif self.in_flight and now < budget.window_end and not budget.shared:
            try:
                await asyncio.wait_for(self._cond.wait(), budget.window_end - now)
            except TimeoutError:
                pass
        elif now < budget.window_end + BUDGET_MARGIN:
            self._resume_at = budget.window_end + BUDGET_MARGIN
            self.budget_pauses += 1
            self.budget_waited += self._resume_at - now
            log.info("the announced rate limit is spent: pausing all requests for %.1f s, until its "
                     "window resets", self._resume_at - now)  # fmt: skip
        else:  # a new window: its limit, until the next answer announces what is left of it
            budget.left, budget.window_end, budget.lowest = budget.limit, None, None

    def _release(self, slot: "Slot", now: float) -> None:
        """What a finished request tells: the budget its answer announced, a 429's pause (everybody
        waits, the limit halves), or one more success towards a higher limit."""
        budget = self.budget
        self.in_flight -= 1
        if slot.budget is not None:
            self._announce(slot.budget, slot.sent, now)
        elif budget.lowest is not None:
            budget.unseen.append(budget.sent)
        if slot.pause is not None:
            if not budget.shared and (budget.limit is not None or budget.window_end is not None):
                budget.shared = True
                log.info(
                    "a 429 although the announced rate limit was not spent: another client spends "
                    "it too; the end of each window goes one request at a time"
                )
            self._resume_at = max(self._resume_at, now + slot.pause)
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

    def _room(self, budget: Budget) -> int:
        """How many requests may be in flight: the limit; with a shared budget, one at a time once what
        is left (ours in flight included) could all be in flight at once, so that each client's answers
        tell the others' spending before it sends again. Two to spare: two clients at their limit until
        then still leave one request each to send one at a time, the window's last one unsent."""
        if budget.shared and budget.left is not None and budget.left + self.in_flight < 2 * self.maximum + 2:
            return 1
        return self.limit

    def _announce(self, announced: Announced, sent: int, now: float) -> None:
        """What an answer announced: the window's lowest count, less what may not be counted yet. ``sent``:
        the request's number (`Budget.sent` when it was sent)."""
        budget = self.budget
        end = now + announced.seconds
        if announced.limit is not None:
            budget.limit = announced.limit
        known = budget.left
        if budget.lowest is None or budget.window_end is None or end > budget.window_end + NEW_WINDOW:
            budget.lowest, budget.window_end, known = announced.left, end, None
        elif end > budget.window_end - NEW_WINDOW:  # else counted in the window before: not in this one
            budget.lowest = min(budget.lowest, announced.left)
        budget.unseen = [ended for ended in budget.unseen if ended >= sent]
        left = budget.lowest - self.in_flight - len(budget.unseen)
        # Shared: nothing given back. The lower count leaves room for what our answers cannot show: the
        # others' requests in flight.
        budget.left = min(known, left) if budget.shared and known is not None else left


@dataclass
class Slot:
    pauses: int  # the limiter's pause count when this slot was acquired
    sent: int  # its request's number: `Budget.sent` once it was sent
    pause: float | None = None  # the Hub answered 429: pause everybody this long
    ok: bool = False  # the Hub answered with data
    budget: Announced | None = None  # what the answer announced
