"""Contacts and tags are real state: what is written is read back, lists page exactly,
upserts de-duplicate by email then phone, and bad input answers GHL's 422."""

from __future__ import annotations

from typing import Any

import pytest

from ghlbridge.sandbox import Change, SandboxSettings
from tests.sandbox.harness import Harness


async def _create(h: Harness, **fields: Any) -> dict[str, Any]:
    response = await h.call(
        "contacts.create_contact", body={"locationId": h.sb.location_id, **fields}
    )
    assert response.status == 201, response.body
    contact: dict[str, Any] = response.json()["contact"]
    return contact


async def test_created_contact_reads_back_with_ghl_computed_fields(harness: Harness) -> None:
    created = await _create(
        harness,
        firstName="Ada",
        lastName="Lovelace",
        email="Ada@Example.com",
        phone="(555) 010-2030",
        tags=["VIP", "vip", " Lead "],
    )
    assert len(created["id"]) == 20 and created["id"].isalnum()
    assert created["locationId"] == harness.sb.location_id
    assert created["name"] == "Ada Lovelace"
    assert created["emailLowerCase"] == "ada@example.com"
    assert created["phone"] == "+15550102030"
    assert created["tags"] == ["vip", "lead"]
    assert created["dateAdded"].endswith("Z")
    got = await harness.call("contacts.get_contact", {"contactId": created["id"]})
    assert got.status == 200
    assert got.json() == {"contact": created}
    tags = await harness.call("locations.get_location_tags", {"locationId": harness.sb.location_id})
    assert sorted(t["name"] for t in tags.json()["tags"]) == ["lead", "vip"]


async def test_contact_list_pages_with_start_after_and_returns_every_contact_once(
    harness: Harness,
) -> None:
    ids = {(await _create(harness, email=f"p{i}@example.com"))["id"] for i in range(11)}
    seen: list[str] = []
    params: dict[str, Any] = {"locationId": harness.sb.location_id, "limit": 4}
    pages = 0
    while True:
        response = await harness.call("contacts.get_contacts", params)
        assert response.status == 200
        body = response.json()
        assert body["count"] == 11 and body["meta"]["total"] == 11
        seen.extend(c["id"] for c in body["contacts"])
        pages += 1
        meta = body["meta"]
        if meta["startAfterId"] is None:
            assert meta["nextPage"] is None and meta["nextPageUrl"] is None
            break
        assert meta["nextPageUrl"].startswith("http://sandbox/contacts/?")
        params = {**params, "startAfter": meta["startAfter"], "startAfterId": meta["startAfterId"]}
    assert pages == 3
    assert len(seen) == len(set(seen)) == 11 and set(seen) == ids


async def test_contact_list_follows_next_page_url_and_filters_by_query(harness: Harness) -> None:
    for name in ("Grace", "Alan", "Grace B"):
        await _create(harness, firstName=name)
    first = await harness.call(
        "contacts.get_contacts", {"locationId": harness.sb.location_id, "limit": 2}
    )
    next_url = first.json()["meta"]["nextPageUrl"]
    path_and_query = next_url.removeprefix("http://sandbox")
    path, _, query = path_and_query.partition("?")
    second = await harness.request("GET", f"{path}?{query}")
    assert [c["firstName"] for c in second.json()["contacts"]] == ["Grace B"]
    found = await harness.call(
        "contacts.get_contacts", {"locationId": harness.sb.location_id, "query": "grace"}
    )
    assert [c["firstName"] for c in found.json()["contacts"]] == ["Grace", "Grace B"]


async def test_contact_search_pages_by_search_after_and_by_page(harness: Harness) -> None:
    loc = harness.sb.location_id
    ids = [(await _create(harness, firstName=f"S{i}"))["id"] for i in range(5)]
    seen: list[str] = []
    body: dict[str, Any] = {"locationId": loc, "pageLimit": 2}
    while True:
        response = await harness.call("contacts.search_contacts_advanced", body=body)
        assert response.status == 200
        page = response.json()
        assert page["total"] == 5
        if not page["contacts"]:
            break
        seen.extend(c["id"] for c in page["contacts"])
        body = {**body, "searchAfter": page["contacts"][-1]["searchAfter"]}
    assert seen == ids
    second = await harness.call(
        "contacts.search_contacts_advanced", body={"locationId": loc, "pageLimit": 2, "page": 2}
    )
    assert [c["id"] for c in second.json()["contacts"]] == ids[2:4]


async def test_writes_are_announced_as_changes_with_the_previous_record(harness: Harness) -> None:
    changes: list[Change] = []
    harness.sb.world.subscribe(changes.append)
    contact = await _create(harness, firstName="E", tags=["one"])
    await harness.call("contacts.add_tags", {"contactId": contact["id"]}, {"tags": ["two"]})
    await harness.call("contacts.delete_contact", {"contactId": contact["id"]})
    contact_changes = [c for c in changes if c.resource == "contacts"]
    assert [c.action for c in contact_changes] == ["create", "update", "delete"]
    update = contact_changes[1]
    assert update.previous is not None and update.previous["tags"] == ["one"]
    assert update.record["tags"] == ["one", "two"]
    assert {c.resource for c in changes} == {"contacts", "locationTags"}


async def test_upsert_updates_the_email_match_then_the_phone_match_else_creates(
    harness: Harness,
) -> None:
    loc = harness.sb.location_id
    by_email = await _create(harness, email="dup@example.com", firstName="One", tags=["old"])
    by_phone = await _create(harness, phone="+1 555 000 1111", firstName="Two")

    async def upsert(**fields: Any) -> dict[str, Any]:
        response = await harness.call("contacts.upsert_contact", body={"locationId": loc, **fields})
        assert response.status == 200, response.body
        return response.json()  # type: ignore[no-any-return]

    same_email = await upsert(email="DUP@example.com", phone="5550001111", lastName="X", tags=["n"])
    assert same_email["new"] is False and same_email["contact"]["id"] == by_email["id"]
    assert same_email["contact"]["tags"] == ["n"]  # tags in an upsert body replace
    assert same_email["contact"]["firstName"] == "One" and same_email["contact"]["lastName"] == "X"
    assert "phone" not in same_email["contact"]  # the phone is the other contact's
    same_phone = await upsert(phone="(555) 000-1111", firstName="Two B")
    assert same_phone["new"] is False and same_phone["contact"]["id"] == by_phone["id"]
    fresh = await upsert(email="new@example.com")
    assert fresh["new"] is True and isinstance(fresh["traceId"], str)
    listed = await harness.call("contacts.get_contacts", {"locationId": loc})
    assert listed.json()["count"] == 3


async def test_create_refuses_a_duplicate_email_with_ghl_400(harness: Harness) -> None:
    first = await _create(harness, email="same@example.com", firstName="First")
    response = await harness.call(
        "contacts.create_contact",
        body={"locationId": harness.sb.location_id, "email": "Same@example.com"},
    )
    assert response.status == 400
    body = response.json()
    assert body["message"] == "This location does not allow duplicated contacts."
    assert body["meta"] == {
        "contactName": "First",
        "contactId": first["id"],
        "matchingField": "email",
    }


async def test_update_tags_and_delete_change_what_is_read_back(harness: Harness) -> None:
    contact = await _create(harness, firstName="T", tags=["a"])
    cid = contact["id"]
    added = await harness.call("contacts.add_tags", {"contactId": cid}, {"tags": ["B", "c"]})
    assert added.status == 201 and added.json() == {"tags": ["a", "b", "c"]}
    removed = await harness.call("contacts.remove_tags", {"contactId": cid}, {"tags": ["A"]})
    assert removed.json() == {"tags": ["b", "c"]}
    updated = await harness.call("contacts.update_contact", {"contactId": cid}, {"lastName": "U"})
    assert updated.json()["succeded"] is True
    assert updated.json()["contact"]["name"] == "T U"
    deleted = await harness.call("contacts.delete_contact", {"contactId": cid})
    assert deleted.json() == {"succeded": True}
    gone = await harness.call("contacts.get_contact", {"contactId": cid})
    assert gone.status == 400
    assert gone.json()["message"] == "Contact not found"


@pytest.mark.parametrize(
    ("op_id", "params", "body", "message"),
    [
        ("contacts.create_contact", {}, {}, "locationId should not be empty"),
        ("contacts.get_contacts", {"limit": 500}, None, "limit must not be greater than 100"),
        ("contacts.get_contacts", {"limit": "many"}, None, "limit must be a number"),
        (
            "contacts.create_contact",
            {},
            {"dndSettings": {"SMS": {"status": "sometimes"}}},
            "dndSettings.SMS.status must be one of the following values: active, inactive",
        ),
        ("contacts.create_contact", {}, {"tags": "vip"}, "tags must be an array"),
    ],
)
async def test_invalid_input_answers_422_listing_the_problem(
    harness: Harness, op_id: str, params: dict[str, Any], body: Any, message: str
) -> None:
    loc = harness.sb.location_id
    if op_id == "contacts.get_contacts":
        params = {"locationId": loc, **params}
    elif body is not None and "locationId" not in message:
        body = {"locationId": loc, **body}
    response = await harness.call(op_id, params, body)
    assert response.status == 422
    payload = response.json()
    assert payload["statusCode"] == 422 and payload["error"] == "Unprocessable Entity"
    assert any(m.startswith(message) for m in payload["message"]), payload["message"]


async def test_unknown_query_parameter_answers_422(harness: Harness) -> None:
    response = await harness.request(
        "GET", "/contacts/", query={"locationId": harness.sb.location_id, "colour": "red"}
    )
    assert response.status == 422
    assert response.json()["message"] == ["property colour should not exist"]


async def test_ghl_client_pages_sandbox_contacts_end_to_end(harness: Harness) -> None:
    client_mod = pytest.importorskip("ghlbridge.client")
    for i in range(7):
        await _create(harness, email=f"c{i}@example.com")
    client = client_mod.GHLClient(
        harness.token,
        transport=harness.transport,
        base_url="http://sandbox",
        location_id=harness.sb.location_id,
    )
    emails = [c["email"] async for c in client.paginate("contacts.get_contacts", {"limit": 3})]
    assert sorted(emails) == sorted(f"c{i}@example.com" for i in range(7))


async def test_seeded_sandboxes_give_the_same_ids(make_harness: Any) -> None:
    a: Harness = make_harness(SandboxSettings(seed=11))
    b: Harness = make_harness(SandboxSettings(seed=11))
    assert a.token == b.token and a.sb.location_id == b.sb.location_id
    assert (await _create(a))["id"] == (await _create(b))["id"]


async def test_changes_carry_the_fields_ghl_derives(harness: Harness) -> None:
    changes: list[Change] = []
    harness.sb.world.subscribe(changes.append)
    contact = await _create(harness, firstName="Ada", lastName="Byron", email="Ada@Example.com")
    await harness.call(
        "contacts.update_contact", {"contactId": contact["id"]}, {"lastName": "King"}
    )
    created, updated = (c for c in changes if c.resource == "contacts")
    assert created.record["name"] == "Ada Byron"
    assert created.record["emailLowerCase"] == "ada@example.com"
    assert updated.previous is not None and updated.previous["name"] == "Ada Byron"
    assert updated.record["name"] == "Ada King"
    assert updated.record["fullNameLowerCase"] == "ada king"
