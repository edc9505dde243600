"""GHL's burst and daily limits per (app, location), the five X-RateLimit headers on every
answer, and the 429 once a limit is spent."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from ghlbridge.client.transport import ASGITransport, HttpRequest, HttpResponse
from ghlbridge.sandbox import RateLimit, Sandbox, SandboxSettings, create_app
from ghlbridge.sandbox.ratelimit import RateLimiter

HEADERS = (
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _sandbox(settings: SandboxSettings, clock: Clock) -> tuple[Sandbox, ASGITransport]:
    sb = Sandbox(settings, monotonic=clock)
    return sb, ASGITransport(cast(Any, create_app(sandbox=sb)))


async def _list(sb: Sandbox, transport: ASGITransport, token: str | None = None) -> HttpResponse:
    headers = {"Version": "2021-07-28"}
    headers["Authorization"] = f"Bearer {token or sb.location_token.value}"
    url = f"http://sandbox/contacts/?locationId={sb.location_id}"
    return await transport.send(HttpRequest("GET", url, headers))


async def test_every_answer_carries_the_five_rate_limit_headers_with_ghl_defaults() -> None:
    sb, transport = _sandbox(SandboxSettings(), Clock())
    ok = await _list(sb, transport)
    assert {h: ok.header(h) for h in HEADERS} == {
        "X-RateLimit-Max": "100",
        "X-RateLimit-Remaining": "99",
        "X-RateLimit-Interval-Milliseconds": "10000",
        "X-RateLimit-Limit-Daily": "200000",
        "X-RateLimit-Daily-Remaining": "199999",
    }
    unauthorized = await transport.send(HttpRequest("GET", "http://sandbox/contacts/", {}))
    assert unauthorized.status == 401
    assert all(unauthorized.header(h) is not None for h in HEADERS)


async def test_burst_limit_answers_429_then_recovers_as_the_window_slides() -> None:
    clock = Clock()
    sb, transport = _sandbox(SandboxSettings(rate_limit=RateLimit(3, 10.0)), clock)
    remaining = []
    for _ in range(3):
        response = await _list(sb, transport)
        assert response.status == 200
        remaining.append(response.header("X-RateLimit-Remaining"))
        clock.now += 1
    assert remaining == ["2", "1", "0"]
    refused = await _list(sb, transport)
    assert refused.status == 429
    assert refused.json() == {"statusCode": 429, "message": "Too Many Requests"}
    assert refused.header("X-RateLimit-Remaining") == "0"
    assert refused.header("X-RateLimit-Daily-Remaining") == "199997"  # refusals are free
    clock.now = 1010.5  # the first request (t=1000) left the 10 s window
    assert (await _list(sb, transport)).status == 200
    assert (await _list(sb, transport)).status == 429


async def test_daily_limit_answers_429_with_daily_remaining_zero() -> None:
    clock = Clock()
    sb, transport = _sandbox(SandboxSettings(daily_limit=2), clock)
    assert (await _list(sb, transport)).status == 200
    assert (await _list(sb, transport)).header("X-RateLimit-Daily-Remaining") == "0"
    refused = await _list(sb, transport)
    assert refused.status == 429
    assert refused.header("X-RateLimit-Daily-Remaining") == "0"


async def test_each_location_and_each_app_has_its_own_budget() -> None:
    clock = Clock()
    sb, transport = _sandbox(SandboxSettings(rate_limit=RateLimit(1, 10.0)), clock)
    assert (await _list(sb, transport)).status == 200
    assert (await _list(sb, transport)).status == 429
    other_app = sb.tokens.create_pit(
        company_id=sb.company_id, location_id=sb.location_id, scopes=sb.all_scopes
    )
    assert (await _list(sb, transport, other_app.value)).status == 200
    other_location, pit = sb.add_location()
    url = f"http://sandbox/contacts/?locationId={other_location.id}"
    headers = {"Version": "2021-07-28", "Authorization": f"Bearer {pit.value}"}
    assert (await transport.send(HttpRequest("GET", url, headers))).status == 200


def test_daily_budget_resets_on_a_new_utc_day() -> None:
    day = [date(2025, 1, 1)]
    limiter = RateLimiter(RateLimit(100, 10.0), 1, clock=lambda: 0.0, today=lambda: day[0])
    assert limiter.hit("app", "loc").allowed
    assert not limiter.hit("app", "loc").allowed
    day[0] = date(2025, 1, 2)
    budget = limiter.hit("app", "loc")
    assert budget.allowed and budget.daily_remaining == 0
