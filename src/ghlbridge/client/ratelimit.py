"""Client-side pacing per (app, resource), so bulk work uses GHL's budget without meeting a 429.

Hand-written: aiolimiter and friends are leaky/token buckets (up to 2x max in one window against
a sliding-window server), with no server-header adaptation, per-key probing or injectable clock.

Contract with the request core, per key (`rate_key(app, resource)`):

- ``await acquire(key)`` before each send; it may wait, or raise `DailyLimitExceeded`;
- then one of ``observe(key, headers, status)`` (any HTTP answer, 429 included) or
  ``release(key)`` (no answer; ``reached_server=True`` for a timeout or dropped connection);
- and for a 429, also ``on_rate_limited(key, retry_after)``.

Pacing is a sliding-window log: a request may go when fewer than ``max`` of our requests could
still be in the server's window. GHL counts a request when it arrives, somewhere between our
send and its answer, so an entry leaves the window ``interval`` (+1 ms) after its *answer*:
that bound holds whatever the network or event-loop delays, against fixed or sliding windows,
at the cost of one return trip per slot. A fresh key sends one probe at a time until an answer
teaches it the server's numbers. Requests the server counted that we did not send (other
processes sharing the app's budget) are kept in the log as "phantom" entries.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

from ghlbridge.client.errors import DailyLimitExceeded

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

MAX_HEADER = "x-ratelimit-max"
REMAINING_HEADER = "x-ratelimit-remaining"
INTERVAL_HEADER = "x-ratelimit-interval-milliseconds"
DAILY_LIMIT_HEADER = "x-ratelimit-limit-daily"
DAILY_REMAINING_HEADER = "x-ratelimit-daily-remaining"
_RATE_HEADERS = (
    MAX_HEADER,
    REMAINING_HEADER,
    INTERVAL_HEADER,
    DAILY_LIMIT_HEADER,
    DAILY_REMAINING_HEADER,
)


def rate_key(app: str, resource: str | None = None) -> str:
    """The budget key GHL counts by: one app (client id) on one location or company."""
    return f"{app}:{resource or 'default'}"


@dataclass(slots=True, eq=False)
class _Entry:
    """One request in the log: sent at `sent`, answered at `until` (None while in flight)."""

    sent: float
    until: float | None
    phantom: bool = False

    def leaves(self) -> float:
        """Latest time the server may still count it, minus the interval."""
        return math.inf if self.until is None else self.until


# The request the current task last acquired, so observe() in the same task knows exactly which
# request an answer belongs to: (limiter id, key, entry).
_LAST_SEND: ContextVar[tuple[int, str, _Entry] | None] = ContextVar("ghl_last_send", default=None)


@dataclass
class RateBudget:
    """What one key may still send: the request log, the learned limits, and who is waiting."""

    max: int
    interval: float
    slack: float
    daily_limit: int
    daily_remaining: float | None = None  # None until the server tells us
    daily_seen_at: float = 0.0
    learned: bool = False  # an answer taught us the server's numbers (or that it sends none)
    paused_until: float = 0.0
    n429: int = 0
    sent: int = 0
    waiting: int = 0
    log: deque[_Entry] = field(default_factory=deque)  # in send order
    pending: list[_Entry] = field(default_factory=list)  # sent, not yet answered, oldest first
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    loop: asyncio.AbstractEventLoop | None = None

    def window_start(self, now: float) -> float:
        return now - self.interval - self.slack

    def prune(self, now: float) -> None:
        # Keep an extra interval of history: observe() looks back from a request's send time.
        horizon = self.window_start(now) - self.interval
        while self.log and self.log[0].leaves() <= horizon:
            self.log.popleft()

    def in_window(self, now: float) -> list[float]:
        start = self.window_start(now)
        return sorted(t for e in self.log if (t := e.leaves()) > start)

    def used(self, now: float) -> int:
        return len(self.in_window(now))

    def phantoms(self, now: float) -> int:
        start = self.window_start(now)
        return sum(1 for e in self.log if e.phantom and e.leaves() > start)

    def free_at(self, now: float) -> float:
        """Earliest time one more request keeps at most `max` in any server window (inf: when
        an answer comes)."""
        if len(self.log) < self.max:
            return now
        window = self.in_window(now)
        if len(window) < self.max:
            return now
        return window[len(window) - self.max] + self.interval + self.slack

    def send(self, now: float) -> _Entry:
        entry = _Entry(now, None)
        self.log.append(entry)
        self.pending.append(entry)
        self.sent += 1
        return entry

    def answered(self, entry: _Entry, now: float) -> None:
        entry.until = now
        if entry in self.pending:
            self.pending.remove(entry)

    def forget(self, entry: _Entry) -> None:
        if entry in self.pending:
            self.pending.remove(entry)
        if entry in self.log:
            self.log.remove(entry)

    def forget_stale(self, now: float, max_age: float) -> None:
        """Requests unanswered for max_age were lost without a report: stop waiting on them."""
        while self.pending and self.pending[0].sent <= now - max_age:
            self.answered(self.pending[0], now)

    def add_phantoms(self, n: int, now: float) -> None:
        self.log.extend(_Entry(now, now, phantom=True) for _ in range(n))

    def fill(self, now: float) -> None:
        """The server says the window is full: make ours full too."""
        self.add_phantoms(self.max - self.used(now), now)

    def drop_phantoms(self, n: int, now: float) -> None:
        start = self.window_start(now)
        kept: deque[_Entry] = deque()
        for entry in self.log:
            if n > 0 and entry.phantom and entry.leaves() > start:
                n -= 1
                continue
            kept.append(entry)
        self.log = kept

    def ours_possibly_counted(self, entry: _Entry, now: float) -> int:
        """How many of our requests the server may have counted when `entry` arrived: sent
        before its answer, and possibly still in the window when it was sent."""
        start = entry.sent - self.interval - self.slack
        return sum(1 for e in self.log if not e.phantom and e.sent <= now and e.leaves() > start)


class RateLimiter:
    """Holds one `RateBudget` per key; see the module docstring for the calling contract."""

    def __init__(
        self,
        *,
        max_requests: int = 100,
        interval: float = 10.0,
        daily: int = 200_000,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        slack: float = 0.001,
        daily_recheck: float = 900.0,
        probe_timeout: float = 60.0,
    ) -> None:
        if max_requests < 1 or interval <= 0:
            raise ValueError("max_requests must be >= 1 and interval > 0")
        self._max = max_requests
        self._interval = interval
        self._daily = daily
        self._clock = clock
        self._sleep = sleep
        self._slack = slack
        self._daily_recheck = daily_recheck
        self._probe_timeout = probe_timeout
        self._budgets: dict[str, RateBudget] = {}

    def budget(self, key: str) -> RateBudget:
        budget = self._budgets.get(key)
        if budget is None:
            budget = RateBudget(self._max, self._interval, self._slack, self._daily)
            self._budgets[key] = budget
        return budget

    async def acquire(self, key: str) -> None:
        """Wait (FIFO per key, sleeping, never spinning) until a request may be sent now."""
        budget = self.budget(key)
        self._bind_loop(budget)
        self._forget_abandoned(key, budget)
        budget.waiting += 1
        try:
            async with budget.lock:
                await self._wait_turn(key, budget)
        finally:
            budget.waiting -= 1

    async def _wait_turn(self, key: str, budget: RateBudget) -> None:
        while True:
            now = self._clock()
            budget.forget_stale(now, self._probe_timeout)
            budget.prune(now)
            self._check_daily(key, budget, now)
            if budget.paused_until > now:
                await self._sleep(budget.paused_until - now)
                continue
            if not budget.learned and budget.pending:
                await self._wait_for_answer(budget, now)
                continue
            free_at = budget.free_at(now)
            if free_at == math.inf:
                await self._wait_for_answer(budget, now)
                continue
            if free_at > now:
                await self._sleep(free_at - now)
                continue
            entry = budget.send(now)
            if budget.daily_remaining is not None:
                budget.daily_remaining -= 1
            _LAST_SEND.set((id(self), key, entry))
            return

    def _check_daily(self, key: str, budget: RateBudget, now: float) -> None:
        if budget.daily_remaining is None or budget.daily_remaining > 0:
            return
        stale_at = budget.daily_seen_at + self._daily_recheck
        if now >= stale_at:
            # The day may have rolled over (GHL does not say when): let one request find out.
            budget.daily_remaining = 1
            budget.daily_seen_at = now
            return
        raise DailyLimitExceeded(
            429,
            f"daily request budget for {key} is spent (X-RateLimit-Daily-Remaining: 0)",
            retry_after=stale_at - now,
        )

    async def _wait_for_answer(self, budget: RateBudget, now: float) -> None:
        """Sleep until a request in flight is answered, or counts as lost (never reported)."""
        budget.changed.clear()
        lost_in = budget.pending[0].sent + self._probe_timeout - now if budget.pending else 0.0
        answered = asyncio.ensure_future(budget.changed.wait())
        timer = asyncio.ensure_future(self._sleep(max(lost_in, 0.0)))
        try:
            await asyncio.wait({answered, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            answered.cancel()
            timer.cancel()

    def release(self, key: str, *, reached_server: bool = False) -> None:
        """The request got no answer. By default it never left (ConnectError): forget it.

        Pass ``reached_server=True`` for a timeout or dropped connection: GHL may have counted
        it, so it stays in the window as if answered now.
        """
        budget = self.budget(key)
        entry, _ = self._take_in_flight(key, budget)
        if entry is not None:
            if reached_server:
                budget.answered(entry, self._clock())
            else:
                budget.forget(entry)
                if budget.daily_remaining is not None:
                    budget.daily_remaining += 1
        budget.changed.set()

    def observe(self, key: str, headers: Mapping[str, str], status: int) -> None:
        """Learn from an answer's X-RateLimit-* headers (names case-insensitive)."""
        budget = self.budget(key)
        now = self._clock()
        entry, exact = self._take_in_flight(key, budget)
        if entry is not None:
            budget.answered(entry, now)
        values = _rate_values(headers)
        if values:
            budget.learned = True
        elif status < 500 and status != 429:
            budget.learned = True  # a real answer with no rate headers: the defaults stand
        if (v := values.get(MAX_HEADER)) is not None and v >= 1:
            budget.max = int(v)
        if (v := values.get(INTERVAL_HEADER)) is not None and v > 0:
            budget.interval = v / 1000.0
        if (v := values.get(DAILY_LIMIT_HEADER)) is not None and v >= 0:
            budget.daily_limit = int(v)
        if (v := values.get(DAILY_REMAINING_HEADER)) is not None:
            # Our requests sent after this one were probably not counted in it yet.
            since = entry.sent if entry is not None else now
            later = sum(1 for e in budget.log if not e.phantom and e.sent > since)
            budget.daily_remaining = max(v - later, 0.0)
            budget.daily_seen_at = now
        remaining = values.get(REMAINING_HEADER)
        if remaining is not None and entry is not None:
            self._account_for_others(budget, entry, max(remaining, 0.0), now, exact=exact)
        if status == 429:
            budget.n429 += 1
            budget.fill(now)
            # A 429 we did not expect may mean window edges differ: widen the margin a little.
            ceiling = max(self._slack, budget.interval / 200)
            budget.slack = min(max(budget.slack * 2, 0.001), ceiling)
        budget.prune(now)
        budget.changed.set()

    def _account_for_others(
        self, budget: RateBudget, entry: _Entry, remaining: float, now: float, *, exact: bool
    ) -> None:
        """Keep as many phantom entries in the window as the server counted beyond ours.

        `ours` is an upper bound, so `others` never over-counts and phantoms are never invented;
        with the exact request known, phantoms beyond what the server shows are dropped.
        """
        others = int(budget.max - remaining) - budget.ours_possibly_counted(entry, now)
        phantoms = budget.phantoms(now)
        if others > phantoms:
            budget.add_phantoms(others - phantoms, now)
        elif exact and phantoms > max(others, 0):
            budget.drop_phantoms(phantoms - max(others, 0), now)

    def on_rate_limited(self, key: str, retry_after: float | None) -> None:
        """A 429: pause the key for Retry-After if sent, else until its window frees."""
        budget = self.budget(key)
        now = self._clock()
        budget.fill(now)
        if retry_after is not None and retry_after > 0:
            budget.paused_until = max(budget.paused_until, now + retry_after)

    def snapshot(self) -> dict[str, dict[str, float]]:
        """Per key: used/max/interval/daily_remaining (-1 = unknown)/n429 and more, for metrics."""
        now = self._clock()
        out: dict[str, dict[str, float]] = {}
        for key, b in self._budgets.items():
            out[key] = {
                "used": float(b.used(now)),
                "max": float(b.max),
                "interval": b.interval,
                "daily_remaining": -1.0 if b.daily_remaining is None else b.daily_remaining,
                "daily_limit": float(b.daily_limit),
                "n429": float(b.n429),
                "sent": float(b.sent),
                "in_flight": float(len(b.pending)),
                "waiting": float(b.waiting),
                "phantoms": float(b.phantoms(now)),
                "learned": 1.0 if b.learned else 0.0,
            }
        return out

    def _take_in_flight(self, key: str, budget: RateBudget) -> tuple[_Entry | None, bool]:
        """The request being answered, and whether that is certain: the one this task
        acquired, else (a guess) the oldest in flight."""
        last = _LAST_SEND.get()
        if last is not None and last[0] == id(self) and last[1] == key:
            _LAST_SEND.set(None)
            if last[2] in budget.pending:
                return last[2], True
        return (budget.pending[0] if budget.pending else None), False

    def _forget_abandoned(self, key: str, budget: RateBudget) -> None:
        """A task that acquires again is done with its last request, answered or not.

        Covers a core that reports neither observe() nor release() after a timeout: that
        request stays in the window as if answered now, but no longer holds the probe slot.
        """
        last = _LAST_SEND.get()
        if last is not None and last[0] == id(self) and last[1] == key:
            _LAST_SEND.set(None)
            if last[2] in budget.pending:
                budget.answered(last[2], self._clock())

    def _bind_loop(self, budget: RateBudget) -> None:
        """asyncio primitives belong to one loop; a sync facade may run several in turn."""
        loop = asyncio.get_running_loop()
        if budget.loop is not loop:
            if budget.loop is not None:
                budget.lock = asyncio.Lock()
                budget.changed = asyncio.Event()
                for entry in list(budget.pending):  # their answers will never be reported
                    budget.answered(entry, self._clock())
            budget.loop = loop


def _rate_values(headers: Mapping[str, str]) -> dict[str, float]:
    values: dict[str, float] = {}
    for name, raw in headers.items():
        lower = name.lower()
        if lower in _RATE_HEADERS:
            try:
                values[lower] = float(raw)
            except (TypeError, ValueError):
                continue
    return values
