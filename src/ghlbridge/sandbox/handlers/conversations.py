"""Conversations: create, get, update, delete and ``GET /conversations/search``.

A conversation is one contact's thread in a location (GHL keeps one per contact: creating a
second answers 400 with the existing id). Its ``lastMessage*`` fields and unread count follow
the messages `add_message` records (see `messages` for the message endpoints); the contact's
name, email and phone are read from the contact when answering.

Search filters by contact, assignee, text (contact name, email, phone, last message), status
(``read``/``unread``/``starred``; ``all`` and ``recents`` keep all), last message type,
direction and action, and a last-message date range; it sorts by last message date, newest
first unless ``sort=asc``, and pages by ``startAfterDate``: the sort value of the last
conversation seen, which each item also carries as ``sort: [value]``. Score-profile
filters and followers/mentions are not interpreted.
"""

from __future__ import annotations

from typing import Any

from ghlbridge.sandbox.errors import bad_request
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.contacts import CONTACTS
from ghlbridge.sandbox.handlers.dates import to_ms
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec, iso

CONVERSATIONS = ResourceSpec("conversations")
MESSAGES = ResourceSpec("messages")

CONVERSATION_TYPES = (
    "TYPE_PHONE",
    "TYPE_EMAIL",
    "TYPE_FB_MESSENGER",
    "TYPE_REVIEW",
    "TYPE_GROUP_SMS",
)
MESSAGE_TYPES = (
    "TYPE_CALL", "TYPE_SMS", "TYPE_EMAIL", "TYPE_SMS_REVIEW_REQUEST", "TYPE_WEBCHAT",
    "TYPE_SMS_NO_SHOW_REQUEST", "TYPE_CAMPAIGN_SMS", "TYPE_CAMPAIGN_CALL", "TYPE_CAMPAIGN_EMAIL",
    "TYPE_CAMPAIGN_VOICEMAIL", "TYPE_FACEBOOK", "TYPE_CAMPAIGN_FACEBOOK",
    "TYPE_CAMPAIGN_MANUAL_CALL", "TYPE_CAMPAIGN_MANUAL_SMS", "TYPE_GMB", "TYPE_CAMPAIGN_GMB",
    "TYPE_REVIEW", "TYPE_INSTAGRAM", "TYPE_WHATSAPP", "TYPE_CUSTOM_SMS", "TYPE_CUSTOM_EMAIL",
    "TYPE_CUSTOM_PROVIDER_SMS", "TYPE_CUSTOM_PROVIDER_EMAIL", "TYPE_IVR_CALL",
    "TYPE_ACTIVITY_CONTACT", "TYPE_ACTIVITY_INVOICE", "TYPE_ACTIVITY_PAYMENT",
    "TYPE_ACTIVITY_OPPORTUNITY", "TYPE_LIVE_CHAT", "TYPE_LIVE_CHAT_INFO_MESSAGE",
    "TYPE_ACTIVITY_APPOINTMENT", "TYPE_FACEBOOK_COMMENT", "TYPE_INSTAGRAM_COMMENT",
    "TYPE_CUSTOM_CALL", "TYPE_INTERNAL_COMMENT", "TYPE_ACTIVITY_EMPLOYEE_ACTION_LOG",
    "TYPE_TIKTOK", "TYPE_TIKTOK_COMMENT", "TYPE_ACTIVITY_WHATSAPP", "TYPE_FORM_SUBMISSION",
    "TYPE_SMS_REACTION", "TYPE_RCS",
)  # fmt: skip
"""GHL's message types in the order of their numeric `type` (1-based)."""
AUTOMATED_SOURCES = frozenset({"workflow", "bulk_actions", "campaign"})
_INTERNAL = ("lastMessageSource", "lastManualMessageDate")
"""Kept for filters and sorting; GHL's answers do not show them."""
_NOT_FOUND = "Conversation not found"


def message_type_number(message_type: str) -> int:
    return MESSAGE_TYPES.index(message_type) + 1 if message_type in MESSAGE_TYPES else 0


def find_conversation(loc: LocationState, contact_id: str) -> Record | None:
    return loc.collection(CONVERSATIONS).find(
        lambda r: r["contactId"] == contact_id and not r["deleted"]
    )


def start_conversation(loc: LocationState, contact_id: str, kind: str = "TYPE_PHONE") -> Record:
    """A new, empty thread for a contact (callers check there is none yet)."""
    return loc.collection(CONVERSATIONS).create(
        {
            "contactId": contact_id,
            "type": kind,
            "deleted": False,
            "inbox": True,
            "starred": False,
            "unreadCount": 0,
            "lastMessageBody": None,
            "lastMessageType": None,
            "lastMessageDirection": None,
            "lastMessageSource": None,
            "lastMessageDate": loc.clock.now_ms(),  # sorts a new thread by its creation
            "lastManualMessageDate": None,
        }
    )


def add_message(
    loc: LocationState, conversation: Record, fields: dict[str, Any], *, unread: bool
) -> Record:
    """Store one message of a conversation and move the conversation's last-message fields."""
    message_type = str(fields.get("messageType") or "TYPE_SMS")
    record = loc.collection(MESSAGES).create(
        {
            "conversationId": conversation["id"],
            "contactId": conversation["contactId"],
            "type": message_type_number(message_type),
            "attachments": [],
            "contentType": "text/plain",
            **fields,
        }
    )
    at = to_ms(record["dateAdded"]) or 0
    changes: dict[str, Any] = {
        "lastMessageBody": record.get("body") or "",
        "lastMessageType": message_type,
        "lastMessageDirection": record["direction"],
        "lastMessageSource": record.get("source"),
        "lastMessageDate": at,
        "inbox": True,
    }
    if record.get("source") not in AUTOMATED_SOURCES:
        changes["lastManualMessageDate"] = at
    if unread:
        changes["unreadCount"] = int(conversation.get("unreadCount") or 0) + 1
    loc.collection(CONVERSATIONS).update(conversation["id"], changes)
    return record


def _contact_fields(loc: LocationState, contact_id: str) -> dict[str, Any]:
    contact = loc.collection(CONTACTS).get(contact_id) or {}
    name = contact.get("name") or " ".join(
        p for p in (contact.get("firstName"), contact.get("lastName")) if p
    )
    return {
        "contactName": name or contact.get("companyName") or "",
        "fullName": name or "",
        "email": contact.get("email") or "",
        "phone": contact.get("phone") or "",
    }


def _public(record: Record) -> Record:
    """A conversation as GHL shows it: unset fields (no assignee, no message yet) left out."""
    return {k: v for k, v in record.items() if k not in _INTERNAL and v is not None}


def _conversation(call: Call) -> tuple[LocationState, Record]:
    loc, record = call.find(CONVERSATIONS, call.path_params["conversationId"], _NOT_FOUND)
    if record["deleted"]:
        raise call.not_found(_NOT_FOUND)
    return loc, record


def create_conversation(call: Call) -> Reply:
    loc = call.location()
    contact_id = str(call.json["contactId"])
    if contact_id not in loc.collection(CONTACTS):
        raise bad_request("Contact not found")
    existing = find_conversation(loc, contact_id)
    if existing is not None:
        raise bad_request("Conversation already exists", extra={"conversationId": existing["id"]})
    record = start_conversation(loc, contact_id)
    return call.ok(
        {
            "success": True,
            "conversation": {
                "id": record["id"],
                "locationId": loc.id,
                "contactId": contact_id,
                "deleted": False,
                "dateAdded": record["dateAdded"],
                "dateUpdated": record["dateUpdated"],
                "lastMessageDate": iso(record["lastMessageDate"]),
            },
        }
    )


def get_conversation(call: Call) -> Reply:
    loc, record = _conversation(call)
    return call.ok(
        {
            **_public(record),
            **_contact_fields(loc, record["contactId"]),
            "type": CONVERSATION_TYPES.index(record["type"]) + 1,
        }
    )


def update_conversation(call: Call) -> Reply:
    loc, record = _conversation(call)
    fields: dict[str, Any] = {
        k: call.json[k] for k in ("starred", "unreadCount", "feedback") if k in call.json
    }
    if "unreadCount" in fields:
        fields["unreadCount"] = max(int(fields["unreadCount"]), 0)
    record = loc.collection(CONVERSATIONS).update(record["id"], fields)
    shown = {**_public(record), "lastMessageDate": str(record["lastMessageDate"])}
    return call.ok({"success": True, "conversation": shown})


def delete_conversation(call: Call) -> Reply:
    """Deletes the thread and its messages."""
    loc, record = _conversation(call)
    messages = loc.collection(MESSAGES)
    for message in messages:
        if message["conversationId"] == record["id"]:
            messages.delete(message["id"])
    loc.collection(CONVERSATIONS).delete(record["id"])
    return call.ok({"success": True})


def _sort_value(record: Record, sort_by: str) -> int:
    if sort_by == "last_manual_message_date":
        return int(record.get("lastManualMessageDate") or 0)
    return int(record.get("lastMessageDate") or 0)


def _matches(record: Record, shown: dict[str, Any], q: dict[str, Any]) -> bool:
    """Whether a conversation passes the search's filters (`shown` adds the contact fields)."""
    status = q.get("status") or "all"
    exact = {
        "id": record["id"],
        "contactId": record["contactId"],
        "assignedTo": record.get("assignedTo"),
        "lastMessageType": record.get("lastMessageType"),
        "lastMessageDirection": record.get("lastMessageDirection"),
    }
    if any(q.get(k) not in (None, "") and q[k] != v for k, v in exact.items()):
        return False
    action = q.get("lastMessageAction")
    if action and (record.get("lastMessageSource") in AUTOMATED_SOURCES) != (action == "automated"):
        return False
    if (
        (status == "read" and record["unreadCount"] > 0)
        or (status == "unread" and record["unreadCount"] == 0)
        or (status == "starred" and not record.get("starred"))
    ):
        return False
    at = int(record.get("lastMessageDate") or 0)
    start, end = to_ms(q.get("startDate")), to_ms(q.get("endDate"))
    if (start is not None and at < start) or (end is not None and at > end):
        return False
    text = str(q.get("query") or "").strip().lower()
    searched = (shown["contactName"], shown["email"], shown["phone"], record.get("lastMessageBody"))
    return not text or any(text in str(v or "").lower() for v in searched)


def search_conversations(call: Call) -> Reply:
    loc = call.location()
    q = call.query
    sort_by = str(q.get("sortBy") or "last_message_date")
    descending = q.get("sort") != "asc"
    rows: list[tuple[int, dict[str, Any]]] = []
    for record in loc.collection(CONVERSATIONS):
        if record["deleted"]:
            continue
        shown = {**_public(record), **_contact_fields(loc, record["contactId"])}
        if _matches(record, shown, q):
            value = _sort_value(record, sort_by)
            rows.append((value, {**shown, "sort": [value]}))
    rows.sort(key=lambda r: (r[0], r[1]["id"]), reverse=descending)
    after = to_ms(q.get("startAfterDate"))
    if q.get("startAfterDate") not in (None, "") and after is None:
        raise bad_request("startAfterDate must be the sort value of the last conversation seen")
    rest = [
        item
        for value, item in rows
        if after is None or (value < after if descending else value > after)
    ]
    limit = max(int(q.get("limit") or 20), 1)
    return call.ok({"conversations": rest[:limit], "total": len(rows)})


HANDLERS: dict[str, Handler] = {
    "conversations.create_conversation": create_conversation,
    "conversations.get_conversation": get_conversation,
    "conversations.update_conversation": update_conversation,
    "conversations.delete_conversation": delete_conversation,
    "conversations.search_conversation": search_conversations,
}
