"""The ClickBank REST client against a fake ClickBank on 127.0.0.1: paging, auth, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ghlbridge.client.ratelimit import RateLimiter
from ghlbridge.client.retry import RetryPolicy
from ghlbridge.connectors.clickbank import (
    ENDPOINTS,
    ClickBankAuthError,
    ClickBankClient,
    ClickBankNotFoundError,
    ClickBankPagingError,
    ClickBankRateLimitError,
    ClickBankRequestError,
    ClickBankServerError,
    authorization,
)
from ghlbridge.connectors.clickbank.api import shared_rate_limiter
from tests.connectors.fake_clickbank import FakeClickBank

FAST = RetryPolicy(max_attempts=3, base_delay=0.0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeClickBank]:
    async with FakeClickBank(keys=frozenset({"API-KEY1", "DEV-D1:API-KEY2"})) as server:
        yield server


def client(fake: FakeClickBank, key: str = "KEY1", **kw: object) -> ClickBankClient:
    return ClickBankClient(
        key,
        base_url=fake.base_url,
        retry=FAST,
        rate_limiter=RateLimiter(max_requests=1000, interval=1.0),
        **kw,  # type: ignore[arg-type]
    )


async def test_paging_by_page_header_returns_every_order_once(fake: FakeClickBank) -> None:
    fake.orders, fake.page_sizes = 437, (100, 37, 1, 100)  # short pages before the end
    async with client(fake) as cb:
        orders = await cb.list_all(
            "orders.list", {"startDate": "2024-01-01", "endDate": "2024-01-31"}
        )
    receipts = [o["receipt"] for o in orders]
    assert len(receipts) == 437 and len(set(receipts)) == 437
    pages = [r["page"] for r in fake.requests]
    assert pages == [str(n) for n in range(1, len(pages) + 1)]  # each page asked once, in order
    assert all(
        r["query"] == {"startDate": "2024-01-01", "endDate": "2024-01-31"} for r in fake.requests
    )


async def test_single_page_and_one_row_object_are_read_as_lists(fake: FakeClickBank) -> None:
    fake.orders = 1
    async with client(fake) as cb:
        pages = [p async for p in cb.pages("orders.list")]
        order = await cb.call("orders.get", receipt="R00000")
    assert len(pages) == 1 and not pages[0].more and pages[0].records[0]["receipt"] == "R00000"
    assert order["orderData"][0]["receipt"] == "R00000"


async def test_server_ignoring_the_page_header_is_a_paging_error_not_a_loop(
    fake: FakeClickBank,
) -> None:
    fake.orders, fake.ignore_page_header = 300, True
    async with client(fake) as cb:
        with pytest.raises(ClickBankPagingError, match="page 2 repeats page 1"):
            await cb.list_all("orders.list")
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("key", "dev", "sent"),
    [
        ("KEY1", None, "API-KEY1"),
        ("API-KEY1", None, "API-KEY1"),
        ("API-KEY2", "D1", "DEV-D1:API-KEY2"),
        ("KEY2", "DEV-D1", "DEV-D1:API-KEY2"),
        ("DEV-D1:API-KEY2", None, "DEV-D1:API-KEY2"),
    ],
)
async def test_authorization_header_is_api_key_or_legacy_dev_pair(
    fake: FakeClickBank, key: str, dev: str | None, sent: str
) -> None:
    async with client(fake, key, dev_key=dev) as cb:
        assert await cb.call("debug") == "debug: ok"
    assert fake.requests[0]["auth"] == sent
    assert fake.requests[0]["accept"] == "application/json"
    assert "Bearer" not in authorization(key, dev)


async def test_unknown_key_is_auth_error_401(fake: FakeClickBank) -> None:
    async with client(fake, "NOPE") as cb:
        with pytest.raises(ClickBankAuthError) as info:
            await cb.call("debug")
    assert info.value.status == 401 and "unknown API key" in str(info.value)
    assert len(fake.requests) == 1  # not retried


async def test_key_without_permission_is_403_auth_error_that_never_shows_the_key(
    fake: FakeClickBank,
) -> None:
    fake.forbidden, fake.echo_auth_in_errors = frozenset({"API-SECRETKEY9"}), True
    async with client(fake, "SECRETKEY9") as cb:
        with pytest.raises(ClickBankAuthError) as info:
            await cb.call("orders.count")
    assert info.value.status == 403 and "lacks permission" in str(info.value)
    assert "SECRETKEY9" not in str(info.value) and "[redacted]" in str(info.value)
    assert len(fake.requests) == 1  # a permission 403 is not a rate limit: not retried


async def test_not_found_is_404_error(fake: FakeClickBank) -> None:
    fake.orders = 2
    async with client(fake) as cb:
        with pytest.raises(ClickBankNotFoundError) as info:
            await cb.call("orders.get", receipt="R99999")
    assert info.value.status == 404 and "Order R99999 not found" in str(info.value)
    assert str(info.value).startswith("clickbank orders.get: HTTP 404")


async def test_rate_limit_403_is_retried_then_succeeds(fake: FakeClickBank) -> None:
    fake.orders, fake.rate_limited = 5, 2
    limiter = RateLimiter(max_requests=1000, interval=0.01)
    async with ClickBankClient(
        "KEY1", base_url=fake.base_url, retry=FAST, rate_limiter=limiter
    ) as cb:
        assert await cb.call("orders.count") == 5
    assert len(fake.requests) == 3


async def test_rate_limit_403_gives_up_after_max_attempts(fake: FakeClickBank) -> None:
    fake.rate_limited = 10
    limiter = RateLimiter(max_requests=1000, interval=0.01)
    async with ClickBankClient(
        "KEY1", base_url=fake.base_url, retry=FAST, rate_limiter=limiter
    ) as cb:
        with pytest.raises(ClickBankRateLimitError) as info:
            await cb.call("debug")
    assert info.value.status == 403 and len(fake.requests) == 3


async def test_503_is_retried_for_reads_but_not_for_refunds(fake: FakeClickBank) -> None:
    fake.unavailable = 1
    async with client(fake) as cb:
        assert await cb.call("debug") == "debug: ok"
        fake.unavailable = 1
        with pytest.raises(ClickBankServerError):
            await cb.call("tickets.refund", receipt="R1", reason="ticket.type.refund.7")
    assert [r["method"] for r in fake.requests] == ["GET", "GET", "POST"]


async def test_refund_ticket_sends_parameters_in_the_query_only(fake: FakeClickBank) -> None:
    async with client(fake) as cb:
        ticket = await cb.call(
            "tickets.refund", receipt="R1", reason="ticket.type.refund.7", refundType="FULL"
        )
    sent = fake.requests[0]
    assert ticket["ticketId"] == 77
    assert sent["path"] == "/tickets/R1" and sent["body"] == b""
    assert sent["query"] == {"reason": "ticket.type.refund.7", "refundType": "FULL", "type": "rfnd"}


async def test_a_parameter_named_action_is_a_query_parameter(fake: FakeClickBank) -> None:
    async with client(fake) as cb:
        with pytest.raises(ClickBankNotFoundError):  # the fake knows no PUT /tickets/5
            await cb.call("tickets.update", id=5, action="close")
    assert fake.requests[0]["query"] == {"action": "close"}
    assert (fake.requests[0]["method"], fake.requests[0]["path"]) == ("PUT", "/tickets/5")


async def test_is_active_is_true_on_204_and_false_on_403(fake: FakeClickBank) -> None:
    fake.active = frozenset({"LIVE1"})
    async with client(fake) as cb:
        assert await cb.call("orders.is_active", receipt="LIVE1") is True
        assert await cb.call("orders.is_active", receipt="GONE1") is False


async def test_bad_parameters_are_refused_before_sending(fake: FakeClickBank) -> None:
    async with client(fake) as cb:
        with pytest.raises(ClickBankRequestError, match="unknown parameter colour"):
            await cb.call("orders.list", colour="red")
        with pytest.raises(ClickBankRequestError, match="missing receipt"):
            await cb.call("orders.get")
        with pytest.raises(ClickBankRequestError, match="startDate and endDate together"):
            await cb.call("orders.list", startDate="2024-01-01")
        with pytest.raises(ClickBankRequestError, match="unknown ClickBank action"):
            await cb.call("orders.explode")
        with pytest.raises(ClickBankRequestError, match="unknown parameter type"):
            await cb.call("tickets.refund", receipt="R1", type="cncl")  # fixed by the action
    assert fake.requests == []


def test_every_action_is_a_table_row_with_a_known_method() -> None:
    assert len(ENDPOINTS) >= 35
    for name, endpoint in ENDPOINTS.items():
        assert endpoint.action == name
        assert endpoint.method in {"GET", "HEAD", "POST", "PUT", "DELETE"}
        assert not endpoint.paged or endpoint.records, name
    for action in ("orders.list", "orders.get", "orders.upsells", "products.list",
                   "products.get", "tickets.create", "tickets.list", "tickets.get",
                   "analytics.report", "quickstats.list", "debug"):  # fmt: skip
        assert action in ENDPOINTS


def test_default_limiter_is_shared_and_paces_ten_per_second() -> None:
    limiter = shared_rate_limiter()
    assert limiter is shared_rate_limiter()
    budget = limiter.budget("probe")
    assert (budget.max, budget.interval) == (10, 1.0)
