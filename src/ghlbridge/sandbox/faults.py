"""Injected trouble for client tests: added latency and random 5xx answers.

Faults are drawn from their own seeded stream, before a request has any effect, so a run
with the same seed and the same requests fails at the same places.
"""

from __future__ import annotations

import asyncio
import random

from ghlbridge.sandbox.errors import server_fault
from ghlbridge.sandbox.ids import derive_seed

FAULT_STATUSES = (500, 502, 503, 504)


class FaultInjector:
    def __init__(self, *, seed: int, latency_ms: float = 0.0, fault_rate: float = 0.0) -> None:
        self.latency_ms = latency_ms
        self.fault_rate = fault_rate
        self._rng = random.Random(derive_seed(seed, "faults"))

    async def delay(self) -> None:
        if self.latency_ms > 0:
            await asyncio.sleep(self.latency_ms / 1000)

    def maybe_fail(self) -> None:
        """Raise a GHL-shaped 5xx for a `fault_rate` share of requests."""
        if self.fault_rate > 0 and self._rng.random() < self.fault_rate:
            raise server_fault(self._rng.choice(FAULT_STATUSES))
