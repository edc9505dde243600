"""The one place that decides whether a failed request is tried again, and how long to wait.

Retry only what cannot do harm twice: a 429 or a ConnectError (GHL did nothing) always; a
502/503/504, RequestTimeout or ConnectionDropped (GHL may have acted) only when the request is
safe to repeat -- an idempotent method, a read sent as POST (searches), or `retry_writes=True`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ghlbridge.client.errors import (
    APIError,
    ConnectError,
    ConnectionDropped,
    DailyLimitExceeded,
    RateLimitError,
    RequestTimeout,
)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and when to try again; `rand` is injectable so tests can seed the jitter."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    retry_writes: bool = False
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    rand: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must be >= 0")

    def is_safe_to_repeat(self, method: str, kind: str) -> bool:
        return method.upper() in IDEMPOTENT_METHODS or kind == "read" or self.retry_writes

    def is_retryable(
        self, *, method: str, kind: str, status: int | None, error: Exception | None
    ) -> bool:
        """Whether this failure may be retried (the caller still counts attempts)."""
        if isinstance(error, DailyLimitExceeded):
            return False  # nothing to gain before the day's budget comes back
        if status == 429 or isinstance(error, RateLimitError | ConnectError):
            return True
        if status is None and isinstance(error, APIError):
            status = error.status
        if status is not None:
            return status in self.retry_statuses and self.is_safe_to_repeat(method, kind)
        if isinstance(error, RequestTimeout | ConnectionDropped):
            return self.is_safe_to_repeat(method, kind)
        return False

    def delay(self, attempt: int, *, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1 = the first try).

        Full jitter: uniform in [0, min(max_delay, base_delay * 2**(attempt-1))]; a server's
        Retry-After is a floor, never shortened (and not capped: the caller may give up instead).
        """
        exponent = min(max(attempt - 1, 0), 60)
        cap = min(self.max_delay, self.base_delay * 2.0**exponent)
        wait = self.rand() * cap
        if retry_after is not None and retry_after > wait:
            wait = retry_after
        return wait

    def should_retry(self, attempt: int) -> bool:
        """Whether another attempt is allowed after `attempt` attempts."""
        return attempt < self.max_attempts
