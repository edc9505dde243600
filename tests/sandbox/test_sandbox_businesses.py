"""Businesses are real state: create, read, update, delete, and the location's list paged
with skip/limit; the answers keep GHL's envelope keys (``buiseness`` on writes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from ghlbridge.catalog import load_catalog
from ghlbridge.client import ASGITransport, BadRequestError, ForbiddenError, GHLClient
from ghlbridge.sandbox import Change, RateLimit, Sandbox, SandboxSettings, core, create_app
from ghlbridge.sandbox.handlers import HANDLERS, SEEDERS, businesses
from ghlbridge.sandbox.validation import schema_problems

BASE = "http://sandbox"


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    settings = SandboxSettings(seed=29, rate_limit=RateLimit(100_000, 10.0), demo_records=0)
    box = Sandbox(settings, handlers={**HANDLERS, **businesses.HANDLERS})
    yield box
    box.close()


def _client(sb: Sandbox, token: str | None = None, location_id: str | None = None) -> GHLClient:
    transport = ASGITransport(cast(Any, create_app(sandbox=sb)))
    return GHLClient(
        token or sb.location_token.value,
        transport=transport,
        base_url=BASE,
        location_id=location_id or sb.location_id,
    )


def _fits(op_id: str, answer: Any) -> Any:
    schema = load_catalog().get(op_id).response.schema
    assert schema is not None and schema_problems(schema, answer) == [], op_id
    return answer


async def test_business_crud_reads_back_what_was_written(sb: Sandbox) -> None:
    changes: list[Change] = []
    sb.world.subscribe(changes.append)
    client = _client(sb)
    made = _fits(
        "businesses.create_business",
        await client.call(
            "businesses.create_business",
            body={"name": "Acme", "email": "hi@acme.test", "city": "Austin"},
        ),
    )
    assert made["success"] is True
    business = made["buiseness"]
    assert business["name"] == "Acme" and business["locationId"] == sb.location_id
    assert business["createdAt"] == business["updatedAt"]
    ref = {"businessId": business["id"]}
    got = _fits("businesses.get_business", await client.call("businesses.get_business", ref))
    assert got == {"business": business}
    updated = await client.call("businesses.update_business", ref, {"name": "Acme Inc"})
    assert updated["buiseness"]["name"] == "Acme Inc"
    assert updated["buiseness"]["city"] == "Austin"
    assert await client.call("businesses.delete_business", ref) == {"success": True}
    with pytest.raises(BadRequestError, match="Business not found"):
        await client.call("businesses.get_business", ref)
    assert [c.action for c in changes if c.resource == "businesses"] == [
        "create",
        "update",
        "delete",
    ]


async def test_business_list_pages_with_skip_and_limit(sb: Sandbox) -> None:
    client = _client(sb)
    names = [f"Biz {i}" for i in range(7)]
    for name in names:
        await client.call("businesses.create_business", body={"name": name})
    pager = client.pager("businesses.get_businesses_by_location", {"limit": 3})
    seen = [b["name"] async for b in pager.items()]
    assert seen == names
    page = await client.call("businesses.get_businesses_by_location", {"skip": 5, "limit": 10})
    _fits("businesses.get_businesses_by_location", page)
    assert [b["name"] for b in page["businesses"]] == names[5:]


async def test_another_locations_business_is_forbidden(sb: Sandbox) -> None:
    other, pit = sb.add_location(name="Other")
    theirs = await _client(sb, pit.value, other.id).call(
        "businesses.create_business", body={"name": "Theirs"}
    )
    with pytest.raises(ForbiddenError):
        await _client(sb).call("businesses.get_business", {"businessId": theirs["buiseness"]["id"]})


async def test_new_locations_are_seeded_with_businesses(monkeypatch: pytest.MonkeyPatch) -> None:
    seeders = tuple(dict.fromkeys((*SEEDERS, businesses.seed_businesses)))
    monkeypatch.setattr(core, "SEEDERS", seeders)
    sb = Sandbox(SandboxSettings(seed=5, demo_records=2))
    try:
        seeded = list(sb.location().collection(businesses.BUSINESSES))
        assert [b["name"] for b in seeded] == ["Acme Corp", "Globex"]
    finally:
        sb.close()
