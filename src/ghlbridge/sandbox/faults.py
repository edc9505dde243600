"""Injected trouble for client tests: latency, 5xx answers, timeouts, dropped connections and
bursts of 429s.

Each kind of fault draws from its own seeded stream, once per request that reaches it, so a
run with the same seed and the same requests fails at the same places (and turning one kind
on does not move the others). Where each acts on a request:

- a drop (`drop_rate`) happens before anything else: no effect, no rate-limit charge, and the
  connection closes without an answer (`ConnectionDroppedFault` in-process);
- a 429 burst (`burst_429`) and a 5xx (`fault_rate`) refuse a request after it is charged;
- a timeout (`timeout_rate`) lets the request take effect and holds the answer
  `timeout_seconds` (or until the client gives up), as a stuck gateway does: the client's
  timeout fires while the server may have acted.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

from ghlbridge.client.errors import ConnectionDropped
from ghlbridge.sandbox.errors import server_fault
from ghlbridge.sandbox.ids import derive_seed
from ghlbridge.sandbox.settings import Burst429

FAULT_STATUSES = (500, 502, 503, 504)

ClientGone = Callable[[], Awaitable[None]]
"""Waits until the client has closed its connection (known only over a real socket)."""


class ConnectionDroppedFault(ConnectionDropped):
    """Raised instead of an answer: the sandbox drops this request's connection.

    Served over a socket the app closes the connection; in-process (the client's
    `ASGITransport`) the exception reaches the client as the `ConnectionDropped` it is.
    """

    def __init__(self) -> None:
        super().__init__("the sandbox dropped the connection (injected fault)")


class FaultInjector:
    def __init__(
        self,
        *,
        seed: int,
        latency_ms: float = 0.0,
        fault_rate: float = 0.0,
        timeout_rate: float = 0.0,
        timeout_seconds: float = 30.0,
        drop_rate: float = 0.0,
        burst_429: Burst429 | None = None,
    ) -> None:
        self.latency_ms = latency_ms
        self.fault_rate = fault_rate
        self.timeout_rate = timeout_rate
        self.timeout_seconds = timeout_seconds
        self.drop_rate = drop_rate
        self.burst_429 = burst_429
        self._rng = random.Random(derive_seed(seed, "faults"))
        self._drop_rng = random.Random(derive_seed(seed, "faults", "drop"))
        self._timeout_rng = random.Random(derive_seed(seed, "faults", "timeout"))
        self._burst_offset = (
            derive_seed(seed, "faults", "burst") % burst_429.every if burst_429 else 0
        )
        self._requests = 0

    async def delay(self) -> None:
        if self.latency_ms > 0:
            await asyncio.sleep(self.latency_ms / 1000)

    def maybe_drop(self) -> None:
        """Raise `ConnectionDroppedFault` for a `drop_rate` share of requests."""
        if self.drop_rate > 0 and self._drop_rng.random() < self.drop_rate:
            raise ConnectionDroppedFault()

    def maybe_burst(self) -> bool:
        """Whether this request falls in a 429 burst window (counts every request it sees)."""
        burst = self.burst_429
        if burst is None:
            return False
        position = (self._requests + self._burst_offset) % burst.every
        self._requests += 1
        return position < burst.length

    def maybe_fail(self) -> None:
        """Raise a GHL-shaped 5xx for a `fault_rate` share of requests."""
        if self.fault_rate > 0 and self._rng.random() < self.fault_rate:
            raise server_fault(self._rng.choice(FAULT_STATUSES))

    def stalls(self) -> bool:
        """Whether this request's answer is held past the client's patience."""
        return self.timeout_rate > 0 and self._timeout_rng.random() < self.timeout_rate

    async def stall(self, client_gone: ClientGone | None = None) -> None:
        """Hold the answer `timeout_seconds`, or less if the client leaves first."""
        if client_gone is None:
            await asyncio.sleep(self.timeout_seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(client_gone(), self.timeout_seconds)
