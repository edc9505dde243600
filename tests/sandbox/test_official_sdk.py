"""GHL's official Python SDK (``gohighlevel-api-client``, unchanged) works against the sandbox over
a real socket: it authenticates with a location PIT, sends ``Version: v3`` on every call, and
creates a contact, tags it, reads it back and lists Social Planner tags.

The SDK takes its base URL from its httpx client (``HighLevel.get_http_client().base_url``), so
pointing it at the sandbox needs no change to its code. Its request bodies must be plain dicts:
it hands them to httpx as JSON, and its own pydantic models are not JSON-serializable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from ghlbridge.cli.serving import serving
from ghlbridge.sandbox import Sandbox, SandboxSettings, create_app, sandbox_of
from tests.sandbox.test_sandbox_objects import register_object_handlers

highlevel = pytest.importorskip(
    "highlevel",
    reason="official SDK not installed: pip install -r bench/requirements-sdk.txt",
)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class Wire:
    """The requests that reached the sandbox: method, path and lower-cased headers."""

    app: AsgiApp
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            self.seen.append((scope["method"], scope["path"], headers))
        await self.app(scope, receive, send)


@dataclass
class Session:
    ghl: Any
    sb: Sandbox
    wire: Wire


@pytest.fixture
async def session(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Session]:
    register_object_handlers(monkeypatch)
    app = create_app(SandboxSettings(seed=5))
    sb = sandbox_of(app)
    wire = Wire(app)
    async with serving(wire) as base_url:
        ghl = highlevel.HighLevel(private_integration_token=sb.location_token.value)
        ghl.get_http_client().base_url = base_url
        try:
            yield Session(ghl, sb, wire)
        finally:
            await ghl.close()


async def test_sdk_creates_a_contact_tags_it_reads_it_back_and_lists_social_tags(
    session: Session,
) -> None:
    ghl, loc = session.ghl, session.sb.location_id
    created = await ghl.contacts.create_contact(
        {"locationId": loc, "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"}
    )
    contact_id = created["contact"]["id"]
    tagged = await ghl.contacts.add_tags(contact_id, {"tags": ["VIP", "sdk"]})
    assert tagged == {"tags": ["vip", "sdk"]}
    read = (await ghl.contacts.get_contact(contact_id))["contact"]
    assert read["id"] == contact_id and read["name"] == "Ada Lovelace"
    assert read["tags"] == ["vip", "sdk"]
    social = await ghl.social_planner.get_tags_location_id(loc)
    assert social["success"] is True
    assert [t["tag"] for t in social["results"]["tags"]] == ["Product Launch", "Promo", "Evergreen"]
    calls = [(method, path) for method, path, _ in session.wire.seen]
    assert calls == [
        ("POST", "/contacts/"),
        ("POST", f"/contacts/{contact_id}/tags"),
        ("GET", f"/contacts/{contact_id}"),
        ("GET", f"/social-media-posting/{loc}/tags"),
    ]
    pit = session.sb.location_token.value
    for _, _, headers in session.wire.seen:
        assert headers["version"] == "v3"
        assert headers["authorization"] == f"Bearer {pit}"
        assert headers["ghl-sdk-version"] == "python/3.0.0"


async def test_sdk_raises_its_ghl_error_with_the_sandbox_status_and_message(
    session: Session,
) -> None:
    with pytest.raises(highlevel.GHLError) as caught:
        await session.ghl.contacts.get_contact("no-such-contact")
    assert caught.value.status_code == 400
    assert caught.value.message == "Contact not found"
    assert caught.value.response == {
        "statusCode": 400,
        "message": "Contact not found",
        "error": "Bad Request",
    }


async def test_sdk_reads_custom_objects_records_and_associations(session: Session) -> None:
    ghl, loc = session.ghl, session.sb.location_id
    listed = await ghl.objects.get_object_by_location_id(loc)
    keys = [o["key"] for o in listed["objects"]]
    assert keys == ["contact", "opportunity", "business", "custom_objects.pets"]
    search = {"locationId": loc, "page": 1, "pageLimit": 2, "query": "*", "searchAfter": []}
    found = await ghl.objects.search_object_records(search, schema_key="custom_objects.pets")
    assert found["total"] == 3 and len(found["records"]) == 2
    record = found["records"][0]
    got = await ghl.objects.get_record_by_id("custom_objects.pets", record["id"])
    assert got["record"]["properties"] == record["properties"]
    associations = await ghl.associations.find_associations(loc, 0, 10)
    assert [a["key"] for a in associations["associations"]] == [
        "contact_business",
        "opportunity_contact",
    ]
