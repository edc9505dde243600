"""Injected latency and 5xx answers."""

from __future__ import annotations

import time
from typing import Any

from ghlbridge.sandbox import RateLimit, SandboxSettings
from tests.sandbox.harness import Harness


async def test_fault_rate_one_answers_ghl_shaped_5xx_with_rate_headers(make_harness: Any) -> None:
    h: Harness = make_harness(SandboxSettings(fault_rate=1.0))
    for _ in range(5):
        response = await h.call("contacts.get_contacts", {"locationId": h.sb.location_id})
        assert response.status in (500, 502, 503, 504)
        body = response.json()
        assert body["statusCode"] == response.status and isinstance(body["message"], str)
        assert response.header("X-RateLimit-Remaining") is not None


async def test_fault_rate_share_is_seeded_and_roughly_kept(make_harness: Any) -> None:
    async def statuses(seed: int) -> list[int]:
        h: Harness = make_harness(
            SandboxSettings(seed=seed, fault_rate=0.3, rate_limit=RateLimit(500, 1))
        )
        out = []
        for _ in range(100):
            r = await h.call("contacts.get_contacts", {"locationId": h.sb.location_id})
            out.append(r.status)
        return out

    first = await statuses(1)
    assert first == await statuses(1)
    failures = sum(s >= 500 for s in first)
    assert 15 <= failures <= 45


async def test_latency_delays_each_answer(make_harness: Any) -> None:
    h: Harness = make_harness(SandboxSettings(latency_ms=30))
    started = time.perf_counter()
    await h.call("contacts.get_contacts", {"locationId": h.sb.location_id})
    assert time.perf_counter() - started >= 0.03
