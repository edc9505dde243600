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

An answer's X-RateLimit-Remaining can show that older entries already left the server's
window: everything noted before that request was sent had arrived before it did, so at most
``max - Remaining - 1`` of it is in the window the server counted then, or in any later one
(sliding or fixed); the log keeps only that many of those, the newest, and frees the rest at
once. Requests still in flight at that send may arrive after it and are not touched. With
steady network delays this frees nothing the log would not free as soon: the ceiling of about
interval / (interval + round trip) stays; it helps when delays vary or the window is fixed.

Every operation costs O(log n) or amortised O(1), n being what the log holds: the requests of
the last interval or two, and those in flight (`RateBudget.stored`).
"""

from __future__ import annotations

import asyncio
import math
import time
from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

from multidict import CIMultiDict, CIMultiDictProxy

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
_RATE_INDEX = {name: i for i, name in enumerate(_RATE_HEADERS)}


def rate_key(app: str, resource: str | None = None) -> str:
    """The budget key GHL counts by: one app (client id) on one location or company."""
    return f"{app}:{resource or 'default'}"


@dataclass(slots=True, eq=False)
class _Entry:
    """One request of ours: the `seq`-th sent on its key, at `sent`; answered at `until`."""

    sent: float
    seq: int
    until: float | None = None
    forgotten: bool = False  # it never left (ConnectError): as if never sent
    in_flight: bool = True  # neither answered nor forgotten


class _Times:
    """Non-decreasing times, each standing for `n` requests, dropped from the oldest end.

    A position counts requests from the first one ever added, so a position taken earlier stays
    valid. Look-ups are O(log n), adds and drops amortised O(1); equal times share one run, so
    a window's worth of phantoms noted at once costs one slot.
    """

    __slots__ = ("_ends", "_head", "_times", "end", "gone")

    def __init__(self) -> None:
        self._times: list[float] = []
        self._ends: list[int] = []  # the position just past each run
        self._head = 0  # the first run not wholly dropped
        self.gone = 0  # requests before this position are dropped
        self.end = 0  # the position just past the last request

    def runs(self) -> int:
        return len(self._ends) - self._head

    def __len__(self) -> int:
        return self.end - self.gone

    def add(self, t: float, n: int = 1) -> None:
        """Note `n` requests at time `t` (a time before the last counts as the last)."""
        if n <= 0:
            return
        self.end += n
        times = self._times
        if times and t <= times[-1]:
            if self._head < len(times):
                self._ends[-1] = self.end
                return
            t = times[-1]
        times.append(t)
        self._ends.append(self.end)

    def after(self, t: float) -> int:
        """The position of the first request kept with a time after `t`."""
        i = bisect_right(self._times, t, self._head)
        return self._ends[i - 1] if i > self._head else self.gone

    def time_at(self, pos: int) -> float:
        """The time of the request at `pos` (gone <= pos < end)."""
        return self._times[bisect_right(self._ends, pos, self._head)]

    def drop_before(self, pos: int) -> None:
        if pos <= self.gone:
            return
        self.gone = min(pos, self.end)
        head = bisect_right(self._ends, self.gone, self._head)
        if head > 64 and head * 2 > len(self._ends):
            del self._times[:head], self._ends[:head]
            head = 0
        self._head = head

    def drop_until(self, t: float) -> None:
        self.drop_before(self.after(t))


def _oldest(a: _Times, a0: int, a1: int, b: _Times, b0: int, b1: int, k: int) -> tuple[int, int]:
    """How many of the `k` oldest of a[a0:a1] and b[b0:b1] together are in each (0 < k <= both)."""
    lo, hi = max(0, k - (b1 - b0)), min(k, a1 - a0)
    while lo < hi:  # fewest from `a` with the newest taken from `b` no newer than a[i]
        i = (lo + hi) // 2
        if b.time_at(b0 + k - i - 1) > a.time_at(a0 + i):
            lo = i + 1
        else:
            hi = i
    return lo, k - lo


# The request the current task last acquired, so observe() in the same task knows exactly which
# request an answer belongs to: (limiter, key, entry); once the entry is no longer in flight it
# stands for nothing.
_LAST_SEND: ContextVar[tuple[RateLimiter, str, _Entry] | None] = ContextVar(
    "ghl_last_send", default=None
)


@dataclass(eq=False)
class RateBudget:
    """What one key may still send: the learned limits, the log, and who is waiting.

    The log is our answered requests by answer time (`answered_at`; those before `cut` were
    freed early by the server's Remaining), phantoms by the time they were noted (`others_at`),
    and `in_flight` requests, each leaving the window `interval` + `slack` after its time.
    """

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
    in_flight: int = 0
    answered_at: _Times = field(default_factory=_Times)  # ours; also history for observe()
    cut: int = 0  # answers before this position hold no slot (the server showed them gone)
    freed_through: float = -math.inf  # send time of the answer that last freed slots early
    others_at: _Times = field(default_factory=_Times)  # phantoms
    pending: deque[_Entry] = field(default_factory=deque)  # in send order; in flight or not
    forgotten: list[int] = field(default_factory=list)  # seqs of requests that never left
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    loop: asyncio.AbstractEventLoop | None = None

    def window_start(self, now: float) -> float:
        return now - self.interval - self.slack

    def prune(self, now: float) -> None:
        """Drop what no answer can still ask about: answers older than an interval before the
        oldest request in flight was sent (at most one interval before the window), phantoms
        an interval before the window, and requests no longer in flight."""
        start = self.window_start(now)
        oldest = self.oldest_in_flight()
        since = start if oldest is None else min(start, oldest.sent - self.interval - self.slack)
        self.answered_at.drop_until(max(since, start - self.interval))
        self.others_at.drop_until(start - self.interval)
        if self.forgotten:
            del self.forgotten[: bisect_left(self.forgotten, oldest.seq) if oldest else None]

    def stored(self) -> int:
        """How many items the log holds: about a window's requests, however long the run."""
        return (
            self.answered_at.runs()
            + self.others_at.runs()
            + len(self.pending)
            + len(self.forgotten)
        )

    def may_be_full(self) -> bool:
        """Whether the log may hold `max` (a bound found without searching)."""
        ours, others = self.answered_at, self.others_at
        kept = (ours.end - max(self.cut, ours.gone)) + (others.end - others.gone)
        return kept + self.in_flight >= self.max

    def half_full(self) -> bool:
        """Whether the log may hold half of `max` or more (a bound found without searching):
        below that, freeing entries early changes nothing soon, and is left to later answers."""
        ours, others = self.answered_at, self.others_at
        kept = (ours.end - max(self.cut, ours.gone)) + (others.end - others.gone)
        return 2 * (kept + self.in_flight) >= self.max

    def used(self, now: float) -> int:
        start = self.window_start(now)
        ours = self.answered_at.end - max(self.cut, self.answered_at.after(start))
        return ours + self.phantoms(now) + self.in_flight

    def phantoms(self, now: float) -> int:
        others = self.others_at
        if others.end == others.gone:
            return 0
        return others.end - others.after(self.window_start(now))

    def free_at(self, now: float) -> float:
        """Earliest time one more request keeps at most `max` in any server window (inf: when
        an answer comes)."""
        if not self.may_be_full():
            return now  # room even if all the log kept were still in the window
        ours, others = self.answered_at, self.others_at
        start = self.window_start(now)
        a0, a1 = max(self.cut, ours.after(start)), ours.end
        p0, p1 = others.after(start), others.end
        answered = (a1 - a0) + (p1 - p0)
        over = answered + self.in_flight - self.max  # this many must leave, and one more
        if over < 0:
            return now
        if over >= answered:
            return math.inf
        i, j = _oldest(ours, a0, a1, others, p0, p1, over + 1)
        last = max(
            ours.time_at(a0 + i - 1) if i else -math.inf,
            others.time_at(p0 + j - 1) if j else -math.inf,
        )
        return last + self.interval + self.slack

    def oldest_in_flight(self) -> _Entry | None:
        pending = self.pending
        while pending and not pending[0].in_flight:
            pending.popleft()
        return pending[0] if pending else None

    def send(self, now: float) -> _Entry:
        entry = _Entry(now, self.sent)
        self.pending.append(entry)
        self.in_flight += 1
        self.sent += 1
        if len(self.pending) > 2 * self.in_flight + 32:  # answered out of order: compact
            self.pending = deque(e for e in self.pending if e.in_flight)
        return entry

    def answered(self, entry: _Entry, now: float) -> None:
        if entry.in_flight:
            entry.until = now
            entry.in_flight = False
            self.in_flight -= 1
            self.answered_at.add(now)
            if not self.answered_at.end % 32:  # often enough to keep the log about a window
                self.prune(now)

    def forget(self, entry: _Entry) -> None:
        if entry.in_flight:
            entry.forgotten = True
            entry.in_flight = False
            self.in_flight -= 1
            insort(self.forgotten, entry.seq)

    def forget_stale(self, now: float, max_age: float) -> None:
        """Requests unanswered for max_age were lost without a report: stop waiting on them."""
        while (oldest := self.oldest_in_flight()) is not None and oldest.sent <= now - max_age:
            self.answered(oldest, now)

    def add_phantoms(self, n: int, now: float) -> None:
        self.others_at.add(now, n)
        self.prune(now)

    def fill(self, now: float) -> None:
        """The server says the window is full: make ours full too."""
        self.add_phantoms(self.max - self.used(now), now)

    def drop_phantoms(self, n: int, now: float) -> None:
        """Drop the `n` oldest phantoms still in the window."""
        self.others_at.drop_before(self.others_at.after(self.window_start(now)) + n)

    def ours_possibly_counted(self, entry: _Entry, now: float) -> int:
        """How many of our requests the server may have counted when `entry` arrived: sent
        before its answer (`now`), and possibly still in the window when it was sent."""
        start = entry.sent - self.interval - self.slack
        return self.in_flight + self.answered_at.end - self.answered_at.after(start)

    def sent_after(self, entry: _Entry) -> int:
        """How many of our requests left after `entry` did."""
        later = self.sent - 1 - entry.seq
        if self.forgotten:
            later -= len(self.forgotten) - bisect_right(self.forgotten, entry.seq)
        return later

    def marks(self, sent: float) -> tuple[int, int]:
        """Where the answers and the phantoms noted by time `sent` end (see `free_counted`)."""
        others = self.others_at
        return self.answered_at.after(sent), (
            others.gone if others.end == others.gone else others.after(sent)
        )

    def free_counted(self, sent: float, marks: tuple[int, int], counted: int, now: float) -> None:
        """The server counted `counted` requests in its window when our request sent at `sent`
        arrived, that one among them. Everything noted before that send (up to `marks`) had
        arrived by then, so at most counted - 1 of it is in that window, or in any later one:
        keep the newest counted - 1 in the log and free the rest now.

        Requests in flight at that send may have arrived after it and are left alone; an answer
        sent before the last one that freed slots is skipped, as what it counted may already
        be freed.
        """
        if counted < 1 or sent < self.freed_through:
            return
        ours, others = self.answered_at, self.others_at
        if (marks[0] - max(self.cut, ours.gone)) + (marks[1] - others.gone) < counted:
            return  # no more noted than the server counted: nothing to free
        start = self.window_start(now)
        a0 = max(self.cut, ours.after(start))
        a1 = max(a0, marks[0])
        p0 = others.gone if others.end == others.gone else others.after(start)
        p1 = max(p0, marks[1])
        over = (a1 - a0) + (p1 - p0) - (counted - 1)
        if over <= 0:
            return
        i, j = _oldest(ours, a0, a1, others, p0, p1, over)
        self.cut = a0 + i
        if j:
            others.drop_before(p0 + j)
        self.freed_through = sent


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
        budget = self._budgets.get(key) or self.budget(key)
        if budget.loop is not asyncio.get_running_loop():
            self._bind_loop(budget)
        last = _LAST_SEND.get()
        if last is not None and last[2].in_flight and last[0] is self and last[1] == key:
            # A task that acquires again is done with its last request, answered or not: a
            # core that reported neither observe() nor release() after a timeout. It stays in
            # the window as if answered now, but no longer holds the probe slot.
            budget.answered(last[2], self._clock())
        if not budget.waiting and self._turn(key, budget, self._clock()) is None:
            return  # nobody queued and room now: no need to take the lock
        budget.waiting += 1
        try:
            async with budget.lock:
                await self._wait_turn(key, budget)
        finally:
            budget.waiting -= 1

    async def _wait_turn(self, key: str, budget: RateBudget) -> None:
        while True:
            now = self._clock()
            wait = self._turn(key, budget, now)
            if wait is None:
                return
            if wait == math.inf:
                await self._wait_for_answer(budget, now)
            else:
                await self._sleep(wait)

    def _turn(self, key: str, budget: RateBudget, now: float) -> float | None:
        """Send now (None), or how long to wait first (inf: until an answer comes)."""
        if budget.pending and budget.pending[0].sent <= now - self._probe_timeout:
            budget.forget_stale(now, self._probe_timeout)
        if budget.daily_remaining is not None and budget.daily_remaining <= 0:
            self._check_daily(key, budget, now)
        if budget.paused_until > now:
            return budget.paused_until - now
        if not budget.learned and budget.in_flight:
            return math.inf
        if budget.may_be_full():
            free_at = budget.free_at(now)
            if free_at > now:
                return free_at - now
        entry = budget.send(now)
        if budget.daily_remaining is not None:
            budget.daily_remaining -= 1
        _LAST_SEND.set((self, key, entry))
        return None

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
        oldest = budget.oldest_in_flight()
        lost_in = oldest.sent + self._probe_timeout - now if oldest is not None else 0.0
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
        budget = self._budgets.get(key) or self.budget(key)
        now = self._clock()
        max_, remaining, interval, daily_limit, daily_remaining = _rate_values(headers)
        if (
            max_ is not None
            or remaining is not None
            or interval is not None
            or daily_limit is not None
            or daily_remaining is not None
            or (status < 500 and status != 429)  # a real answer with no rate headers: defaults
        ):
            budget.learned = True
        if max_ is not None and max_ >= 1:
            budget.max = int(max_)
        if interval is not None and interval > 0:
            budget.interval = interval / 1000.0
        if daily_limit is not None and daily_limit >= 0:
            budget.daily_limit = int(daily_limit)
        entry, exact = self._take_in_flight(key, budget)
        marks = None
        if entry is not None:
            if remaining is not None and status < 400 and budget.half_full():
                marks = budget.marks(entry.sent)  # before its own answer joins the log
            budget.answered(entry, now)
        if daily_remaining is not None:
            # Our requests sent after this one were probably not counted in it yet.
            later = budget.sent_after(entry) if entry is not None else 0
            budget.daily_remaining = max(daily_remaining - later, 0.0)
            budget.daily_seen_at = now
        if remaining is not None and entry is not None:
            remaining = max(remaining, 0.0)
            if budget.others_at.end != budget.others_at.gone or (
                budget.max - remaining > budget.in_flight + 1
            ):  # else ours (this one and those in flight) may be all it counted: no phantoms
                self._account_for_others(budget, entry, remaining, now, exact=exact)
            if marks is not None:  # counted by the server (a 429 is not; other errors may not be)
                budget.free_counted(entry.sent, marks, math.ceil(budget.max - remaining), now)
        if status == 429:
            budget.n429 += 1
            budget.fill(now)
            # A 429 we did not expect may mean window edges differ: widen the margin a little.
            ceiling = max(self._slack, budget.interval / 200)
            budget.slack = min(max(budget.slack * 2, 0.001), ceiling)
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
                "in_flight": float(b.in_flight),
                "waiting": float(b.waiting),
                "phantoms": float(b.phantoms(now)),
                "learned": 1.0 if b.learned else 0.0,
            }
        return out

    def _take_in_flight(self, key: str, budget: RateBudget) -> tuple[_Entry | None, bool]:
        """The request being answered, and whether that is certain: the one this task
        acquired, else (a guess) the oldest in flight."""
        last = _LAST_SEND.get()
        if last is not None and last[2].in_flight and last[0] is self and last[1] == key:
            return last[2], True
        return budget.oldest_in_flight(), False

    def _bind_loop(self, budget: RateBudget) -> None:
        """asyncio primitives belong to one loop; a sync facade may run several in turn."""
        loop = asyncio.get_running_loop()
        if budget.loop is not loop:
            if budget.loop is not None:
                budget.lock = asyncio.Lock()
                budget.changed = asyncio.Event()
                while (entry := budget.oldest_in_flight()) is not None:
                    budget.answered(entry, self._clock())  # their answers will never come
            budget.loop = loop


def _rate_values(headers: Mapping[str, str]) -> list[float | None]:
    """The five X-RateLimit-* values in `_RATE_HEADERS` order, None where absent or not a
    number (of a repeated header, the last that is one)."""
    if isinstance(headers, CIMultiDictProxy | CIMultiDict):  # aiohttp's: look the five up
        found: list[float | None] = []
        for name in _RATE_HEADERS:
            value = None
            for raw in headers.getall(name, ()):
                try:
                    value = float(raw)
                except (TypeError, ValueError):
                    continue
            found.append(value)
        return found
    values: list[float | None] = [None, None, None, None, None]
    for name, raw in headers.items():
        lower = name.lower()
        if lower in _RATE_INDEX:
            try:
                values[_RATE_INDEX[lower]] = float(raw)
            except (TypeError, ValueError):
                continue
    return values
