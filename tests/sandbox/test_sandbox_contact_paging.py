"""Plain contact paging (no text, filters or sort) is found by bisection in the collection's
kept order: the same pages as sorting every contact, after deletes and creates too."""

from __future__ import annotations

import random
from typing import Any

from ghlbridge.sandbox import SandboxSettings
from ghlbridge.sandbox.handlers.contacts import CONTACTS
from ghlbridge.sandbox.paging import sort_entries
from ghlbridge.sandbox.state import Collection
from tests.sandbox.harness import Harness


def _contacts(h: Harness) -> Collection:
    location = h.sb.location(h.sb.location_id)
    assert location is not None
    return location.collection(CONTACTS)


def _seeded(deleted: int = 8) -> tuple[Harness, Collection, list[str]]:
    """30 contacts, `deleted` of them gone again, 5 more: the ids left, oldest first."""
    h = Harness(SandboxSettings(seed=3, demo_records=0))
    contacts = _contacts(h)
    for i in range(30):
        contacts.create({"email": f"p{i}@example.com"})
    for record_id in random.Random(1).sample([r["id"] for r in contacts], deleted):
        contacts.delete(record_id)
    for i in range(5):
        contacts.create({"email": f"late{i}@example.com"})
    return h, contacts, [e.id for e in sort_entries(contacts.entries(list(contacts)))]


def test_collection_keeps_its_paging_keys_in_creation_order() -> None:
    _, contacts, expected = _seeded()
    assert [e.id for e in contacts.ordered()] == expected
    assert contacts.entries() == sort_entries(contacts.entries(list(contacts)))


async def test_list_pages_by_start_after_walk_every_contact_once_in_order() -> None:
    h, _, expected = _seeded()
    params: dict[str, Any] = {"locationId": h.sb.location_id, "limit": 6}
    seen: list[str] = []
    while True:
        body = (await h.call("contacts.get_contacts", params)).json()
        assert body["count"] == len(expected)
        seen.extend(c["id"] for c in body["contacts"])
        meta = body["meta"]
        if meta["startAfterId"] is None:
            break
        params = {**params, "startAfter": meta["startAfter"], "startAfterId": meta["startAfterId"]}
    assert seen == expected


async def test_list_cursor_of_a_deleted_contact_resumes_where_it_stood() -> None:
    h, contacts, expected = _seeded(deleted=0)
    cursor = next(e for e in contacts.ordered() if e.id == expected[9])
    contacts.delete(cursor.id)
    params = {"locationId": h.sb.location_id, "limit": 3}
    after_both = await h.call(
        "contacts.get_contacts", {**params, "startAfter": cursor.sort_ms, "startAfterId": cursor.id}
    )
    assert [c["id"] for c in after_both.json()["contacts"]] == expected[10:13]
    after_id = await h.call("contacts.get_contacts", {**params, "startAfterId": expected[4]})
    assert [c["id"] for c in after_id.json()["contacts"]] == expected[5:8]
    gone = await h.call("contacts.get_contacts", {**params, "startAfterId": cursor.id})
    assert gone.status == 400  # an id alone must name a contact that is there


async def test_search_pages_by_search_after_and_by_page_in_creation_order() -> None:
    h, _, expected = _seeded()
    body: dict[str, Any] = {"locationId": h.sb.location_id, "pageLimit": 7}
    seen: list[str] = []
    while True:
        answer = (await h.call("contacts.search_contacts_advanced", body=body)).json()
        assert answer["total"] == len(expected)
        if not answer["contacts"]:
            break
        seen.extend(c["id"] for c in answer["contacts"])
        body = {**body, "searchAfter": answer["contacts"][-1]["searchAfter"]}
    assert seen == expected
    page_two = await h.call(
        "contacts.search_contacts_advanced",
        body={"locationId": h.sb.location_id, "pageLimit": 7, "page": 2},
    )
    assert [c["id"] for c in page_two.json()["contacts"]] == expected[7:14]
