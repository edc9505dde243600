"""RateLimiter against a virtual clock: pacing, probing, header adaptation, 429s, daily budget."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest

from ghlbridge.client.errors import DailyLimitExceeded
from ghlbridge.client.ratelimit import RateLimiter, rate_key


class VirtualClock:
    """Virtual time: sleepers wake in time order once every runnable task has had its turn."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (self.now + max(delay, 0.0), next(self._seq), fut))
        await fut

    async def settle(self) -> None:
        for _ in range(50):
            await asyncio.sleep(0)

    async def run(self, coro: Awaitable[Any]) -> Any:
        main = asyncio.ensure_future(coro)
        while True:
            await self.settle()
            if main.done():
                return main.result()
            if not self._heap:
                main.cancel()
                raise AssertionError("deadlock: nothing runnable and nobody sleeping")
            at, _, fut = heapq.heappop(self._heap)
            if fut.cancelled():
                continue  # an abandoned timer does not move time
            self.now = max(self.now, at)
            fut.set_result(None)

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers due on the way."""
        end = self.now + seconds
        while self._heap and self._heap[0][0] <= end:
            at, _, fut = heapq.heappop(self._heap)
            if fut.cancelled():
                continue  # an abandoned timer does not move time
            self.now = max(self.now, at)
            fut.set_result(None)
            await self.settle()
        self.now = end
        await self.settle()


def headers(
    max_: int = 100,
    interval_ms: int = 10_000,
    remaining: int | None = None,
    daily_remaining: int | None = None,
) -> dict[str, str]:
    h = {
        "X-RateLimit-Max": str(max_),
        "X-RateLimit-Interval-Milliseconds": str(interval_ms),
        "X-RateLimit-Limit-Daily": "200000",
    }
    if remaining is not None:
        h["X-RateLimit-Remaining"] = str(remaining)
    if daily_remaining is not None:
        h["X-RateLimit-Daily-Remaining"] = str(daily_remaining)
    return h


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def make(clock: VirtualClock, **kw: Any) -> RateLimiter:
    return RateLimiter(clock=clock, sleep=clock.sleep, **kw)


async def learn(lim: RateLimiter, key: str, **kw: Any) -> None:
    """One probe round trip so the key knows the server's numbers."""
    await lim.acquire(key)
    lim.observe(key, headers(**kw), 200)


def max_in_any_window(times: list[float], interval: float) -> int:
    times = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(times):
        while times[start] <= t - interval:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_never_more_than_max_in_any_window(clock: VirtualClock) -> None:
    lim = make(clock)
    key = rate_key("app", "loc1")
    sent: list[float] = []

    async def call() -> None:
        await lim.acquire(key)
        sent.append(clock.now)
        await clock.sleep(0.003)
        lim.observe(key, headers(max_=5, interval_ms=1000), 200)

    async def main() -> None:
        await asyncio.gather(*(call() for _ in range(41)))

    await clock.run(main())
    assert len(sent) == 41
    assert max_in_any_window(sent, 1.0) == 5
    # Nearly all of the budget is used: 41 sends need 8 full windows after the first 5.
    assert sent[-1] - sent[0] < 8 * 1.0 + 0.1
    # Waiting sleeps until the computed time, it never spins.
    assert len(clock.sleeps) <= 2 * 41


async def test_fresh_key_sends_one_probe_until_an_answer_arrives(clock: VirtualClock) -> None:
    lim = make(clock, max_requests=100)
    key = rate_key("app", "fresh")
    granted: list[int] = []

    async def call(i: int) -> None:
        await lim.acquire(key)
        granted.append(i)

    tasks = [asyncio.ensure_future(call(i)) for i in range(50)]
    await clock.settle()
    assert granted == [0]
    assert lim.snapshot()[key]["learned"] == 0.0

    lim.observe(key, headers(max_=3, interval_ms=1000, remaining=2), 200)
    await clock.settle()
    assert granted == [0, 1, 2]  # the server's Max of 3 now governs, not the default 100
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_probe_failing_without_headers_keeps_probing(clock: VirtualClock) -> None:
    lim = make(clock)
    key = "app:loc"
    granted: list[int] = []

    async def call(i: int) -> None:
        await lim.acquire(key)
        granted.append(i)

    tasks = [asyncio.ensure_future(call(i)) for i in range(5)]
    await clock.settle()
    lim.observe(key, {}, 503)  # a proxy's 503 teaches nothing
    await clock.settle()
    assert granted == [0, 1]
    lim.release(key)  # a ConnectError: never left
    await clock.settle()
    assert granted == [0, 1, 2]
    lim.observe(key, {"Content-Type": "application/json"}, 200)  # server sends no rate headers
    await clock.settle()
    assert granted == [0, 1, 2, 3, 4]  # defaults stand
    await asyncio.gather(*tasks)


async def test_a_probe_abandoned_by_its_task_frees_the_key(clock: VirtualClock) -> None:
    lim = make(clock)
    key = "app:loc"

    async def timed_out_then_retried() -> None:
        await lim.acquire(key)  # the probe times out; the core reports nothing and retries
        await lim.acquire(key)
        lim.observe(key, headers(max_=10, interval_ms=1000), 200)

    await clock.run(timed_out_then_retried())
    assert clock.sleeps == []


async def test_a_lost_probe_stops_blocking_after_the_probe_timeout(clock: VirtualClock) -> None:
    lim = make(clock, probe_timeout=30.0)
    key = "app:loc"
    lost = asyncio.ensure_future(lim.acquire(key))  # a task that never reports back
    await clock.settle()
    assert lost.done()
    start = clock.now

    async def next_call() -> float:
        await lim.acquire(key)
        return clock.now

    assert await clock.run(next_call()) == pytest.approx(start + 30.0)


async def test_adapts_to_smaller_max_and_interval_from_headers(clock: VirtualClock) -> None:
    lim = make(clock, max_requests=100, interval=10.0)
    key = "app:loc"
    sent: list[float] = []

    async def call() -> None:
        await lim.acquire(key)
        sent.append(clock.now)
        lim.observe(key, {"x-ratelimit-max": "3", "X-RATELIMIT-INTERVAL-MILLISECONDS": "500"}, 200)

    async def main() -> None:
        for _ in range(3):
            await asyncio.gather(*(call() for _ in range(4)))

    await clock.run(main())
    snap = lim.snapshot()[key]
    assert snap["max"] == 3
    assert snap["interval"] == 0.5
    assert max_in_any_window(sent, 0.5) == 3
    assert sent[-1] - sent[0] < 2.0


async def test_a_slow_answer_holds_its_slot_until_an_interval_after_it(
    clock: VirtualClock,
) -> None:
    # GHL counts a request on arrival, which may be as late as just before its answer.
    lim = make(clock)
    key = "app:loc"
    await learn(lim, key, max_=1, interval_ms=1000)
    first_answer = clock.now
    await clock.advance(1.5)
    await lim.acquire(key)
    await clock.advance(0.3)
    lim.observe(key, headers(max_=1, interval_ms=1000), 200)
    answered = clock.now
    assert answered - first_answer > 1.0

    async def main() -> float:
        await lim.acquire(key)
        return clock.now

    assert await clock.run(main()) == pytest.approx(answered + 1.0 + 0.001)


async def test_a_full_window_of_requests_in_flight_waits_for_an_answer(
    clock: VirtualClock,
) -> None:
    lim = make(clock)
    key = "app:loc"
    await learn(lim, key, max_=3, interval_ms=1000)
    await clock.advance(2.0)
    sent = [asyncio.ensure_future(lim.acquire(key)) for _ in range(3)]  # one task each
    await clock.settle()
    assert all(task.done() for task in sent)
    fourth = asyncio.ensure_future(lim.acquire(key))
    await clock.advance(5.0)  # no answer yet: they may still be on their way to GHL
    assert not fourth.done()
    lim.observe(key, headers(max_=3, interval_ms=1000), 200)
    await clock.advance(1.0)
    assert not fourth.done()
    await clock.advance(0.01)
    assert fourth.done()


async def test_server_remaining_lower_than_local_estimate_slows_down(clock: VirtualClock) -> None:
    lim = make(clock)
    key = "app:loc"
    await learn(lim, key, max_=10, interval_ms=1000, remaining=9)
    start = clock.now

    # Another process spent 6 of this window: the server says 3 remain after our next call.
    await lim.acquire(key)
    lim.observe(key, headers(max_=10, interval_ms=1000, remaining=2), 200)
    assert lim.snapshot()[key]["phantoms"] == 6

    sent: list[float] = []

    async def main() -> None:
        for _ in range(3):
            await lim.acquire(key)
            sent.append(clock.now)
            lim.observe(key, headers(max_=10, interval_ms=1000), 200)

    await clock.run(main())
    assert sent[0] == start and sent[1] == start
    assert sent[2] >= start + 1.0  # had to wait for the window instead of sending a 429


async def test_remaining_zero_waits_for_the_window(clock: VirtualClock) -> None:
    lim = make(clock)
    key = "app:loc"
    await learn(lim, key, max_=10, interval_ms=1000, remaining=0)
    first = clock.now

    async def main() -> float:
        await lim.acquire(key)
        return clock.now

    assert await clock.run(main()) >= first + 1.0


async def test_phantoms_are_dropped_when_the_server_shows_room_again(clock: VirtualClock) -> None:
    lim = make(clock)
    key = "app:loc"
    await learn(lim, key, max_=10, interval_ms=1000, remaining=5)  # 4 used by someone else
    assert lim.snapshot()[key]["phantoms"] == 4
    await lim.acquire(key)
    lim.observe(key, headers(max_=10, interval_ms=1000, remaining=7), 200)  # they're gone
    assert lim.snapshot()[key]["phantoms"] == 1


async def test_rate_limited_with_retry_after_pauses_the_key(clock: VirtualClock) -> None:
    lim = make(clock)
    key = "app:loc"
    await learn(lim, key, max_=100, interval_ms=10_000)
    await lim.acquire(key)
    lim.observe(key, headers(max_=100, interval_ms=10_000, remaining=0), 429)
    lim.on_rate_limited(key, 3.0)
    assert lim.snapshot()[key]["n429"] == 1
    paused_at = clock.now

    async def main() -> float:
        await lim.acquire(key)
        return clock.now

    # Paused 3 s by Retry-After, then the server said the window is full: wait for it to free.
    assert await clock.run(main()) >= paused_at + 3.0


async def test_rate_limited_without_retry_after_waits_until_the_window_frees(
    clock: VirtualClock,
) -> None:
    lim = make(clock)
    key = "app:loc"
    await learn(lim, key, max_=10, interval_ms=1000)
    first = clock.now
    await clock.advance(0.4)
    await lim.acquire(key)
    lim.observe(key, {}, 429)  # no headers at all on this 429
    lim.on_rate_limited(key, None)

    async def main() -> float:
        await lim.acquire(key)
        return clock.now

    when = await clock.run(main())
    assert first + 1.0 <= when < first + 1.1  # the oldest send leaves the window


async def test_daily_budget_spent_raises_and_is_rechecked_later(clock: VirtualClock) -> None:
    lim = make(clock, daily_recheck=600.0)
    key = "app:loc"
    await learn(lim, key, daily_remaining=2)
    await lim.acquire(key)
    await lim.acquire(key)
    with pytest.raises(DailyLimitExceeded) as info:
        await lim.acquire(key)
    assert info.value.status == 429
    assert info.value.retry_after is not None and info.value.retry_after > 0

    await clock.advance(601.0)
    await lim.acquire(key)  # one request may find out whether the day rolled over
    with pytest.raises(DailyLimitExceeded):
        await lim.acquire(key)
    lim.observe(key, headers(daily_remaining=200_000), 200)
    await lim.acquire(key)
    assert lim.snapshot()[key]["daily_remaining"] == 199_999


async def test_daily_remaining_zero_header_stops_the_key(clock: VirtualClock) -> None:
    lim = make(clock)
    key = "app:loc"
    await learn(lim, key, daily_remaining=0)
    with pytest.raises(DailyLimitExceeded):
        await lim.acquire(key)
    assert lim.snapshot()[key]["daily_remaining"] == 0


async def test_separate_keys_are_independent(clock: VirtualClock) -> None:
    lim = make(clock)
    a, b = rate_key("app", "locA"), rate_key("app", "locB")
    await learn(lim, a, max_=2, interval_ms=10_000)
    await lim.acquire(a)
    blocked = asyncio.ensure_future(lim.acquire(a))
    await clock.settle()
    assert not blocked.done()

    await lim.acquire(b)  # a fresh key: its probe goes at once
    assert clock.sleeps == [pytest.approx(10.001)]  # only key A sleeps
    assert lim.snapshot()[b]["used"] == 1
    blocked.cancel()
    await asyncio.gather(blocked, return_exceptions=True)


async def test_waiters_are_served_first_in_first_out(clock: VirtualClock) -> None:
    lim = make(clock)
    key = "app:loc"
    await learn(lim, key, max_=2, interval_ms=1000)
    order: list[int] = []

    async def call(i: int) -> None:
        await lim.acquire(key)
        order.append(i)
        lim.observe(key, headers(max_=2, interval_ms=1000), 200)

    async def main() -> None:
        tasks = []
        for i in range(9):
            tasks.append(asyncio.ensure_future(call(i)))
            await asyncio.sleep(0)  # enqueue in a known order
        await asyncio.gather(*tasks)

    await clock.run(main())
    assert order == list(range(9))


async def test_release_of_a_request_that_never_left_frees_its_slot(clock: VirtualClock) -> None:
    lim = make(clock)
    key = "app:loc"
    await learn(lim, key, max_=2, interval_ms=1000)
    assert lim.snapshot()[key]["used"] == 1
    await lim.acquire(key)
    lim.release(key)  # ConnectError
    assert lim.snapshot()[key]["used"] == 1
    await lim.acquire(key)
    lim.release(key, reached_server=True)  # a timeout: the server may have counted it
    assert lim.snapshot()[key]["used"] == 2


async def test_cancelled_waiter_does_not_block_the_queue(clock: VirtualClock) -> None:
    lim = make(clock)
    key = "app:loc"
    await learn(lim, key, max_=1, interval_ms=1000)
    first = asyncio.ensure_future(lim.acquire(key))
    await clock.settle()
    second = asyncio.ensure_future(lim.acquire(key))
    await clock.settle()
    first.cancel()
    await clock.settle()
    await clock.advance(1.01)
    assert second.done() and second.exception() is None


# --- simulation against a sliding-window server -------------------------------------------------


class SlidingWindowServer:
    """GHL-like: at most `max_` accepted arrivals in any `interval`; 429s are not counted."""

    def __init__(self, clock: VirtualClock, max_: int, interval: float) -> None:
        self.clock, self.max, self.interval = clock, max_, interval
        self.accepted: deque[float] = deque()
        self.ours: list[float] = []
        self.others = 0
        self.n429 = 0  # of our requests

    def handle(self, *, ours: bool = True) -> tuple[int, dict[str, str]]:
        now = self.clock.now
        while self.accepted and self.accepted[0] <= now - self.interval:
            self.accepted.popleft()
        status = 200
        if len(self.accepted) >= self.max:
            status = 429
            self.n429 += ours
        else:
            self.accepted.append(now)
            if ours:
                self.ours.append(now)
            else:
                self.others += 1
        h = headers(self.max, int(self.interval * 1000), self.max - len(self.accepted))
        return status, h


async def simulate(
    clock: VirtualClock,
    lim: RateLimiter,
    server: SlidingWindowServer,
    *,
    requests: int,
    workers: int,
    rng: random.Random,
    there: float = 0.002,
    back: float = 0.01,
    external_every: float | None = None,
    external_burst: int = 1,
) -> None:
    """`workers` tasks send `requests` in all, each way taking up to `there`/`back` seconds
    (so answers come back out of order); another process may send bursts on the same budget."""
    key = "app:loc"
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            while True:
                await lim.acquire(key)
                await clock.sleep(rng.uniform(0.0, there))
                status, h = server.handle()
                await clock.sleep(rng.uniform(0.0, back))
                lim.observe(key, h, status)
                if status != 429:
                    break
                lim.on_rate_limited(key, None)

    async def other_process() -> None:
        assert external_every is not None
        while left > 0:
            for _ in range(external_burst):
                server.handle(ours=False)
            await clock.sleep(external_every)

    jobs: list[Callable[[], Awaitable[None]]] = [worker] * workers
    if external_every is not None:
        jobs.append(other_process)
    await clock.run(asyncio.gather(*(job() for job in jobs)))


def utilisation(times: list[float], max_: int, interval: float) -> float:
    """The shortest possible span for these many requests over the span they took."""
    ideal = (math.ceil(len(times) / max_) - 1) * interval
    return ideal / (times[-1] - times[0])


@pytest.mark.parametrize("workers", [3, 40])
async def test_bulk_run_uses_over_98_percent_with_no_429(clock: VirtualClock, workers: int) -> None:
    lim = make(clock)
    server = SlidingWindowServer(clock, max_=20, interval=1.0)
    await simulate(clock, lim, server, requests=600, workers=workers, rng=random.Random(7))
    assert server.n429 == 0
    assert len(server.ours) == 600
    assert utilisation(server.ours, 20, 1.0) >= 0.98
    assert lim.snapshot()["app:loc"]["phantoms"] == 0


async def test_budget_spent_by_another_process_is_accounted_for(clock: VirtualClock) -> None:
    lim = make(clock)
    server = SlidingWindowServer(clock, max_=20, interval=1.0)
    # Another process on the same app and location sent 12 just before our run started.
    await simulate(
        clock,
        lim,
        server,
        requests=200,
        workers=40,
        rng=random.Random(3),
        external_every=1000.0,
        external_burst=12,
    )
    assert server.others == 12
    assert server.n429 == 0
    assert len(server.ours) == 200


async def test_a_busy_neighbour_costs_at_most_one_429_per_request_it_slips_in(
    clock: VirtualClock,
) -> None:
    lim = make(clock)
    server = SlidingWindowServer(clock, max_=20, interval=1.0)
    await simulate(
        clock,
        lim,
        server,
        requests=600,
        workers=3,
        rng=random.Random(1),
        external_every=0.3,
        external_burst=2,
    )
    assert len(server.ours) == 600
    assert server.others > 0
    assert server.n429 <= server.others


class FixedWindowServer(SlidingWindowServer):
    """At most `max_` accepted arrivals per fixed window [k * interval, (k + 1) * interval)."""

    def __init__(self, clock: VirtualClock, max_: int, interval: float) -> None:
        super().__init__(clock, max_, interval)
        self.window_index: int | None = None

    def handle(self, *, ours: bool = True) -> tuple[int, dict[str, str]]:
        index = int(self.clock.now // self.interval)
        if index != self.window_index:
            self.window_index = index
            self.accepted.clear()
        status = 200
        if len(self.accepted) >= self.max:
            status = 429
            self.n429 += ours
        else:
            self.accepted.append(self.clock.now)
            if ours:
                self.ours.append(self.clock.now)
            else:
                self.others += 1
        h = headers(self.max, int(self.interval * 1000), self.max - len(self.accepted))
        return status, h


class WithoutRemaining(FixedWindowServer):
    """The same server, its answers stripped of X-RateLimit-Remaining."""

    def handle(self, *, ours: bool = True) -> tuple[int, dict[str, str]]:
        status, h = super().handle(ours=ours)
        del h["X-RateLimit-Remaining"]
        return status, h


async def test_remaining_frees_older_entries_the_server_no_longer_counts(
    clock: VirtualClock,
) -> None:
    lim = make(clock)
    key = "app:loc"
    await learn(lim, key, max_=3, interval_ms=1000)
    for gap in (0.6, 0.1):  # answered at t0, t0 + 0.6, t0 + 0.7
        await clock.advance(gap)
        await lim.acquire(key)
        lim.observe(key, headers(max_=3, interval_ms=1000), 200)

    async def acquire() -> float:
        await lim.acquire(key)
        return clock.now

    probe_sent = await clock.run(acquire())  # once the first leaves the window
    # A (fixed) window turned over: the server counted the probe alone, where the log holds 3.
    lim.observe(key, headers(max_=3, interval_ms=1000, remaining=2), 200)
    assert lim.snapshot()[key]["used"] == 1
    assert await clock.run(acquire()) == probe_sent  # not 0.6 s later, when the log would free
    assert await clock.run(acquire()) == probe_sent


async def test_remaining_never_frees_a_request_answered_after_the_counted_one_was_sent(
    clock: VirtualClock,
) -> None:
    lim = make(clock)
    key = "app:loc"
    await learn(lim, key, max_=4, interval_ms=1000)
    first = asyncio.ensure_future(lim.acquire(key))  # this task's request is the counted one
    await clock.settle()
    assert first.done()

    async def other_task() -> None:
        await lim.acquire(key)
        await clock.sleep(0.1)
        lim.observe(key, headers(max_=4, interval_ms=1000), 200)  # answered after `first` left

    await clock.run(other_task())
    assert lim.snapshot()[key]["used"] == 3  # the probe, `first` in flight, the other one
    lim.observe(key, headers(max_=4, interval_ms=1000, remaining=3), 200)  # `first`'s answer
    # The server counted only `first`: the probe (answered before it was sent) is freed, the
    # other task's request is not, though answered earlier than now.
    assert lim.snapshot()[key]["used"] == 2


@pytest.mark.parametrize("seed", range(4))
async def test_remaining_gets_over_99_percent_of_a_fixed_window_with_no_429(seed: int) -> None:
    """Slots held until an interval after each answer cap the log alone below 99 % here; the
    server's Remaining shows when a window turned over, and frees them."""
    results = {}
    for server_class in (FixedWindowServer, WithoutRemaining):
        run_clock = VirtualClock()
        server = server_class(run_clock, max_=20, interval=1.0)
        lim = make(run_clock)
        await simulate(
            run_clock, lim, server, requests=600, workers=20, rng=random.Random(seed),
            there=0.01, back=0.01,
        )  # fmt: skip
        assert server.n429 == 0
        assert len(server.ours) == 600
        results[server_class] = utilisation(server.ours, 20, 1.0)
    assert results[WithoutRemaining] < 0.99 <= results[FixedWindowServer]


@pytest.mark.parametrize("seed", range(6))
async def test_remaining_never_brings_a_429_however_answers_are_reordered(
    clock: VirtualClock, seed: int
) -> None:
    """Answers take from nothing to several window-fractions, so they come back far out of
    order; freeing entries by the server's Remaining must still never overshoot."""
    rng = random.Random(seed)
    max_ = rng.choice([1, 3, 10])
    server_class = rng.choice([SlidingWindowServer, FixedWindowServer])
    server = server_class(clock, max_=max_, interval=1.0)
    lim = make(clock)
    key = "app:loc"
    left = 300

    def delay() -> float:
        return 0.3 if rng.random() < 0.1 else rng.expovariate(200.0)

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await lim.acquire(key)
            await clock.sleep(delay())
            status, h = server.handle()
            await clock.sleep(delay())
            lim.observe(key, h, status)

    await clock.run(asyncio.gather(*(worker() for _ in range(rng.choice([2, 20])))))
    assert server.n429 == 0
    assert len(server.ours) == 300


async def test_the_log_stays_about_a_window_long_however_long_the_run(
    clock: VirtualClock,
) -> None:
    """Every look-up bisects or pops what it passes, so the cost per call follows what the log
    holds; what it holds is bounded by the budget and the requests in flight, not the run."""
    stored: list[int] = []

    class Measured(RateLimiter):
        def observe(self, key: str, headers: Mapping[str, str], status: int) -> None:
            super().observe(key, headers, status)
            stored.append(self.budget(key).stored())

    lim = Measured(clock=clock, sleep=clock.sleep)
    server = SlidingWindowServer(clock, max_=20, interval=1.0)
    workers = 40
    await simulate(clock, lim, server, requests=4000, workers=workers, rng=random.Random(5))
    assert server.n429 == 0
    assert len(stored) == 4000
    # Two windows of answers at most (the older one only while a request in flight may still
    # need it), the requests in flight (at most `max`; their queue compacts at twice that plus
    # 32), and up to 32 answers waiting for the next pruning.
    assert max(stored) <= 2 * 20 + (2 * 20 + 32) + 32
    assert max(stored[-1000:]) <= max(stored[:1000]) + 32  # no growth over the run


async def test_rate_headers_read_from_a_case_insensitive_multidict_or_a_plain_dict() -> None:
    from multidict import CIMultiDict, CIMultiDictProxy

    from ghlbridge.client.ratelimit import _rate_values

    multi = CIMultiDict(
        [
            ("X-RateLimit-Max", "100"),
            ("x-ratelimit-remaining", "oops"),
            ("X-RATELIMIT-REMAINING", "7"),
            ("X-RateLimit-Interval-Milliseconds", "10000"),
            ("X-RateLimit-Daily-Remaining", "5"),
            ("X-RateLimit-Daily-Remaining", "4"),
        ]
    )
    plain = {k: v for k, v in multi.items()}
    expected = [100.0, 7.0, 10000.0, None, 4.0]
    assert _rate_values(CIMultiDictProxy(multi)) == expected
    assert _rate_values(multi) == expected
    assert _rate_values({"x-ratelimit-max": "3", "X-RateLimit-Remaining": "n/a"}) == [
        3.0, None, None, None, None,
    ]  # fmt: skip
    assert _rate_values(plain)[0] == 100.0
