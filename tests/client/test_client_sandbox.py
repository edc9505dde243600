"""The client end to end against the in-process sandbox: real client code, no mocks."""

from __future__ import annotations

from typing import Any, cast

import pytest

from ghlbridge.client import (
    ASGITransport,
    AuthError,
    BadRequestError,
    GHLClient,
    SyncGHLClient,
    ValidationError,
)
from ghlbridge.client.retry import RetryPolicy
from ghlbridge.sandbox import Sandbox, SandboxSettings, create_app, sandbox_of
from ghlbridge.sandbox.settings import RateLimit

BASE = "http://sandbox"


def sandbox_client(settings: SandboxSettings, **kw: Any) -> tuple[GHLClient, Sandbox]:
    app = create_app(settings)
    box = sandbox_of(app)
    kw.setdefault("location_id", box.location_id)
    token = kw.pop("token", box.location_token.value)
    client = GHLClient(token, base_url=BASE, transport=ASGITransport(cast(Any, app)), **kw)
    return client, box


async def test_created_contacts_page_back_exactly_once_with_a_small_page_size() -> None:
    client, _ = sandbox_client(SandboxSettings(seed=1, rate_limit=RateLimit(10_000, 10.0)))
    async with client:
        made = {
            (await client.call("contacts.create_contact", body={"email": f"p{i}@example.com"}))[
                "contact"
            ]["id"]
            for i in range(47)
        }
        pager = client.pager("contacts.get_contacts", {"limit": 10})
        seen = [c["id"] async for c in pager.items()]
    assert len(seen) == len(set(seen)) == 47
    assert set(seen) == made
    assert pager.pages_fetched == 5


async def test_tags_added_to_a_contact_read_back() -> None:
    client, _ = sandbox_client(SandboxSettings(seed=2))
    async with client:
        contact = (await client.call("contacts.create_contact", body={"email": "t@example.com"}))[
            "contact"
        ]
        await client.call(
            "contacts.add_tags", {"contactId": contact["id"]}, {"tags": ["VIP", "lead"]}
        )
        got = await client.call("contacts.get_contact", {"contactId": contact["id"]})
    assert sorted(got["contact"]["tags"]) == ["lead", "vip"]


async def test_a_tight_sandbox_rate_limit_is_paced_without_429s() -> None:
    client, _ = sandbox_client(SandboxSettings(seed=3, rate_limit=RateLimit(20, 0.5)))
    async with client:
        for i in range(45):
            await client.call("contacts.create_contact", body={"email": f"r{i}@example.com"})
        assert client.stats.rate_limited == 0
        snapshot = next(iter(client.rate_limiter.snapshot().values()))
    assert snapshot["max"] == 20 and snapshot["interval"] == 0.5


async def test_a_wrong_token_is_an_auth_error_and_a_missing_scope_is_named() -> None:
    client, box = sandbox_client(SandboxSettings(seed=4), token="not-a-token")
    async with client:
        with pytest.raises(AuthError) as err:
            await client.call("contacts.get_contacts")
    assert err.value.status == 401
    limited = box.tokens.create_pit(
        company_id=box.company_id,
        location_id=box.location_id,
        scopes=frozenset({"contacts.readonly"}),
    )
    client = GHLClient(
        limited.value,
        base_url=BASE,
        location_id=box.location_id,
        transport=ASGITransport(cast(Any, create_app(sandbox=box))),
    )
    async with client:
        await client.call("contacts.get_contacts")
        with pytest.raises(AuthError) as scope_err:
            await client.call("contacts.create_contact", body={"email": "s@example.com"})
    assert scope_err.value.missing_scope == "contacts.write"


async def test_duplicate_create_is_a_bad_request_with_ghls_message() -> None:
    client, _ = sandbox_client(SandboxSettings(seed=5))
    async with client:
        await client.call("contacts.create_contact", body={"email": "d@example.com"})
        with pytest.raises(BadRequestError, match="duplicated contacts"):
            await client.call("contacts.create_contact", body={"email": "d@example.com"})


async def test_flaky_sandbox_reads_succeed_through_retries() -> None:
    client, _ = sandbox_client(
        SandboxSettings(seed=6, fault_rate=0.3),
        retry=RetryPolicy(
            max_attempts=8,
            base_delay=0.0,
            max_delay=0.0,
            retry_statuses=frozenset({429, 500, 502, 503, 504}),
        ),
    )
    async with client:
        for _ in range(20):
            await client.call("contacts.get_contacts")
        assert client.stats.retries > 0
        assert set(client.stats.by_status) >= {200}


async def test_validation_happens_before_the_sandbox_sees_anything() -> None:
    client, _ = sandbox_client(SandboxSettings(seed=7))
    async with client:
        with pytest.raises(ValidationError, match="contactId"):
            await client.call("contacts.get_contact")
        assert client.stats.requests == 0


def test_the_sync_facade_calls_and_pages() -> None:
    app = create_app(SandboxSettings(seed=8))
    box = sandbox_of(app)
    with SyncGHLClient(
        box.location_token.value,
        base_url=BASE,
        location_id=box.location_id,
        transport=ASGITransport(cast(Any, app)),
    ) as ghl:
        for i in range(7):
            ghl.call("contacts.create_contact", body={"email": f"s{i}@example.com"})
        emails = sorted(c["email"] for c in ghl.paginate("contacts.get_contacts", page_size=3))
    assert emails == [f"s{i}@example.com" for i in range(7)]
