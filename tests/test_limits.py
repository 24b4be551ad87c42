"""The pacing every request shares: the Hub's pause hints and the adaptive concurrency limit."""

import asyncio

import httpx
import pytest

from dockerhub_export.limits import AdaptiveLimiter, retry_after


def test_a_429_halves_the_limit_and_only_requests_sent_after_it_regrow_it() -> None:
    async def run() -> tuple[int, int, int]:
        limiter = AdaptiveLimiter(8)
        managers = [limiter.slot() for _ in range(8)]
        slots = [await manager.__aenter__() for manager in managers]  # 8 requests in flight
        slots[0].pause = 0.01  # the first answers 429
        await managers[0].__aexit__(None, None, None)
        halved = limiter.limit
        for slot, manager in zip(slots[1:], managers[1:]):  # the other 7 were sent before it: 200
            slot.ok = True
            await manager.__aexit__(None, None, None)
        after_old = limiter.limit
        for _ in range(halved):  # `limit` successes of requests sent after the pause grow it by one
            async with limiter.slot() as slot:
                slot.ok = True
        return halved, after_old, limiter.limit

    assert asyncio.run(run()) == (4, 4, 5)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({"X-RateLimit-Reset": "1000000030"}, 30.0),
        ({"X-Retry-After": "1000000012"}, 12.0),
        ({"Retry-After": "Sun, 09 Sep 2001 01:47:00 GMT"}, 20.0),
        ({}, None),
    ],
)
def test_retry_after_reads_every_header_the_hub_has_used(headers: dict, expected: float | None) -> None:
    assert retry_after(httpx.Headers(headers), now=1_000_000_000.0) == expected
