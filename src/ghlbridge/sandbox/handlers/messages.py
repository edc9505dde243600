"""Messages: send, record inbound and outbound (call) messages, read them, update their
status, cancel a scheduled one, and export a location's messages.

Faithful points: sending needs a contact of the location and a channel address (a phone for
SMS, RCS and WhatsApp, an email for Email) and opens the contact's conversation if there is
none; a `scheduledTimestamp` (epoch seconds) ahead makes the message ``scheduled`` until its
time comes. Inbound messages are added to an existing conversation of that contact and count
as unread. A conversation's messages come newest first, paged by ``lastMessageId`` with
``nextPage``, in the spec's flat shape ``{messages, lastMessageId, nextPage}``; the export
pages by an opaque ``cursor`` (``nextCursor``).

Each message is a ``messages`` record: ``direction`` (inbound/outbound), ``messageType``
(``TYPE_SMS`` ...), numeric ``type``, ``contactId``, ``conversationId``, ``body``,
``status``, ``contentType``, ``attachments``, ``source``, ``dateAdded``, and ``meta``
(``email`` for Email, ``callStatus``/``callDuration`` for calls).
"""

from __future__ import annotations

from typing import Any

from ghlbridge.sandbox.errors import bad_request, unprocessable
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.contacts import CONTACTS
from ghlbridge.sandbox.handlers.conversations import (
    CONVERSATIONS,
    MESSAGES,
    add_message,
    find_conversation,
    start_conversation,
)
from ghlbridge.sandbox.handlers.dates import to_ms
from ghlbridge.sandbox.paging import Entry, window
from ghlbridge.sandbox.state import LocationState, Record

CHANNEL_TYPES = {
    "SMS": "TYPE_SMS",
    "RCS": "TYPE_RCS",
    "Email": "TYPE_EMAIL",
    "WhatsApp": "TYPE_WHATSAPP",
    "IG": "TYPE_INSTAGRAM",
    "FB": "TYPE_FACEBOOK",
    "Custom": "TYPE_CUSTOM_PROVIDER_SMS",
    "Live_Chat": "TYPE_LIVE_CHAT",
    "TIKTOK": "TYPE_TIKTOK",
    "GMB": "TYPE_GMB",
    "WebChat": "TYPE_WEBCHAT",
    "Call": "TYPE_CALL",
    "IVR_Call": "TYPE_IVR_CALL",
    "Campaign_Call": "TYPE_CAMPAIGN_CALL",
    "Campaign_VoiceMail": "TYPE_CAMPAIGN_VOICEMAIL",
    "ALL_IN_ONE_CHAT": "TYPE_LIVE_CHAT",
    "FORM_SUBMISSION": "TYPE_FORM_SUBMISSION",
}
EXPORT_CHANNELS = {
    "Call": "TYPE_CALL",
    "SMS": "TYPE_SMS",
    "Email": "TYPE_EMAIL",
    "WhatsApp": "TYPE_WHATSAPP",
    "Instagram": "TYPE_INSTAGRAM",
    "Facebook": "TYPE_FACEBOOK",
}
_PHONE_CHANNELS = frozenset({"SMS", "RCS", "WhatsApp"})
_CONVERSATION_KIND = {"Email": "TYPE_EMAIL", "FB": "TYPE_FB_MESSENGER"}
_NOT_FOUND = "Message not found"


def settle_messages(loc: LocationState, now_ms: int) -> None:
    """Send the scheduled messages whose time has come (the sandbox has no scheduler)."""
    messages = loc.collection(MESSAGES)
    for message in messages:
        due = message.get("scheduledAt")
        if message.get("status") == "scheduled" and isinstance(due, int) and due <= now_ms:
            messages.update(message["id"], {"status": "delivered"})


def _content(call: Call, loc: LocationState, channel: str) -> dict[str, Any]:
    """Body, content type, attachments and channel meta of a message request."""
    body = call.json
    text, html = body.get("message"), body.get("html")
    fields: dict[str, Any] = {
        "body": html or text or "",
        "contentType": "text/html" if html else "text/plain",
        "attachments": list(body.get("attachments") or []),
    }
    if channel == "Email":
        fields["meta"] = {
            "email": {
                "subject": body.get("subject") or "",
                "messageIds": [loc.new_id()],
            }
        }
    if isinstance(body.get("call"), dict):
        fields["meta"] = {"callStatus": body["call"].get("status") or "completed"}
    for name in ("conversationProviderId", "altId", "userId"):
        if body.get(name):
            fields[name] = body[name]
    return fields


def _address_check(channel: str, contact: Record, body: dict[str, Any]) -> None:
    if channel in _PHONE_CHANNELS and not (body.get("toNumber") or contact.get("phone")):
        raise bad_request("Contact does not have a phone number")
    if channel == "Email" and not (body.get("emailTo") or contact.get("email")):
        raise bad_request("Contact does not have an email address")
    if channel == "Custom" and not body.get("conversationProviderId"):
        raise bad_request("conversationProviderId is required for Custom messages")


def _message_reply(call: Call, record: Record) -> Reply:
    out: dict[str, Any] = {
        "conversationId": record["conversationId"],
        "messageId": record["id"],
        "msg": "Message queued successfully.",
        "status": "pending" if record["status"] == "scheduled" else record["status"],
    }
    email = (record.get("meta") or {}).get("email")
    if email:
        out["emailMessageId"] = email["messageIds"][0]
    return call.ok(out)


def send_message(call: Call) -> Reply:
    """POST /conversations/messages: an outbound message, in the contact's conversation."""
    loc = call.location()
    body = call.json
    channel = str(body["type"])
    contact = loc.collection(CONTACTS).get(str(body["contactId"]))
    if contact is None:
        raise bad_request("Contact not found")
    _address_check(channel, contact, body)
    content = _content(call, loc, channel)
    if not content["body"] and not content["attachments"]:
        raise unprocessable(["message or attachments should not be empty"])
    now = loc.clock.now_ms()
    status = str(body.get("status") or "pending")
    due = body.get("scheduledTimestamp")
    scheduled_at = int(float(due) * 1000) if isinstance(due, int | float) else None
    if scheduled_at is not None and scheduled_at > now:
        content["scheduledAt"], status = scheduled_at, "scheduled"
    conversation = find_conversation(loc, contact["id"]) or start_conversation(
        loc, contact["id"], _CONVERSATION_KIND.get(channel, "TYPE_PHONE")
    )
    record = add_message(
        loc,
        conversation,
        {
            **content,
            "direction": "outbound",
            "messageType": CHANNEL_TYPES[channel],
            "status": status,
            "source": "api",
        },
        unread=False,
    )
    return _message_reply(call, record)


def _logged(call: Call, direction: str) -> Reply:
    """A message of another system recorded into an existing conversation."""
    conversation_id = str(call.json["conversationId"])
    loc, conversation = call.find(CONVERSATIONS, conversation_id, "Conversation not found")
    contact_id = call.json.get("contactId")
    if conversation["deleted"]:
        raise bad_request("Conversation not found")
    if contact_id not in (None, conversation["contactId"]):
        raise bad_request("contactId does not match the conversation's contact")
    channel = str(call.json["type"])
    record = add_message(
        loc,
        conversation,
        {
            **_content(call, loc, channel),
            "direction": direction,
            "messageType": CHANNEL_TYPES.get(channel, "TYPE_CUSTOM_SMS"),
            "status": "delivered",
        },
        unread=direction == "inbound",
    )
    out: dict[str, Any] = {
        "success": True,
        "conversationId": conversation["id"],
        "messageId": record["id"],
        "message": "Message added successfully",
        "contactId": conversation["contactId"],
        "dateAdded": record["dateAdded"],
    }
    email = (record.get("meta") or {}).get("email")
    if email:
        out["emailMessageId"] = email["messageIds"][0]
    return call.ok(out)


def add_inbound(call: Call) -> Reply:
    return _logged(call, "inbound")


def add_outbound_call(call: Call) -> Reply:
    return _logged(call, "outbound")


def _message(call: Call, name: str) -> tuple[LocationState, Record]:
    loc, record = call.find(MESSAGES, call.path_params[name], _NOT_FOUND)
    settle_messages(loc, loc.clock.now_ms())
    return loc, record


def _shown(record: Record) -> Record:
    return {k: v for k, v in record.items() if k != "scheduledAt"}


def get_message(call: Call) -> Reply:
    return call.ok(_shown(_message(call, "id")[1]))


def list_messages(call: Call) -> Reply:
    """GET /conversations/{id}/messages: newest first, paged by lastMessageId."""
    loc, conversation = call.find(
        CONVERSATIONS, call.path_params["conversationId"], "Conversation not found"
    )
    settle_messages(loc, loc.clock.now_ms())
    messages = loc.collection(MESSAGES)
    types = {t for t in str(call.query.get("type") or "").split(",") if t}
    rows = [
        m
        for m in messages
        if m["conversationId"] == conversation["id"] and (not types or m["messageType"] in types)
    ]
    entries = list(reversed(messages.entries(rows)))
    win = window(call.op, call.query, entries)
    by_id = {m["id"]: m for m in rows}
    page = [_shown(by_id[e.id]) for e in entries[win.start : win.end]]
    return call.ok(
        {
            "lastMessageId": page[-1]["id"] if page else None,
            "nextPage": win.has_more,
            "messages": page,
        }
    )


def update_status(call: Call) -> Reply:
    """PUT .../status: a conversation provider reports delivery of an outbound message."""
    loc, record = _message(call, "messageId")
    if record["direction"] != "outbound":
        raise bad_request("Only the status of outbound messages can be updated")
    fields: dict[str, Any] = {"status": call.json["status"]}
    if isinstance(call.json.get("error"), dict):
        fields["error"] = call.json["error"]
    record = loc.collection(MESSAGES).update(record["id"], fields)
    return _message_reply(call, record)


def cancel_scheduled(call: Call) -> Reply:
    loc, record = _message(call, "messageId")
    if record.get("status") != "scheduled":
        raise bad_request("Only a scheduled message can be cancelled")
    loc.collection(MESSAGES).delete(record["id"])
    return call.ok({"status": 200, "message": "Scheduled message cancelled"})


def export_messages(call: Call) -> Reply:
    """GET /conversations/messages/export: every message of the location, cursor-paged."""
    loc = call.location()
    settle_messages(loc, loc.clock.now_ms())
    q = call.query
    messages = loc.collection(MESSAGES)
    channel = EXPORT_CHANNELS.get(str(q.get("channel") or ""))
    start, end = to_ms(q.get("startDate")), to_ms(q.get("endDate"))
    field = "dateUpdated" if q.get("sortBy") == "updatedAt" else "dateAdded"

    def keep(m: Record) -> bool:
        at = to_ms(m.get("dateAdded")) or 0
        return (
            all(q.get(k) in (None, "", m[k]) for k in ("conversationId", "contactId"))
            and (channel is None or m["messageType"] == channel)
            and (start is None or at >= start)
            and (end is None or at <= end)
        )

    rows = sorted(
        (m for m in messages if keep(m)),
        key=lambda m: (to_ms(m.get(field)) or 0, m["id"]),
        reverse=q.get("sortOrder", "desc") != "asc",
    )
    entries = [Entry(m["id"], i) for i, m in enumerate(rows)]
    win = window(call.op, q, entries)
    out: dict[str, Any] = {
        "messages": [_shown(m) for m in rows[win.start : win.end]],
        "total": win.total,
    }
    out["nextCursor"] = rows[win.end - 1]["id"] if win.has_more else None
    return call.ok(out)


HANDLERS: dict[str, Handler] = {
    "conversations.send_a_new_message": send_message,
    "conversations.add_an_inbound_message": add_inbound,
    "conversations.add_an_outbound_message": add_outbound_call,
    "conversations.get_message": get_message,
    "conversations.get_messages": list_messages,
    "conversations.update_message_status": update_status,
    "conversations.cancel_scheduled_message": cancel_scheduled,
    "conversations.export_messages_by_location": export_messages,
}
