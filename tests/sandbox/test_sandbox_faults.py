"""Injected latency, 5xx answers, timeouts, dropped connections and 429 bursts."""

from __future__ import annotations

import json
import logging
import time
from typing import Any, cast

import aiohttp
import pytest

from ghlbridge.client.errors import ConnectionDropped, RequestTimeout
from ghlbridge.client.transport import AiohttpTransport, ASGITransport, HttpRequest
from ghlbridge.sandbox import Burst429, RateLimit, Sandbox, SandboxSettings, create_app
from ghlbridge.sandbox.handlers.contacts import CONTACTS
from ghlbridge.sandbox.testing import serve_sandbox
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


# -- timeouts, dropped connections, 429 bursts -------------------------------------------


def _in_process(settings: SandboxSettings) -> tuple[Sandbox, ASGITransport]:
    sb = Sandbox(settings)
    return sb, ASGITransport(cast(Any, create_app(sandbox=sb)))


def _list_contacts(
    sb: Sandbox, base: str = "http://sandbox", timeout: float | None = None
) -> HttpRequest:
    return HttpRequest(
        "GET",
        f"{base}/contacts/?locationId={sb.location_id}",
        {"Authorization": f"Bearer {sb.location_token.value}", "Version": "2021-07-28"},
        timeout=timeout,
    )


def _create_contact(sb: Sandbox, email: str, timeout: float | None = None) -> HttpRequest:
    body = json.dumps({"locationId": sb.location_id, "email": email}).encode()
    return HttpRequest(
        "POST",
        "http://sandbox/contacts/",
        {
            "Authorization": f"Bearer {sb.location_token.value}",
            "Version": "2021-07-28",
            "Content-Type": "application/json",
        },
        body,
        timeout=timeout,
    )


async def test_a_timeout_holds_the_answer_after_the_request_took_effect() -> None:
    sb, transport = _in_process(SandboxSettings(timeout_rate=1.0, timeout_seconds=30))
    started = time.perf_counter()
    with pytest.raises(RequestTimeout):
        await transport.send(_create_contact(sb, "late@example.com", timeout=0.1))
    assert time.perf_counter() - started < 5
    assert [c["email"] for c in sb.location().collection(CONTACTS)] == ["late@example.com"]


async def test_a_held_answer_arrives_after_timeout_seconds() -> None:
    sb, transport = _in_process(SandboxSettings(timeout_rate=1.0, timeout_seconds=0.05))
    started = time.perf_counter()
    response = await transport.send(_list_contacts(sb))
    assert response.status == 200 and time.perf_counter() - started >= 0.05


async def test_a_dropped_connection_reaches_the_in_process_client_before_any_effect() -> None:
    sb, transport = _in_process(SandboxSettings(drop_rate=1.0))
    with pytest.raises(ConnectionDropped):
        await transport.send(_create_contact(sb, "never@example.com"))
    assert len(sb.location().collection(CONTACTS)) == 0
    budget = sb.limiter.peek(sb.location_token.app_id, sb.location_id)
    assert budget.remaining == budget.max  # a dropped request is not charged


async def test_drops_and_timeouts_are_the_same_for_the_same_seed() -> None:
    async def outcomes(seed: int) -> list[str]:
        settings = SandboxSettings(
            seed=seed,
            drop_rate=0.3,
            timeout_rate=0.3,
            timeout_seconds=30,
            rate_limit=RateLimit(500, 1),
        )
        sb, transport = _in_process(settings)
        out = []
        for _ in range(40):
            try:
                response = await transport.send(_list_contacts(sb, timeout=0.02))
                out.append(str(response.status))
            except ConnectionDropped:
                out.append("drop")
            except RequestTimeout:
                out.append("timeout")
        return out

    first = await outcomes(3)
    assert first == await outcomes(3)
    assert first != await outcomes(4)
    assert {"drop", "timeout", "200"} <= set(first)


async def test_429_bursts_come_in_windows_and_repeat_with_the_seed() -> None:
    async def statuses(seed: int) -> list[int]:
        settings = SandboxSettings(
            seed=seed, burst_429=Burst429(3, 10), rate_limit=RateLimit(500, 1)
        )
        sb, transport = _in_process(settings)
        out = []
        for _ in range(30):
            response = await transport.send(_list_contacts(sb))
            if response.status == 429:
                assert response.header("X-RateLimit-Remaining") == "0"
                assert response.json() == {"statusCode": 429, "message": "Too Many Requests"}
            out.append(response.status)
        return out

    first = await statuses(1)
    assert first == await statuses(1)
    windows = [[(i + shift) % 10 < 3 for i in range(30)] for shift in range(10)]
    assert [s == 429 for s in first] in windows  # 3 in a row, every 10 requests
    assert all(s == 200 for s in first if s != 429)


@pytest.mark.parametrize(
    "bad",
    [
        {"timeout_rate": 1.5},
        {"drop_rate": -0.1},
        {"timeout_seconds": 0},
        {"burst_429": (10, 10)},
        {"burst_429": (0, 10)},
        {"webhook_fault_rate": 2},
    ],
)
def test_fault_settings_are_validated(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="invalid sandbox settings"):
        SandboxSettings(**bad)


async def test_a_dropped_connection_over_a_socket_is_a_disconnect_for_aiohttp() -> None:
    errors: list[logging.LogRecord] = []
    catcher = logging.Handler(logging.ERROR)
    catcher.emit = errors.append  # type: ignore[method-assign]
    with serve_sandbox(SandboxSettings(drop_rate=1.0)) as (base_url, sb):
        logging.getLogger("uvicorn.error").addHandler(catcher)  # after uvicorn set up logging
        try:
            request = _list_contacts(sb, base=base_url)
            async with aiohttp.ClientSession() as session:
                with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
                    async with session.get(request.url, headers=request.headers) as resp:
                        await resp.read()
            transport = AiohttpTransport()
            try:
                with pytest.raises(ConnectionDropped):
                    await transport.send(request)
            finally:
                await transport.close()
        finally:
            logging.getLogger("uvicorn.error").removeHandler(catcher)
    assert errors == []  # uvicorn neither answered a 500 nor logged an app error


async def test_a_timeout_over_a_socket_fires_the_client_timeout_and_ends_when_it_leaves() -> None:
    started = time.perf_counter()
    with serve_sandbox(SandboxSettings(timeout_rate=1.0, timeout_seconds=30)) as (base_url, sb):
        transport = AiohttpTransport()
        try:
            with pytest.raises(RequestTimeout):
                await transport.send(_list_contacts(sb, base=base_url, timeout=0.2))
        finally:
            await transport.close()
    assert time.perf_counter() - started < 5  # the server did not wait out the 30 s
