"""Conversations and messages are real state: sending opens the contact's conversation,
inbound messages count as unread, a conversation's messages page newest first by
lastMessageId, search pages by startAfterDate, the export by cursor, and each message is a
``messages`` change that webhooks turn into Inbound/OutboundMessage."""

from __future__ import annotations

import json
import time
from typing import Any, cast

import pytest

from ghlbridge.catalog import Catalog
from ghlbridge.catalog.model import Operation
from ghlbridge.catalog.registry import CATALOG_PATH
from ghlbridge.client import ASGITransport, BadRequestError, GHLClient
from ghlbridge.sandbox import Change, Sandbox, SandboxSettings, core, create_app
from ghlbridge.sandbox.handlers import conversations, messages

# The spec types a message's `subType` `object` (its example is "Email"); until the catalog
# generator drops such types, `_strings_typed_as_objects_relaxed` does it for these tests.


def _strings_typed_as_objects_relaxed(node: Any) -> None:
    if isinstance(node, dict):
        scalar = "example" in node and not isinstance(node["example"], dict | list)
        if node.get("type") == "object" and scalar and not node.get("properties"):
            del node["type"]
        for value in node.values():
            _strings_typed_as_objects_relaxed(value)
    elif isinstance(node, list):
        for value in node:
            _strings_typed_as_objects_relaxed(value)


def _catalog() -> Catalog:
    data = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    _strings_typed_as_objects_relaxed(data["operations"])
    return Catalog([Operation.from_dict(op) for op in data["operations"]])


CATALOG = _catalog()


class Inbox:
    """An in-process sandbox with a clock the test moves, and a client on it."""

    def __init__(self) -> None:
        self.now = time.time()
        handlers = {**core.HANDLERS, **conversations.HANDLERS, **messages.HANDLERS}
        self.sb = Sandbox(
            SandboxSettings(seed=7),
            catalog=CATALOG,
            handlers=handlers,
            clock=lambda: self.now,
        )
        self.loc = self.sb.location_id
        self.client = GHLClient(
            self.sb.location_token.value,
            transport=ASGITransport(cast(Any, create_app(sandbox=self.sb))),
            base_url="http://sandbox",
            location_id=self.loc,
            catalog=CATALOG,
        )

    async def call(self, op: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        return await self.client.call(f"conversations.{op}", params, body)

    async def contact(self, **fields: Any) -> str:
        body = {"locationId": self.loc, "firstName": "Ada", "phone": "5550102030", **fields}
        answer = await self.client.call("contacts.create_contact", None, body)
        return str(answer["contact"]["id"])

    async def send(self, contact_id: str, text: str, channel: str = "SMS", **extra: Any) -> Any:
        body = {"type": channel, "subType": channel, "contactId": contact_id, "status": "pending"}
        return await self.call("send_a_new_message", None, {**body, "message": text, **extra})

    async def inbound(self, conversation: str, contact_id: str, text: str) -> Any:
        body = {"type": "SMS", "conversationId": conversation, "contactId": contact_id}
        body |= {"conversationProviderId": "provider1", "message": text}
        return await self.call("add_an_inbound_message", None, body)

    async def search(self, **query: Any) -> Any:
        return await self.call("search_conversation", {"locationId": self.loc, **query})


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


async def test_sent_message_opens_the_conversation_and_is_listed_in_it(inbox: Inbox) -> None:
    contact = await inbox.contact()
    sent = await inbox.send(contact, "Hello Ada")
    assert sent["msg"] == "Message queued successfully." and sent["status"] == "pending"
    listed = await inbox.call("get_messages", {"conversationId": sent["conversationId"]})
    assert listed["nextPage"] is False and listed["lastMessageId"] == sent["messageId"]
    [message] = listed["messages"]
    assert message["id"] == sent["messageId"]
    assert message["direction"] == "outbound" and message["messageType"] == "TYPE_SMS"
    assert message["type"] == 2 and message["body"] == "Hello Ada"
    assert message["contactId"] == contact and message["source"] == "api"
    assert await inbox.call("get_message", {"id": sent["messageId"]}) == message
    again = await inbox.send(contact, "Second")
    assert again["conversationId"] == sent["conversationId"]  # one thread per contact
    conversation = await inbox.call("get_conversation", {"conversationId": again["conversationId"]})
    assert conversation["lastMessageBody"] == "Second" and conversation["type"] == 1
    assert conversation["fullName"] == "Ada" and conversation["phone"] == "+15550102030"


async def test_inbound_message_is_unread_until_the_conversation_is_updated(inbox: Inbox) -> None:
    contact = await inbox.contact()
    conversation = (await inbox.send(contact, "Hi"))["conversationId"]
    added = await inbox.inbound(conversation, contact, "Hi back")
    assert added["success"] is True and added["conversationId"] == conversation
    newest = (await inbox.call("get_messages", {"conversationId": conversation}))["messages"][0]
    assert newest["id"] == added["messageId"] and newest["direction"] == "inbound"
    unread = await inbox.search(status="unread")
    assert [c["id"] for c in unread["conversations"]] == [conversation]
    assert unread["conversations"][0]["unreadCount"] == 1
    assert unread["conversations"][0]["lastMessageDirection"] == "inbound"
    body = {"locationId": inbox.loc, "unreadCount": 0}
    await inbox.call("update_conversation", {"conversationId": conversation}, body)
    assert (await inbox.search(status="unread"))["total"] == 0
    assert (await inbox.search(status="read"))["total"] == 1


async def test_each_message_is_announced_as_a_messages_change(inbox: Inbox) -> None:
    changes: list[Change] = []
    inbox.sb.world.subscribe(lambda c: changes.append(c) if c.resource == "messages" else None)
    contact = await inbox.contact()
    conversation = (await inbox.send(contact, "Out"))["conversationId"]
    await inbox.inbound(conversation, contact, "In")
    assert [(c.action, c.record["direction"], c.record["body"]) for c in changes] == [
        ("create", "outbound", "Out"),
        ("create", "inbound", "In"),
    ]
    record = changes[1].record
    assert record["conversationId"] == conversation and record["contactId"] == contact
    assert record["messageType"] == "TYPE_SMS" and changes[1].location_id == inbox.loc


async def test_messages_page_newest_first_by_last_message_id(inbox: Inbox) -> None:
    contact = await inbox.contact()
    conversation = (await inbox.send(contact, "m0"))["conversationId"]
    for i in range(1, 7):
        await inbox.send(contact, f"m{i}")
    first = await inbox.call("get_messages", {"conversationId": conversation, "limit": 4})
    assert [m["body"] for m in first["messages"]] == ["m6", "m5", "m4", "m3"]
    assert first["nextPage"] is True and first["lastMessageId"] == first["messages"][-1]["id"]
    bodies = [
        m["body"]
        async for m in inbox.client.paginate(
            "conversations.get_messages", {"conversationId": conversation}, page_size=3
        )
    ]
    assert bodies == [f"m{i}" for i in range(6, -1, -1)]


async def test_conversation_search_pages_by_start_after_date_and_filters(inbox: Inbox) -> None:
    ids = []
    for i in range(5):
        contact = await inbox.contact(firstName=f"Person{i}", phone=f"555010200{i}")
        ids.append((await inbox.send(contact, f"hello {i}"))["conversationId"])
    found = [
        c["id"]
        async for c in inbox.client.paginate(
            "conversations.search_conversation", {"locationId": inbox.loc}, page_size=2
        )
    ]
    assert found == ids[::-1]  # last message first
    oldest_first = await inbox.search(sort="asc", limit=2)
    assert [c["id"] for c in oldest_first["conversations"]] == ids[:2]
    assert oldest_first["total"] == 5
    by_text = await inbox.search(query="person3")
    assert [c["id"] for c in by_text["conversations"]] == [ids[3]]


async def test_export_pages_every_message_of_the_location_by_cursor(inbox: Inbox) -> None:
    for i in range(3):
        contact = await inbox.contact(firstName=f"P{i}", phone=f"555010300{i}")
        for j in range(5):
            await inbox.send(contact, f"{i}-{j}")
    first = await inbox.call("export_messages_by_location", {"locationId": inbox.loc, "limit": 10})
    assert first["total"] == 15 and len(first["messages"]) == 10 and first["nextCursor"]
    exported = [
        m["body"]
        async for m in inbox.client.paginate(
            "conversations.export_messages_by_location",
            {"locationId": inbox.loc, "sortOrder": "asc"},
            page_size=10,
        )
    ]
    assert exported == [f"{i}-{j}" for i in range(3) for j in range(5)]


async def test_scheduled_message_waits_can_be_cancelled_and_status_updates(inbox: Inbox) -> None:
    contact = await inbox.contact()
    later = await inbox.send(contact, "Later", scheduledTimestamp=int(inbox.now) + 3600)
    assert (await inbox.call("get_message", {"id": later["messageId"]}))["status"] == "scheduled"
    cancelled = await inbox.call("cancel_scheduled_message", {"messageId": later["messageId"]})
    assert cancelled["status"] == 200
    with pytest.raises(BadRequestError, match="Message not found"):
        await inbox.call("get_message", {"id": later["messageId"]})
    soon = await inbox.send(contact, "Soon", scheduledTimestamp=int(inbox.now) + 60)
    inbox.now += 120
    assert (await inbox.call("get_message", {"id": soon["messageId"]}))["status"] == "delivered"
    updated = await inbox.call(
        "update_message_status", {"messageId": soon["messageId"]}, {"status": "read"}
    )
    assert updated["status"] == "read"


async def test_bad_message_requests_answer_ghl_400s(inbox: Inbox) -> None:
    with pytest.raises(BadRequestError, match="Contact not found"):
        await inbox.send("no-such-contact", "Hi")
    silent = await inbox.contact(phone=None, email="ada@example.com")
    with pytest.raises(BadRequestError, match="phone number"):
        await inbox.send(silent, "Hi")
    email = await inbox.send(silent, "Hi", channel="Email", subject="Hello")
    assert email["emailMessageId"]
    with pytest.raises(BadRequestError, match="already exists") as exc:
        await inbox.call(
            "create_conversation", None, {"locationId": inbox.loc, "contactId": silent}
        )
    assert exc.value.body["conversationId"] == email["conversationId"]
    with pytest.raises(BadRequestError, match="Conversation not found"):
        await inbox.inbound("no-such-conversation", silent, "Hi")
