"""GHL's rate limits as the server applies them, with the headers it sends.

Per (app, resource) — resource being the token's location, or its company for agency
tokens — a sliding window of `max` requests per `interval` seconds, plus a daily count that
resets at midnight UTC (GHL does not say when its day resets; UTC midnight is the strict
reading for a client that spreads load). A refused request is not counted.

A sliding-window log is ten lines and gives exact `Remaining` values for the headers, so no
rate-limit library is used here; the client's limiter is the one that needs more.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ghlbridge.sandbox.settings import RateLimit


def _utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True, slots=True)
class Budget:
    """One request's verdict and what is left, as GHL reports it."""

    allowed: bool
    max: int
    remaining: int
    interval_ms: int
    daily_limit: int
    daily_remaining: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Max": str(self.max),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Interval-Milliseconds": str(self.interval_ms),
            "X-RateLimit-Limit-Daily": str(self.daily_limit),
            "X-RateLimit-Daily-Remaining": str(self.daily_remaining),
        }


class RateLimiter:
    def __init__(
        self,
        limit: RateLimit,
        daily_limit: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], date] = _utc_today,
    ) -> None:
        self.limit = limit
        self.daily_limit = daily_limit
        self._clock = clock
        self._today = today
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._daily: dict[tuple[str, str], tuple[date, int]] = {}

    def hit(self, app_id: str, resource_id: str) -> Budget:
        """Count one request for (app, resource), unless a limit refuses it."""
        key = (app_id, resource_id)
        window = self._window(key)
        day, used = self._day(key)
        burst_ok = len(window) < self.limit.max
        daily_ok = used < self.daily_limit
        if burst_ok and daily_ok:
            window.append(self._clock())
            used += 1
            self._daily[key] = (day, used)
        return self._budget(burst_ok and daily_ok, len(window), used)

    def peek(self, app_id: str, resource_id: str) -> Budget:
        key = (app_id, resource_id)
        return self._budget(True, len(self._window(key)), self._day(key)[1])

    def idle(self) -> Budget:
        """The headers for a request no app is charged for (no valid token)."""
        return self._budget(True, 0, 0)

    def reset(self) -> None:
        self._windows.clear()
        self._daily.clear()

    def _window(self, key: tuple[str, str]) -> deque[float]:
        window = self._windows.setdefault(key, deque())
        horizon = self._clock() - self.limit.interval
        while window and window[0] <= horizon:
            window.popleft()
        return window

    def _day(self, key: tuple[str, str]) -> tuple[date, int]:
        today = self._today()
        day, used = self._daily.get(key, (today, 0))
        return (today, 0) if day != today else (day, used)

    def _budget(self, allowed: bool, in_window: int, used_today: int) -> Budget:
        return Budget(
            allowed=allowed,
            max=self.limit.max,
            remaining=max(0, self.limit.max - in_window),
            interval_ms=int(self.limit.interval * 1000),
            daily_limit=self.daily_limit,
            daily_remaining=max(0, self.daily_limit - used_today),
        )
