"""Webhooks: data changes become GHL events, signed over the raw body, delivered in the
background, retried on 429 only, logged, and dropped per `webhook_fault_rate`."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from ghlbridge.catalog.curated import load_curated
from ghlbridge.client import GHLClient
from ghlbridge.sandbox import Change, Sandbox, SandboxSettings
from ghlbridge.sandbox.handlers import locations
from ghlbridge.sandbox.handlers.contacts import CONTACTS
from ghlbridge.sandbox.testing import ServedSandbox
from ghlbridge.sandbox.webhooks import EVENT_RULES, EventMapper, WebhookKeys
from ghlbridge.sandbox.webhooks.keys import seeded_ed25519
from tests.sandbox.harness import Harness
from tests.sandbox.webhook_receiver import Receiver, verify_signatures

FAST = {"webhook_retry_interval": 0.01}


def _settings(*urls: str, **kw: Any) -> SandboxSettings:
    return SandboxSettings(webhook_urls=urls, **{"seed": 11, **FAST, **kw})


async def test_contact_create_update_and_tag_change_deliver_signed_ghl_events() -> None:
    async with Receiver() as receiver:
        h = Harness(_settings(receiver.url()))
        try:
            loc = h.sb.location_id
            made = await h.call(
                "contacts.create_contact",
                body={"locationId": loc, "firstName": "Ada", "email": "ada@example.com"},
            )
            contact_id = made.json()["contact"]["id"]
            await h.call(
                "contacts.update_contact", {"contactId": contact_id}, {"lastName": "Lovelace"}
            )
            await h.call("contacts.add_tags", {"contactId": contact_id}, {"tags": ["VIP"]})
            assert await h.sb.webhooks.drain(10)
            keys = (await h.request("GET", "/.sandbox/webhook-keys", token=None)).json()
        finally:
            h.sb.close()
    types = [r.json()["type"] for r in receiver.received]
    assert types == ["ContactCreate", "ContactUpdate", "ContactTagUpdate"]
    for received in receiver.received:
        event = received.json()
        assert event["locationId"] == loc and event["id"] == contact_id
        assert uuid.UUID(event["webhookId"])
        assert datetime.fromisoformat(event["timestamp"])
        assert received.headers["content-type"] == "application/json"
        verify_signatures(keys, received.body, received.headers)
        with pytest.raises(InvalidSignature):
            verify_signatures(keys, received.body + b" ", received.headers)
    assert receiver.received[1].json()["lastName"] == "Lovelace"
    assert receiver.received[2].json()["tags"] == ["vip"]
    assert len({r.json()["webhookId"] for r in receiver.received}) == 3
    assert "firstNameLowerCase" not in receiver.received[0].json()  # only documented fields


async def test_a_429_answer_is_retried_until_accepted_and_a_500_is_final() -> None:
    async with Receiver() as receiver:
        receiver.answers = {"/busy": [429, 429], "/broken": [500]}
        sb = Sandbox(_settings(receiver.url("/busy"), receiver.url("/broken")))
        try:
            sb.location().collection(CONTACTS).create({"email": "a@example.com"})
            assert await sb.webhooks.drain(10)
        finally:
            sb.close()
    by_url = {d.url.rsplit("/", 1)[1]: d for d in sb.webhooks.deliveries()}
    busy, broken = by_url["busy"], by_url["broken"]
    assert (busy.status, busy.attempts, busy.responses) == ("delivered", 3, [429, 429, 200])
    assert (broken.status, broken.attempts, broken.responses) == ("failed", 1, [500])
    assert len(receiver.on("/busy")) == 3 and len(receiver.on("/broken")) == 1
    bodies = {r.body for r in receiver.on("/busy")}
    assert len(bodies) == 1  # a retry resends the same event, same webhookId


async def test_429_retries_stop_after_six() -> None:
    async with Receiver() as receiver:
        receiver.answers = {"/hook": [429] * 20}
        sb = Sandbox(_settings(receiver.url()))
        try:
            sb.location().collection(CONTACTS).create({"email": "a@example.com"})
            assert await sb.webhooks.drain(10)
        finally:
            sb.close()
    (delivery,) = sb.webhooks.deliveries()
    assert delivery.status == "failed" and delivery.attempts == 7
    assert delivery.responses == [429] * 7


async def test_webhook_fault_rate_drops_deliveries_deterministically_per_seed() -> None:
    async def dropped_positions(seed: int) -> list[int]:
        async with Receiver() as receiver:
            sb = Sandbox(_settings(receiver.url(), seed=seed, webhook_fault_rate=0.4))
            try:
                for i in range(30):
                    sb.location().collection(CONTACTS).create({"email": f"c{i}@example.com"})
                assert await sb.webhooks.drain(10)
            finally:
                sb.close()
        deliveries = sb.webhooks.deliveries()
        sent = {r.json()["webhookId"] for r in receiver.received}
        dropped = [i for i, d in enumerate(deliveries) if d.status == "dropped"]
        assert all(deliveries[i].webhook_id not in sent for i in dropped)
        assert all(deliveries[i].attempts == 0 for i in dropped)
        assert len(sent) == 30 - len(dropped)
        return dropped

    first = await dropped_positions(11)
    assert 4 <= len(first) <= 20
    assert first == await dropped_positions(11)
    assert first != await dropped_positions(12)


async def test_urls_are_added_and_removed_at_run_time_and_the_log_is_served() -> None:
    async with Receiver() as receiver:
        h = Harness(_settings())
        try:
            added = await h.request(
                "POST",
                "/.sandbox/webhook-urls",
                token=None,
                json_body={"url": receiver.url(), "events": ["ContactCreate"]},
            )
            assert added.status == 200 and added.json()["urls"] == {
                receiver.url(): ["ContactCreate"]
            }
            contacts = h.sb.location().collection(CONTACTS)
            record = contacts.create({"email": "a@example.com"})
            contacts.update(record["id"], {"firstName": "A"})  # ContactUpdate: not wanted
            assert await h.sb.webhooks.drain(10)
            log = (await h.request("GET", "/.sandbox/webhook-deliveries", token=None)).json()
            gone = await h.request(
                "DELETE", "/.sandbox/webhook-urls", token=None, query={"url": receiver.url()}
            )
            assert gone.status == 200 and gone.json()["urls"] == {}
            contacts.create({"email": "b@example.com"})
            assert await h.sb.webhooks.drain(10)
            events = (await h.request("GET", "/.sandbox/webhook-events", token=None)).json()
        finally:
            h.sb.close()
    assert [r.json()["type"] for r in receiver.received] == ["ContactCreate"]
    (row,) = log["deliveries"]
    assert row["status"] == "delivered" and row["attempts"] == 1 and row["responses"] == [200]
    assert row["type"] == "ContactCreate" and row["url"] == receiver.url()
    assert [e["type"] for e in events["events"]] == [
        "ContactCreate",
        "ContactUpdate",
        "ContactCreate",
    ]


def test_bad_webhook_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="webhook_urls"):
        SandboxSettings(webhook_urls=("ftp://x",))
    sb = Sandbox(SandboxSettings())
    with pytest.raises(ValueError, match="http"):
        sb.webhooks.add_url("not a url")


def test_keys_are_the_same_for_a_seed_and_can_be_loaded_from_files(tmp_path: Path) -> None:
    assert WebhookKeys.load(11).public == WebhookKeys.load(11).public
    assert seeded_ed25519(3).public_key() != seeded_ed25519(4).public_key()
    ed_file, rsa_file = tmp_path / "ed.pem", tmp_path / "rsa.pem"
    ed_key = ed25519.Ed25519PrivateKey.generate()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for key, path in ((ed_key, ed_file), (rsa_key, rsa_file)):
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    sb = Sandbox(
        SandboxSettings(webhook_ed25519_key_file=str(ed_file), webhook_rsa_key_file=str(rsa_file))
    )
    public = sb.webhooks.public_keys()
    body = b'{"type":"ContactCreate"}'
    verify_signatures(public.as_json(), body, sb.webhooks.keys.sign(body))
    assert public.rsa == (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(ValueError, match="not an RSA"):
        WebhookKeys.load(0, rsa_file=ed_file)


def test_every_event_the_table_raises_is_a_documented_ghl_event() -> None:
    documented = {e.type for e in load_curated().webhook_events()}
    assert {rule.event for rule in EVENT_RULES} <= documented


def _change(resource: str, action: Any, record: dict[str, Any], previous: Any = None) -> Change:
    return Change(resource, action, "LOC", record, previous)


def _types(change: Change) -> list[str]:
    return [e["type"] for e in EventMapper().events(change)]


def test_contact_updates_raise_the_event_of_what_changed() -> None:
    before = {"id": "c1", "firstName": "A", "tags": [], "dnd": False, "dateUpdated": "1"}
    assert _types(_change("contacts", "update", {**before, "tags": ["x"]}, before)) == [
        "ContactTagUpdate"
    ]
    assert _types(_change("contacts", "update", {**before, "dnd": True}, before)) == [
        "ContactDndUpdate"
    ]
    assert _types(_change("contacts", "update", {**before, "firstName": "B"}, before)) == [
        "ContactUpdate"
    ]
    assert _types(_change("contacts", "update", {**before, "dateUpdated": "2"}, before)) == []
    assert _types(_change("contacts", "delete", before)) == ["ContactDelete"]


def test_opportunity_updates_raise_the_update_and_each_specific_event() -> None:
    before = {"id": "o1", "status": "open", "pipelineStageId": "s1", "monetaryValue": 10}
    after = {**before, "status": "won", "monetaryValue": 20, "assignedTo": "u1"}
    assert sorted(_types(_change("opportunities", "update", after, before))) == [
        "OpportunityAssignedToUpdate",
        "OpportunityMonetaryValueUpdate",
        "OpportunityStatusUpdate",
        "OpportunityUpdate",
    ]
    moved = {**before, "pipelineStageId": "s2"}
    assert sorted(_types(_change("opportunities", "update", moved, before))) == [
        "OpportunityStageUpdate",
        "OpportunityUpdate",
    ]
    (created,) = EventMapper().events(_change("opportunities", "create", after))
    assert created == {"type": "OpportunityCreate", "locationId": "LOC", **after}


def test_notes_tasks_appointments_and_messages_map_to_their_events() -> None:
    note = {"id": "n1", "body": "hi", "contactId": "c1", "userId": "u", "dateAdded": "d"}
    for action, event in (("create", "NoteCreate"), ("delete", "NoteDelete")):
        (payload,) = EventMapper().events(_change("notes", action, note))
        documented = {k: v for k, v in note.items() if k != "userId"}
        assert payload == {"type": event, "locationId": "LOC", **documented}
    task = {"id": "t1", "title": "call", "contactId": "c1", "completed": False}
    assert _types(_change("tasks", "create", task)) == ["TaskCreate"]
    assert _types(_change("tasks", "update", {**task, "completed": True}, task)) == ["TaskComplete"]
    assert _types(_change("tasks", "update", {**task, "title": "x"}, task)) == []
    done = {**task, "completed": True}
    assert _types(_change("tasks", "update", {**task, "completed": False}, done)) == []
    appt = {"id": "a1", "calendarId": "cal", "title": "Demo", "appointmentStatus": "confirmed"}
    (created,) = EventMapper().events(_change("appointments", "create", appt))
    assert created == {"type": "AppointmentCreate", "locationId": "LOC", "appointment": appt}
    moved = {**appt, "title": "Moved"}
    assert _types(_change("appointments", "update", moved, appt)) == ["AppointmentUpdate"]
    message = {"id": "m1", "direction": "inbound", "messageType": "TYPE_SMS", "type": 2}
    (inbound,) = EventMapper().events(_change("messages", "create", message))
    assert inbound["type"] == "InboundMessage" and inbound["messageType"] == "SMS"
    assert inbound["messageId"] == "m1"
    outbound = {**message, "direction": "outbound", "messageType": "TYPE_EMAIL"}
    assert _types(_change("messages", "create", outbound)) == ["OutboundMessage"]


def test_new_locations_raise_location_create_and_installs_raise_install() -> None:
    sb = Sandbox(SandboxSettings(seed=3))
    assert sb.webhooks.events() == []  # the starting location raises nothing
    loc, _ = sb.add_location(name="Second")
    installed = sb.install(loc.id)
    uninstalled = sb.uninstall(loc.id)
    events = sb.webhooks.events()
    assert [e["type"] for e in events] == ["LocationCreate", "INSTALL", "UNINSTALL"]
    assert events[0]["id"] == loc.id and events[0]["name"] == "Second"
    assert events[0]["companyId"] == sb.company_id
    assert installed["appId"] == sb.oauth_client.app_id and installed["locationId"] == loc.id
    assert installed["companyId"] == sb.company_id and installed["installType"] == "Location"
    assert uninstalled == {
        "type": "UNINSTALL",
        "appId": sb.oauth_client.app_id,
        "locationId": loc.id,
        "webhookId": uninstalled["webhookId"],
        "timestamp": uninstalled["timestamp"],
    }
    agency = sb.install(agency=True)
    assert "locationId" not in agency and agency["installType"] == "Company"


def test_a_location_kept_as_a_record_is_announced_once() -> None:
    """The locations module keeps each location's profile as a record, written by a seeder."""
    sb = Sandbox(SandboxSettings(seed=3))
    loc, _ = sb.add_location(name="Third")
    sb.location(loc.id).collection(locations.LOCATIONS).update(loc.id, {"name": "Renamed"})
    events = sb.webhooks.events()
    assert [(e["type"], e["id"], e["name"]) for e in events] == [
        ("LocationCreate", loc.id, "Third"),
        ("LocationUpdate", loc.id, "Renamed"),
    ]


@pytest.mark.parametrize(
    "sandbox_server", [SandboxSettings(seed=11, webhook_retry_interval=0.01)], indirect=True
)
async def test_the_client_over_a_real_socket_triggers_webhooks(
    sandbox_server: ServedSandbox,
) -> None:
    base_url, sb = sandbox_server
    async with Receiver() as receiver:
        sb.webhooks.add_url(receiver.url())
        async with GHLClient(sb.location_token.value, base_url=base_url) as client:
            made = await client.call(
                "contacts.create_contact",
                body={"locationId": sb.location_id, "email": "socket@example.com"},
            )
            await client.call("contacts.delete_contact", {"contactId": made["contact"]["id"]})
        assert await sb.webhooks.drain(10)
    assert [r.json()["type"] for r in receiver.received] == ["ContactCreate", "ContactDelete"]


async def test_install_and_uninstall_can_be_raised_over_http() -> None:
    h = Harness(SandboxSettings(seed=3))
    other, _ = h.sb.add_location(name="Other")
    pair = h.sb.tokens.issue(
        h.sb.oauth_client, company_id=h.sb.company_id, location_id=other.id, scopes=["x"]
    )
    installed = await h.request(
        "POST", "/.sandbox/install", token=None, json_body={"locationId": other.id}
    )
    assert installed.status == 200 and installed.json()["type"] == "INSTALL"
    gone = await h.request(
        "POST", "/.sandbox/uninstall", token=None, json_body={"locationId": other.id}
    )
    assert gone.json()["type"] == "UNINSTALL" and gone.json()["locationId"] == other.id
    assert h.sb.tokens.lookup(pair.access.value) is None  # the app's token is revoked
    missing = await h.request(
        "POST", "/.sandbox/install", token=None, json_body={"locationId": "nope"}
    )
    assert missing.status == 404
