"""Per-source rate limit of the unauthenticated routes (webhooks, inbound hooks, OAuth, and
failed admin logins), a moving window from the `limits` library.

A webhook refused here gets a 429, the one status GHL retries (about 10 minutes later), so
a burst is delayed rather than lost. With ``redis://`` storage the budget is shared by every
server process. The source is the peer address uvicorn reports (behind a reverse proxy, run
uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips`` so it is the client's).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse, storage, strategies


class SourceLimiter:
    """`hit(scope, source)` counts one request; it returns None, or seconds to wait."""

    def __init__(self, limit: str, storage_uri: str = "memory://") -> None:
        self.limit: RateLimitItem = parse(limit)
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))

    def hit(self, scope: str, source: str, *, limit: RateLimitItem | None = None) -> float | None:
        item = limit or self.limit
        if self._limiter.hit(item, scope, source):
            return None
        stats = self._limiter.get_window_stats(item, scope, source)
        return max(1.0, math.ceil(stats.reset_time - time.time()))


__all__ = ["SourceLimiter"]
