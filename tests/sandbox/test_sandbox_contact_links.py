"""What a contact is linked to is real state: followers, campaign and workflow enrolment,
its business, and its appointments (read from the calendars' collection by name)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from ghlbridge.client import ASGITransport, BadRequestError, GHLClient
from ghlbridge.sandbox import Change, RateLimit, ResourceSpec, Sandbox, SandboxSettings, create_app
from ghlbridge.sandbox.handlers import HANDLERS, businesses, contacts, enrollments
from ghlbridge.sandbox.handlers.campaigns import add_campaign
from ghlbridge.sandbox.handlers.workflows import add_workflow

BASE = "http://sandbox"


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    handlers = {**HANDLERS, **contacts.HANDLERS, **enrollments.HANDLERS, **businesses.HANDLERS}
    box = Sandbox(SandboxSettings(seed=19, rate_limit=RateLimit(100_000, 10.0)), handlers=handlers)
    yield box
    box.close()


@pytest.fixture
def client(sb: Sandbox) -> GHLClient:
    transport = ASGITransport(cast(Any, create_app(sandbox=sb)))
    return GHLClient(
        sb.location_token.value, transport=transport, base_url=BASE, location_id=sb.location_id
    )


async def _contact(client: GHLClient, **fields: Any) -> str:
    return str((await client.call("contacts.create_contact", body=fields))["contact"]["id"])


async def test_followers_are_added_once_and_removed(client: GHLClient) -> None:
    ref = {"contactId": await _contact(client, firstName="F")}
    added = await client.call("contacts.add_followers_contact", ref, {"followers": ["u1", "u2"]})
    assert added == {"followers": ["u1", "u2"], "followersAdded": ["u1", "u2"]}
    again = await client.call("contacts.add_followers_contact", ref, {"followers": ["u2", "u3"]})
    assert again == {"followers": ["u1", "u2", "u3"], "followersAdded": ["u3"]}
    removed = await client.call(
        "contacts.remove_followers_contact", ref, {"followers": ["u1", "nobody"]}
    )
    assert removed == {"followers": ["u2", "u3"], "followersRemoved": ["u1"]}
    got = await client.call("contacts.get_contact", ref)
    assert got["contact"]["followers"] == ["u2", "u3"]


async def test_campaign_enrolment_is_recorded_and_removed(sb: Sandbox, client: GHLClient) -> None:
    changes: list[Change] = []
    sb.world.subscribe(changes.append)
    contact_id = await _contact(client, firstName="C")
    loc = sb.location()
    camp1, camp2 = add_campaign(loc, "One")["id"], add_campaign(loc, "Two")["id"]
    for campaign in (camp1, camp2, camp1):
        ref = {"contactId": contact_id, "campaignId": campaign}
        assert await client.call("contacts.add_contact_to_campaign", ref) == {"succeded": True}
    assert enrollments.contact_campaigns(loc, contact_id) == [camp1, camp2]
    await client.call(
        "contacts.remove_contact_from_campaign", {"contactId": contact_id, "campaignId": camp1}
    )
    assert enrollments.contact_campaigns(loc, contact_id) == [camp2]
    await client.call("contacts.remove_contact_from_every_campaign", {"contactId": contact_id})
    assert enrollments.contact_campaigns(loc, contact_id) == []
    kinds = [c.action for c in changes if c.resource == "campaignEnrollments"]
    assert kinds == ["create", "create", "delete", "delete"]


async def test_workflow_enrolment_is_recorded_with_its_start_time(
    sb: Sandbox, client: GHLClient
) -> None:
    contact_id = await _contact(client, firstName="W")
    loc = sb.location()
    workflow_id = add_workflow(loc, "Nurture")["id"]
    ref = {"contactId": contact_id, "workflowId": workflow_id}
    start = "2030-06-23T03:30:00+01:00"
    added = await client.call("contacts.add_contact_to_workflow", ref, {"eventStartTime": start})
    assert added == {"succeded": True}
    assert enrollments.contact_workflows(loc, contact_id) == [workflow_id]
    record = next(iter(loc.collection(enrollments.WORKFLOW_ENROLLMENTS)))
    assert record["eventStartTime"] == start and record["status"] == "active"
    await client.call("contacts.delete_contact_from_workflow", ref, {})
    assert enrollments.contact_workflows(loc, contact_id) == []


async def test_enrolment_checks_ids_against_the_locations_campaigns_and_workflows(
    sb: Sandbox, client: GHLClient
) -> None:
    loc = sb.location()
    workflow = add_workflow(loc, "Nurture")
    campaign = add_campaign(loc, "Welcome")
    contact_id = await _contact(client, firstName="V")
    await client.call(
        "contacts.add_contact_to_workflow", {"contactId": contact_id, "workflowId": workflow["id"]}
    )
    await client.call(
        "contacts.add_contact_to_campaign", {"contactId": contact_id, "campaignId": campaign["id"]}
    )
    with pytest.raises(BadRequestError, match="Workflow not found"):
        await client.call(
            "contacts.add_contact_to_workflow", {"contactId": contact_id, "workflowId": "nope"}
        )
    with pytest.raises(BadRequestError, match="Campaign not found"):
        await client.call(
            "contacts.add_contact_to_campaign", {"contactId": contact_id, "campaignId": "nope"}
        )
    assert enrollments.contact_workflows(loc, contact_id) == [workflow["id"]]


async def test_enrolling_an_unknown_contact_is_refused(client: GHLClient) -> None:
    with pytest.raises(BadRequestError, match="Contact not found"):
        await client.call(
            "contacts.add_contact_to_campaign", {"contactId": "missing", "campaignId": "c"}
        )


async def test_business_links_set_clear_and_list_contacts(client: GHLClient) -> None:
    made = await client.call("businesses.create_business", body={"name": "Acme"})
    business_id = made["buiseness"]["id"]
    ids = [await _contact(client, firstName=f"B{i}", email=f"b{i}@example.com") for i in range(5)]
    linked = await client.call(
        "contacts.add_remove_contact_from_business",
        body={"businessId": business_id, "ids": [*ids[:4], "missing"]},
    )
    assert linked == {"success": True, "ids": ids[:4]}
    got = await client.call("contacts.get_contact", {"contactId": ids[0]})
    assert got["contact"]["businessId"] == business_id
    params = {"businessId": business_id, "limit": 3}
    pages = [
        await client.call("contacts.get_contacts_by_business_id", {**params, "skip": skip})
        for skip in (0, 3)
    ]
    assert [p["count"] for p in pages] == [4, 4]
    assert [c["id"] for p in pages for c in p["contacts"]] == ids[:4]
    with pytest.raises(BadRequestError, match="Business not found"):
        await client.call(
            "contacts.add_remove_contact_from_business", body={"businessId": "nope", "ids": ids}
        )


async def test_a_null_business_id_unlinks_contacts(client: GHLClient) -> None:
    made = await client.call("businesses.create_business", body={"name": "Initech"})
    business_id = made["buiseness"]["id"]
    ids = [await _contact(client, firstName=f"U{i}") for i in range(3)]
    link = "contacts.add_remove_contact_from_business"
    await client.call(link, body={"businessId": business_id, "ids": ids})
    await client.call(link, body={"businessId": None, "ids": ids[:2]})
    left = await client.call("contacts.get_contacts_by_business_id", {"businessId": business_id})
    assert [c["id"] for c in left["contacts"]] == ids[2:]


async def test_contact_appointments_come_from_the_appointments_collection(
    sb: Sandbox, client: GHLClient
) -> None:
    contact_id = await _contact(client, firstName="A")
    other = await _contact(client, firstName="O")
    ref = {"contactId": contact_id}
    assert await client.call("contacts.get_appointments_for_contact", ref) == {"events": []}
    # what the calendars handlers store, under the resource name the two modules share
    booked = sb.location().collection(ResourceSpec("appointments"))
    mine = booked.create({"contactId": contact_id, "title": "Demo", "calendarId": "cal"})
    booked.create({"contactId": other, "title": "Other", "calendarId": "cal"})
    answer = await client.call("contacts.get_appointments_for_contact", ref)
    assert answer == {"events": [mine]}
