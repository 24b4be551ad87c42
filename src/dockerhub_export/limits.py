"""Pacing shared by every request of a run: the Hub's pause hints, and the adaptive concurrency limit.

`retry_after` reads how long the Hub asks us to wait; `AdaptiveLimiter` keeps at most ``limit`` requests
in flight, pauses every request together on a 429 and halves the limit, which successes then restore.
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
    async def slot(self) -> AsyncIterator["Slot"]:
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
        slot = Slot(pauses=self._pauses)
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
class Slot:
    pauses: int  # the limiter's pause count when this slot was acquired
    pause: float | None = None
    ok: bool = False
