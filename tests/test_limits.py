"""The pacing every request shares: the Hub's pause hints and the adaptive concurrency limit."""

import asyncio
import time

import httpx
import pytest
from fakehub import FakeHub, Faults, make_repos

from dockerhub_export.limits import AdaptiveLimiter, Announced, Budget, announced_budget, retry_after


def test_a_429_halves_the_limit_and_only_requests_sent_after_it_regrow_it() -> None:
    async def run() -> tuple[int, int, int]:
        limiter = AdaptiveLimiter(8)
        managers = [limiter.slot() for _ in range(8)]
        slots = [await manager.__aenter__() for manager in managers]  # 8 requests in flight
        slots[0].pause = 0.01  # the first answers 429
        await managers[0].__aexit__(None, None, None)
        halved = limiter.limit
        for slot, manager in zip(
            slots[1:], managers[1:], strict=True
        ):  # the other 7 were sent before it: 200
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


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-RateLimit-Remaining": "57", "X-RateLimit-Reset": "1000000030"}, (57, 30.0, None)),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "12.5"}, (0, 12.5, None)),  # seconds, not epoch
        (
            {"X-RateLimit-Limit": "180", "X-RateLimit-Remaining": "9", "X-RateLimit-Reset": "1000000030"},
            (9, 30.0, 180),
        ),
        ({"X-RateLimit-Limit": "?", "X-RateLimit-Remaining": "9", "X-RateLimit-Reset": "5"}, (9, 5.0, None)),
        ({"X-RateLimit-Remaining": "3"}, None),
        ({"X-RateLimit-Remaining": "x", "X-RateLimit-Reset": "1"}, None),
        ({}, None),
    ],
)
def test_the_announced_budget_is_read_from_every_answer(headers: dict, expected: tuple | None) -> None:
    assert announced_budget(httpx.Headers(headers), now=1_000_000_000.0) == expected


def test_the_budget_counts_requests_in_flight_and_waits_for_the_window() -> None:
    async def run() -> tuple[float, int]:
        limiter = AdaptiveLimiter(4)
        loop = asyncio.get_running_loop()
        managers = [limiter.slot() for _ in range(3)]
        slots = [await manager.__aenter__() for manager in managers]
        slots[0].budget = Announced(3, 0.3)  # 3 left, but 2 requests are still in flight: 1 may go
        await managers[0].__aexit__(None, None, None)
        for manager in managers[1:]:
            await manager.__aexit__(None, None, None)
        started = loop.time()
        async with limiter.slot():  # the one left
            pass
        async with limiter.slot():  # none left: waits for the window (0.3 s + the margin)
            waited = loop.time() - started
        return waited, limiter.budget_pauses

    waited, pauses = asyncio.run(run())
    assert waited >= 0.3 and pauses == 1


def test_a_new_window_allows_its_announced_limit_before_any_answer_and_no_more() -> None:
    """Limit 3 a window, 8 in flight allowed: after the reset only 3 go until an answer tells the budget."""

    async def run() -> list[int]:
        budget = Budget()
        limiter = AdaptiveLimiter(8, budget)
        async with limiter.slot() as slot:
            slot.budget = Announced(0, 0.05, 3)  # the window is spent; it resets in 0.05 s
        sent: list[int] = []
        waiting: list[asyncio.Task[None]] = []
        release = asyncio.Event()

        async def request(k: int) -> None:
            async with limiter.slot():
                sent.append(k)
                await release.wait()

        for k in range(6):
            waiting.append(asyncio.create_task(request(k)))
        await asyncio.sleep(0.5)  # long past the reset: still only the new window's 3
        in_the_new_window = len(sent)
        release.set()
        await asyncio.gather(*waiting)  # answers without an announcement: the rest go unpaced
        return [in_the_new_window, len(sent)]

    assert asyncio.run(run()) == [3, 6]


def test_a_limiter_given_a_spent_budget_waits_for_its_window_even_on_another_loop() -> None:
    """A `Budget` is kept in `time.monotonic` time: what one limiter learnt still holds for the next."""

    async def first(budget: Budget) -> None:
        async with AdaptiveLimiter(4, budget).slot() as slot:
            slot.budget = Announced(0, 0.3, 10)

    async def second(budget: Budget) -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with AdaptiveLimiter(4, budget).slot():
            return loop.time() - started

    budget = Budget()
    asyncio.run(first(budget))
    waited = asyncio.run(second(budget))  # another event loop
    assert waited >= 0.2 and budget.limit == 10


def test_a_429_with_budget_left_sends_the_end_of_each_window_one_at_a_time() -> None:
    """Another client spends the same budget: a 429 came although 19 were left in our count. From then on,
    once what is left could all be in flight at once (two clients at 8, and two to spare), requests go
    one at a time (each answer tells what the other spent) and the window's last one stays unsent; alone,
    the client sends its limit."""

    async def in_flight_allowed(budget: Budget, left: int) -> int:
        limiter = AdaptiveLimiter(8, budget)
        async with limiter.slot() as slot:
            slot.budget = Announced(left, 30.0, 100)
        managers = [limiter.slot() for _ in range(8)]
        entered = 0
        for manager in managers:
            try:
                await asyncio.wait_for(manager.__aenter__(), 0.05)
            except TimeoutError:
                break
            entered += 1
        for manager in managers[:entered]:
            await manager.__aexit__(None, None, None)
        return entered

    async def hit_by_a_429(budget: Budget) -> None:
        limiter = AdaptiveLimiter(8, budget)
        async with limiter.slot() as slot:
            slot.budget = Announced(20, 30.0, 100)
        async with limiter.slot() as slot:
            slot.pause = 0.0  # the Hub answered 429 with 19 left in our count

    alone = Budget()
    assert asyncio.run(in_flight_allowed(alone, 10)) == 8 and not alone.shared
    shared = Budget()
    asyncio.run(hit_by_a_429(shared))
    assert shared.shared
    assert [asyncio.run(in_flight_allowed(shared, left)) for left in (40, 10, 1)] == [8, 1, 0]
    # Two clients' 8 in flight at once and two to spare: one at a time below 18.
    assert [asyncio.run(in_flight_allowed(Budget(shared=True), left)) for left in (18, 17)] == [8, 1]


def test_answers_out_of_order_give_back_what_was_counted_twice_unless_the_budget_is_shared() -> None:
    """3 in flight, the last sent answers first (17 left): the other 2 are taken twice, in the Hub's count
    and as in flight, until their answers (19, 18) come back. Shared, the lower count stays."""

    async def left_after(budget: Budget) -> int | None:
        limiter = AdaptiveLimiter(8, budget)
        async with limiter.slot() as slot:
            slot.budget = Announced(20, 30.0, 100)
        managers = [limiter.slot() for _ in range(3)]
        slots = [await manager.__aenter__() for manager in managers]
        for slot, remaining in zip(slots, (19, 18, 17), strict=True):
            slot.budget = Announced(remaining, 30.0, 100)
        for manager in reversed(managers):
            await manager.__aexit__(None, None, None)
        return budget.left

    assert asyncio.run(left_after(Budget())) == 17
    assert asyncio.run(left_after(Budget(shared=True))) == 15


def test_a_request_that_ended_unannounced_counts_as_spent_until_a_later_request_answers() -> None:
    """A request that failed without a budget (say a dropped connection) may have been counted: an answer
    to a request sent before it ended cannot tell, one sent after it ended can."""

    async def run() -> list[int | None]:
        limiter = AdaptiveLimiter(4)
        async with limiter.slot() as slot:
            slot.budget = Announced(5, 30.0, 10)
        before, failed = limiter.slot(), limiter.slot()
        first = await before.__aenter__()
        await failed.__aenter__()
        await failed.__aexit__(None, None, None)  # ended with no answer
        first.budget = Announced(4, 30.0, 10)  # sent before it ended: 4 left, perhaps 3
        await before.__aexit__(None, None, None)
        left = [limiter.budget.left]
        async with limiter.slot() as slot:  # sent after it ended: the Hub's 2 includes it, if counted
            slot.budget = Announced(2, 30.0, 10)
        return [*left, limiter.budget.left]

    assert asyncio.run(run()) == [3, 2]


async def _send_paced(url: str, requests: int) -> AdaptiveLimiter:
    """``requests`` GETs 8 at a time through a limiter, over HTTP, as `hub.py` sends them; each answer
    is read later the earlier the Hub counted it (``Remaining`` ms), so answers come back out of order."""
    limiter = AdaptiveLimiter(8)
    async with httpx.AsyncClient(base_url=url) as http:

        async def one() -> None:
            async with limiter.slot() as slot:
                response = await http.get("/v2/namespaces/acme/repositories", params={"page_size": 1})
                slot.budget = announced_budget(response.headers)
                slot.ok = response.status_code == 200
                await asyncio.sleep(int(response.headers["X-RateLimit-Remaining"]) / 1000)

        await asyncio.gather(*(one() for _ in range(requests)))
    return limiter


@pytest.mark.parametrize("windows", [1, 2])
def test_a_budget_of_n_a_window_sends_n_a_window_even_with_answers_out_of_order(windows: int) -> None:
    """16 a window: 16 requests go in one window with no pause, 32 in two with one pause; never a 429.
    (An answer read before those the Hub counted earlier must not leave them counted twice.)"""
    per_window, window = 16, 1.0
    hub = FakeHub(repos={"acme": make_repos("acme", 3)}, faults=Faults(quota=per_window, quota_window=window))
    with hub:
        started = time.monotonic()
        limiter = asyncio.run(_send_paced(hub.url, per_window * windows))
        seconds = time.monotonic() - started
        answered = [r.started - hub.requests[0].started for r in hub.requests if r.status == 200]
    assert hub.quota_rejections == 0 and len(answered) == per_window * windows
    assert limiter.budget_pauses == windows - 1
    assert max(answered) < window * windows and seconds < window * windows
