"""Which GHL webhook events a change to the sandbox's data raises, and their payloads.

One table, `EVENT_RULES`, keyed by the `Change`'s resource name, its action and (for updates)
the fields that changed. A resource plugs in with rows here; a change matching no row raises
no event. Payloads are flat JSON in the shape of GHL's webhook-event pages (the appointment's
fields nested under ``appointment``), holding the documented fields the record has; the
delivery adds ``webhookId`` and ``timestamp``.

Update semantics, where GHL's docs leave room: ``ContactUpdate`` ("the specific fields")
fires when a field other than tags and DND changes, as those have events of their own;
``OpportunityUpdate`` ("is updated") fires on every change, next to the specific
Status/Stage/MonetaryValue/AssignedTo events; ``TaskComplete`` when ``completed`` turns true.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ghlbridge.sandbox.state import Change, Record

Action = Literal["create", "update", "delete"]
Payload = dict[str, Any]
Shape = Callable[[Change, str], Payload]
"""Builds an event's payload (without webhookId/timestamp) from a change and the event type."""

_BOOKKEEPING = frozenset({"dateUpdated", "updatedAt", "lastUpdated", "searchAfter"})

CONTACT_FIELDS = (
    "id",
    "address1",
    "city",
    "state",
    "companyName",
    "country",
    "source",
    "dateAdded",
    "dateOfBirth",
    "dnd",
    "email",
    "name",
    "firstName",
    "lastName",
    "phone",
    "postalCode",
    "tags",
    "website",
    "attachments",
    "assignedTo",
    "customFields",
)
NOTE_FIELDS = ("id", "body", "contactId", "dateAdded")
TASK_FIELDS = ("id", "assignedTo", "body", "contactId", "title", "dateAdded", "dueDate")
OPPORTUNITY_FIELDS = (
    "id",
    "assignedTo",
    "contactId",
    "monetaryValue",
    "name",
    "pipelineId",
    "pipelineStageId",
    "source",
    "status",
    "dateAdded",
)
APPOINTMENT_FIELDS = (
    "id",
    "address",
    "title",
    "calendarId",
    "contactId",
    "groupId",
    "appointmentStatus",
    "assignedUserId",
    "users",
    "notes",
    "source",
    "startTime",
    "endTime",
    "dateAdded",
    "dateUpdated",
)
MESSAGE_FIELDS = (
    "attachments",
    "body",
    "contactId",
    "contentType",
    "conversationId",
    "dateAdded",
    "direction",
    "status",
    "userId",
    "conversationProviderId",
    "callDuration",
    "callStatus",
    "emailMessageId",
    "from",
    "to",
    "threadId",
    "subject",
    "source",
)
LOCATION_FIELDS = ("id", "companyId", "name", "email", "stripeProductId")
CONVERSATION_FIELDS = ("id", "contactId", "deleted", "inbox", "starred", "unreadCount")
USER_FIELDS = (
    "id",
    "companyId",
    "firstName",
    "lastName",
    "email",
    "phone",
    "extension",
    "role",
    "permissions",
    "locationIds",
)
RECORD_FIELDS = ("id", "owners", "followers", "properties")

CAMPAIGN_FIELDS = ("id", "contactId", "campaignId", "status", "templateId", "replied", "dateAdded")

_MESSAGE_TYPES = {
    "TYPE_SMS": "SMS",
    "TYPE_CUSTOM_SMS": "SMS",
    "TYPE_CUSTOM_PROVIDER_SMS": "SMS",
    "TYPE_RCS": "RCS",
    "TYPE_EMAIL": "Email",
    "TYPE_CUSTOM_EMAIL": "Email",
    "TYPE_CALL": "CALL",
    "TYPE_IVR_CALL": "CALL",
    "TYPE_CAMPAIGN_CALL": "CALL",
    "TYPE_VOICEMAIL": "Voicemail",
    "TYPE_GMB": "GMB",
    "TYPE_FACEBOOK": "FB",
    "TYPE_INSTAGRAM": "IG",
    "TYPE_WHATSAPP": "WhatsApp",
    "TYPE_TIKTOK": "TikTok",
    "TYPE_LIVE_CHAT": "Live Chat",
    "TYPE_WEBCHAT": "Live Chat",
}
"""The API's message types as GHL's message webhooks name the channel."""


def record_id(record: Mapping[str, Any]) -> Any:
    return record.get("id", record.get("_id"))


_ALIASES = {"id": "_id", "dateAdded": "createdAt", "dateUpdated": "updatedAt"}
"""Where a record keeps a field under another name (Mongo-style ids, createdAt stamps)."""


def _pick(record: Mapping[str, Any], names: Iterable[str]) -> Payload:
    out: Payload = {}
    for name in names:
        if name in record:
            out[name] = record[name]
        elif name in _ALIASES and _ALIASES[name] in record:
            out[name] = record[_ALIASES[name]]
    return out


def flat(names: tuple[str, ...] | None = None) -> Shape:
    """``{type, locationId, ...}`` with the record's `names` (None: all its fields)."""

    def shape(change: Change, event: str) -> Payload:
        record = change.record
        fields = _pick(record, names) if names is not None else dict(record)
        fields.pop("type", None)
        fields.pop("locationId", None)
        return {"type": event, "locationId": change.location_id, **fields}

    return shape


def nested(key: str, names: tuple[str, ...]) -> Shape:
    """``{type, locationId, <key>: {...}}``: GHL nests appointments this way."""

    def shape(change: Change, event: str) -> Payload:
        return {"type": event, "locationId": change.location_id, key: _pick(change.record, names)}

    return shape


def message_shape(change: Change, event: str) -> Payload:
    record = change.record
    kind = record.get("messageType")
    payload: Payload = {"type": event, "locationId": change.location_id}
    payload.update(_pick(record, MESSAGE_FIELDS))
    if isinstance(kind, str):
        payload["messageType"] = _MESSAGE_TYPES.get(kind, kind.removeprefix("TYPE_"))
    if record_id(record) is not None:
        payload["messageId"] = record_id(record)
    return payload


def location_shape(change: Change, event: str) -> Payload:
    """GHL's LocationCreate/Update carry `id`; `locationId` is added so receivers route alike."""
    fields = _pick(change.record, LOCATION_FIELDS)
    return {"type": event, "locationId": fields.get("id", change.location_id), **fields}


def company_shape(names: tuple[str, ...]) -> Shape:
    """Company-level records (users): ``companyId`` instead of ``locationId``."""

    def shape(change: Change, event: str) -> Payload:
        return {"type": event, **_pick(change.record, names)}

    return shape


def changed_fields(change: Change) -> frozenset[str]:
    """Fields whose value differs before and after an update (bookkeeping ignored)."""
    before, after = change.previous or {}, change.record
    keys = set(before) | set(after)
    return frozenset(
        k
        for k in keys
        if k not in _BOOKKEEPING
        and not k.endswith("LowerCase")
        and before.get(k, _MISSING) != after.get(k, _MISSING)
    )


_MISSING = object()


@dataclass(frozen=True, slots=True)
class EventRule:
    """One row of the table: `resource` + `action` (+ changed `fields`) raise `event`.

    For updates, `fields` names the fields whose change raises the event (None: any field
    but those in `ignore`); an update that changes nothing raises nothing. `when` is an
    extra test on the change.
    """

    resource: str
    action: Action
    event: str
    shape: Shape = field(default_factory=flat)
    fields: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    when: Callable[[Change], bool] | None = None

    def matches(self, change: Change, changed: frozenset[str]) -> bool:
        if change.resource != self.resource or change.action != self.action:
            return False
        if self.action == "update":
            relevant = changed & self.fields if self.fields is not None else changed - self.ignore
            if not relevant:
                return False
        return self.when is None or self.when(change)


def _is(field_name: str, *values: Any) -> Callable[[Change], bool]:
    return lambda change: change.record.get(field_name) in values


def _rules(
    resource: str,
    prefix: str,
    shape: Shape,
    actions: Iterable[Action] = ("create", "update", "delete"),
) -> list[EventRule]:
    names = {"create": "Create", "update": "Update", "delete": "Delete"}
    return [EventRule(resource, a, prefix + names[a], shape) for a in actions]


def _invoice_status(event: str, status: str) -> EventRule:
    return EventRule(
        "invoices", "update", event, flat(), frozenset({"status"}), when=_is("status", status)
    )


_contact = flat(CONTACT_FIELDS)
_opportunity = flat(OPPORTUNITY_FIELDS)

EVENT_RULES: tuple[EventRule, ...] = (
    EventRule("contacts", "create", "ContactCreate", _contact),
    EventRule(
        "contacts",
        "update",
        "ContactUpdate",
        _contact,
        ignore=frozenset({"tags", "dnd", "dndSettings"}),
    ),
    EventRule("contacts", "update", "ContactTagUpdate", _contact, fields=frozenset({"tags"})),
    EventRule(
        "contacts",
        "update",
        "ContactDndUpdate",
        flat((*CONTACT_FIELDS, "dndSettings")),
        fields=frozenset({"dnd", "dndSettings"}),
    ),
    EventRule("contacts", "delete", "ContactDelete", _contact),
    *_rules("notes", "Note", flat(NOTE_FIELDS)),
    EventRule("tasks", "create", "TaskCreate", flat(TASK_FIELDS)),
    EventRule(
        "tasks",
        "update",
        "TaskComplete",
        flat(TASK_FIELDS),
        fields=frozenset({"completed"}),
        when=_is("completed", True),
    ),
    EventRule("tasks", "delete", "TaskDelete", flat(TASK_FIELDS)),
    *_rules("opportunities", "Opportunity", _opportunity),
    EventRule(
        "opportunities",
        "update",
        "OpportunityStatusUpdate",
        _opportunity,
        fields=frozenset({"status"}),
    ),
    EventRule(
        "opportunities",
        "update",
        "OpportunityStageUpdate",
        _opportunity,
        fields=frozenset({"pipelineStageId", "pipelineId"}),
    ),
    EventRule(
        "opportunities",
        "update",
        "OpportunityMonetaryValueUpdate",
        _opportunity,
        fields=frozenset({"monetaryValue"}),
    ),
    EventRule(
        "opportunities",
        "update",
        "OpportunityAssignedToUpdate",
        _opportunity,
        fields=frozenset({"assignedTo"}),
    ),
    *_rules("appointments", "Appointment", nested("appointment", APPOINTMENT_FIELDS)),
    EventRule(
        "messages", "create", "InboundMessage", message_shape, when=_is("direction", "inbound")
    ),
    EventRule(
        "messages", "create", "OutboundMessage", message_shape, when=_is("direction", "outbound")
    ),
    EventRule(
        "conversations",
        "update",
        "ConversationUnreadUpdate",
        flat(CONVERSATION_FIELDS),
        fields=frozenset({"unreadCount", "starred", "deleted", "inbox"}),
    ),
    EventRule("campaignEnrollments", "create", "CampaignStatusUpdate", flat(CAMPAIGN_FIELDS)),
    EventRule(
        "campaignEnrollments",
        "update",
        "CampaignStatusUpdate",
        flat(CAMPAIGN_FIELDS),
        fields=frozenset({"status"}),
    ),
    *_rules("locations", "Location", location_shape, ("create", "update")),
    EventRule("users", "create", "UserCreate", company_shape(USER_FIELDS)),
    *_rules("objectRecords", "Record", flat(RECORD_FIELDS)),
    *_rules("businesses", "Record", flat(RECORD_FIELDS)),
    *_rules("objectSchemas", "ObjectSchema", flat(), ("create", "update")),
    *_rules("associations", "Association", flat()),
    *_rules("relations", "Relation", flat(), ("create", "delete")),
    *_rules("products", "Product", flat()),
    *_rules("prices", "Price", flat()),
    *_rules("invoices", "Invoice", flat()),
    _invoice_status("InvoiceSent", "sent"),
    _invoice_status("InvoicePaid", "paid"),
    _invoice_status("InvoicePartiallyPaid", "partially_paid"),
    _invoice_status("InvoiceVoid", "void"),
    EventRule("orders", "create", "OrderCreate", flat()),
    EventRule("orders", "update", "OrderStatusUpdate", flat(), fields=frozenset({"status"})),
)


class EventMapper:
    """Turns changes into event payloads by a rule table (default: `EVENT_RULES`)."""

    def __init__(self, rules: Iterable[EventRule] = EVENT_RULES) -> None:
        self._by_key: dict[tuple[str, str], list[EventRule]] = {}
        for rule in rules:
            self._by_key.setdefault((rule.resource, rule.action), []).append(rule)

    def events(self, change: Change) -> list[Payload]:
        rules = self._by_key.get((change.resource, change.action))
        if not rules:
            return []
        changed = changed_fields(change) if change.action == "update" else frozenset()
        return [r.shape(change, r.event) for r in rules if r.matches(change, changed)]

    def event_types(self) -> set[str]:
        return {r.event for rules in self._by_key.values() for r in rules}


def install_payload(
    *,
    app_id: str,
    company_id: str,
    location_id: str | None,
    user_id: str,
    company_name: str,
    version_id: str,
) -> Payload:
    """GHL's INSTALL: location installs carry locationId and userId, agency ones omit them."""
    payload: Payload = {"type": "INSTALL", "appId": app_id, "versionId": version_id}
    payload["installType"] = "Location" if location_id else "Company"
    if location_id:
        payload["locationId"] = location_id
    payload["companyId"] = company_id
    if location_id:
        payload["userId"] = user_id
    payload.update(
        {
            "companyName": company_name,
            "isWhitelabelCompany": False,
            "whitelabelDetails": {"domain": "", "logoUrl": ""},
        }
    )
    return payload


def uninstall_payload(*, app_id: str, company_id: str, location_id: str | None) -> Payload:
    if location_id:
        return {"type": "UNINSTALL", "appId": app_id, "locationId": location_id}
    return {"type": "UNINSTALL", "appId": app_id, "companyId": company_id}


def location_record(location_id: str, company_id: str, name: str, email: str | None) -> Record:
    return {"id": location_id, "companyId": company_id, "name": name, "email": email}
