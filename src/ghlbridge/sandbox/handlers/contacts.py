"""Contacts: create, get, update, delete, upsert, list, tags (one contact or in bulk),
followers, business links, a contact's appointments, and search (its filter language is in
contact_search.py). Notes and tasks are in notes.py and tasks.py, campaign and workflow
enrolment in enrollments.py.

Faithful points: tags are stored lower-case and de-duplicated, and `tags` in a create,
update or upsert body replaces the contact's tags (the spec says so); phones are stored in
E.164; with the location's "Allow Duplicate Contact" off (GHL's default), a create that
matches an existing email or phone is refused with GHL's 400, and an upsert updates the
match, email first, then phone (and ignores a phone that belongs to another contact).
`customFields` name fields by id or key and are stored as ``[{id, value}]``; an update or
upsert changes only the fields it names (custom_fields.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ghlbridge.sandbox.errors import bad_request, unprocessable
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers import contact_search
from ghlbridge.sandbox.handlers.businesses import find_business
from ghlbridge.sandbox.handlers.custom_fields import merge_values, resolve_values
from ghlbridge.sandbox.handlers.location_tags import register_tags, tag_name
from ghlbridge.sandbox.paging import window
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec

CONTACTS = ResourceSpec("contacts")
APPOINTMENTS = "appointments"
"""The resource name the calendars handlers keep appointments under (each with `contactId`)."""
_CONTROL_FIELDS = frozenset({"locationId", "createNewIfDuplicateAllowed"})
_SEARCHED = ("name", "firstName", "lastName", "email", "phone", "companyName")
_NOT_FOUND = "Contact not found"


def normalize_phone(value: Any) -> str | None:
    """E.164 as GHL stores it; a 10-digit number is taken as North American (+1)."""
    if not isinstance(value, str) or not value.strip():
        return None
    digits = re.sub(r"\D", "", value)
    if not digits:
        return None
    if len(digits) == 10 and not value.strip().startswith("+"):
        digits = "1" + digits
    return "+" + digits


def normalize_tags(tags: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for tag in tags:
        name = tag_name(tag)
        if name and name not in out:
            out.append(name)
    return out


def _fields(call: Call, loc: LocationState) -> dict[str, Any]:
    """The writable contact fields of the body: those the op's body schema declares."""
    declared = (call.op.body.schema.get("properties") or {}) if call.op.body else {}
    out = {k: v for k, v in call.json.items() if k in declared and k not in _CONTROL_FIELDS}
    if "phone" in out:
        out["phone"] = normalize_phone(out["phone"])
    if isinstance(out.get("email"), str):
        out["email"] = out["email"].strip() or None
    if "tags" in out:
        out["tags"] = normalize_tags(out["tags"] or [])
    if "customFields" in out:
        out["customFields"] = resolve_values(loc, out["customFields"] or [])
    return out


def _derived(current: Record, fields: dict[str, Any]) -> dict[str, Any]:
    """The fields GHL computes for `current` with `fields` applied: `name` from first and last
    name, and lower-case copies (None where the source is empty)."""
    merged = {**current, **fields}
    out: dict[str, Any] = {}
    if "name" not in fields and ("firstName" in fields or "lastName" in fields):
        parts = (merged.get("firstName"), merged.get("lastName"))
        out["name"] = " ".join(p for p in parts if p) or None
    sources = {
        "firstNameLowerCase": merged.get("firstName"),
        "lastNameLowerCase": merged.get("lastName"),
        "fullNameLowerCase": out.get("name", merged.get("name")),
        "emailLowerCase": merged.get("email"),
    }
    for key, value in sources.items():
        out[key] = value.lower() if isinstance(value, str) and value else None
    return out


def find_duplicate(
    loc: LocationState, email: Any, phone: Any, *, exclude: str | None = None
) -> tuple[Record, str] | None:
    """The contact that an email (first) or phone (second) already belongs to."""
    contacts = loc.collection(CONTACTS)
    if isinstance(email, str) and email:
        wanted = email.strip().lower()
        hit = contacts.find(lambda r: r.get("emailLowerCase") == wanted and r["id"] != exclude)
        if hit is not None:
            return hit, "email"
    if isinstance(phone, str) and phone:
        hit = contacts.find(lambda r: r.get("phone") == phone and r["id"] != exclude)
        if hit is not None:
            return hit, "phone"
    return None


def _refuse_duplicate(loc: LocationState, fields: dict[str, Any], exclude: str | None) -> None:
    if loc.allow_duplicate_contacts:
        return
    dup = find_duplicate(loc, fields.get("email"), fields.get("phone"), exclude=exclude)
    if dup is not None:
        record, matched = dup
        raise bad_request(
            "This location does not allow duplicated contacts.",
            extra={
                "meta": {
                    "contactName": record.get("name"),
                    "contactId": record["id"],
                    "matchingField": matched,
                }
            },
        )


def _create(loc: LocationState, fields: dict[str, Any]) -> Record:
    fields = {"tags": [], "dnd": False, "customFields": [], "type": "lead", **fields}
    fields["customFields"] = merge_values([], fields["customFields"])
    derived = {k: v for k, v in _derived({}, fields).items() if v is not None}
    record = loc.collection(CONTACTS).create({**fields, **derived})
    register_tags(loc, record["tags"])
    return record


def _update(loc: LocationState, record: Record, fields: dict[str, Any]) -> Record:
    """Apply `fields` (custom fields merged into the contact's) and the fields they derive,
    announced as one change."""
    if "customFields" in fields:
        current = record.get("customFields") or []
        fields = {**fields, "customFields": merge_values(current, fields["customFields"])}
    derived = {k: v for k, v in _derived(record, fields).items() if v is not None or k in record}
    updated = loc.collection(CONTACTS).update(record["id"], {**fields, **derived})
    register_tags(loc, updated.get("tags") or [])
    return updated


def contact_of(call: Call) -> tuple[LocationState, Record]:
    """The contact the path names, with its location; 403 or not-found as GHL answers."""
    return call.find(CONTACTS, call.path_params["contactId"], _NOT_FOUND)


def create_contact(call: Call) -> Reply:
    loc = call.location()
    fields = _fields(call, loc)
    _refuse_duplicate(loc, fields, None)
    return call.ok({"contact": _create(loc, fields)})


def get_contact(call: Call) -> Reply:
    return call.ok({"contact": contact_of(call)[1]})


def update_contact(call: Call) -> Reply:
    loc, record = contact_of(call)
    fields = _fields(call, loc)
    _refuse_duplicate(loc, fields, record["id"])
    return call.ok({"succeded": True, "contact": _update(loc, record, fields)})


def delete_contact(call: Call) -> Reply:
    loc, record = contact_of(call)
    loc.collection(CONTACTS).delete(record["id"])
    return call.ok({"succeded": True})


def upsert_contact(call: Call) -> Reply:
    loc = call.location()
    fields = _fields(call, loc)
    allow_new = bool(call.json.get("createNewIfDuplicateAllowed")) and loc.allow_duplicate_contacts
    match = None if allow_new else find_duplicate(loc, fields.get("email"), fields.get("phone"))
    if match is None:
        record, new = _create(loc, fields), True
    else:
        other = find_duplicate(loc, None, fields.get("phone"), exclude=match[0]["id"])
        if match[1] == "email" and other is not None:
            del fields["phone"]  # GHL ignores the second field rather than duplicate it
        record, new = _update(loc, match[0], fields), False
    return call.ok({"new": new, "contact": record, "traceId": call.trace_id()})


def matching(contacts: Iterable[Record], query: Any) -> list[Record]:
    """The contacts whose name, email, phone or company contains the `query` text."""
    text = str(query or "").strip().lower()
    return [
        r
        for r in contacts
        if not text or any(text in str(r.get(f) or "").lower() for f in _SEARCHED)
    ]


def _has_text(query: Any) -> bool:
    """Whether `matching` would filter by `query` at all."""
    return bool(str(query or "").strip())


def list_contacts(call: Call) -> Reply:
    """GET /contacts/: oldest first, paged by startAfter (ms) + startAfterId, with GHL's meta.

    Without a `query` text the page is found in the collection's kept order by bisection,
    O(log n + page), not by sorting every contact."""
    contacts = call.location().collection(CONTACTS)
    text = call.query.get("query")
    if not _has_text(text):
        ordered = contacts.ordered()
        win = window(call.op, call.query, ordered, next_url=call.url, query=call.query)
        page = [r for e in ordered[win.start : win.end] if (r := contacts.get(e.id)) is not None]
        return call.ok({"contacts": page, "count": win.total, "meta": win.meta})
    records = matching(contacts, text)
    entries = contacts.entries(records)
    win = window(call.op, call.query, entries, next_url=call.url, query=call.query)
    by_id = {r["id"]: r for r in records}
    page = [by_id[e.id] for e in entries[win.start : win.end]]
    return call.ok({"contacts": page, "count": win.total, "meta": win.meta})


def search_contacts(call: Call) -> Reply:
    """POST /contacts/search: `query` text, `filters`, `sort`, and `pageLimit` with `page` or
    `searchAfter` (each contact carries its marker for the next request); see contact_search."""
    loc = call.location()
    contacts = loc.collection(CONTACTS)
    text = call.json.get("query")
    records = matching(contacts, text) if _has_text(text) else None
    rows, total = contact_search.search(loc, contacts, records, call.json)
    return call.ok({"contacts": rows, "total": total})


def get_duplicate(call: Call) -> Reply:
    loc = call.location()
    phone = normalize_phone(call.query.get("number"))
    found = find_duplicate(loc, call.query.get("email"), phone)
    return call.ok({"contact": found[0] if found else None})


def add_tags(call: Call) -> Reply:
    loc, record = contact_of(call)
    tags = normalize_tags([*(record.get("tags") or []), *call.json["tags"]])
    return call.ok({"tags": _update(loc, record, {"tags": tags})["tags"]})


def remove_tags(call: Call) -> Reply:
    loc, record = contact_of(call)
    gone = set(normalize_tags(call.json["tags"]))
    tags = [t for t in record.get("tags") or [] if t not in gone]
    return call.ok({"tags": _update(loc, record, {"tags": tags})["tags"]})


def _set_tags(loc: LocationState, record: Record, tags: list[str]) -> Record:
    """Write `tags` unless they are what the contact has (no change, no announcement)."""
    return record if tags == record.get("tags") else _update(loc, record, {"tags": tags})


def bulk_update_tags(call: Call) -> Reply:
    """POST /contacts/bulk/tags/update/{type}: add or remove tags on many contacts at once."""
    kind = call.path_params["type"]
    if kind not in ("add", "remove"):
        raise unprocessable(["type must be one of the following values: add, remove"])
    loc = call.location()
    body = call.json
    tags = normalize_tags(body["tags"])
    responses: list[str] = []
    for contact_id in dict.fromkeys(str(c) for c in body["contacts"]):
        record = loc.collection(CONTACTS).get(contact_id)
        if record is None:
            responses.append(f"{contact_id}: {_NOT_FOUND}")
            continue
        current = [] if body.get("removeAllTags") else list(record.get("tags") or [])
        if kind == "add":
            new = normalize_tags([*current, *tags])
        else:
            new = [t for t in current if t not in tags]
        _set_tags(loc, record, new)
    errors = len(responses)
    return call.ok({"succeded": errors == 0, "errorCount": errors, "responses": responses})


def add_followers(call: Call) -> Reply:
    loc, record = contact_of(call)
    current = [str(f) for f in record.get("followers") or []]
    added = [f for f in dict.fromkeys(str(f) for f in call.json["followers"]) if f not in current]
    if added:
        record = _update(loc, record, {"followers": [*current, *added]})
    return call.ok({"followers": record.get("followers") or [], "followersAdded": added})


def remove_followers(call: Call) -> Reply:
    loc, record = contact_of(call)
    current = [str(f) for f in record.get("followers") or []]
    gone = {str(f) for f in call.json["followers"]}
    removed = [f for f in current if f in gone]
    if removed:
        record = _update(loc, record, {"followers": [f for f in current if f not in gone]})
    return call.ok({"followers": record.get("followers") or [], "followersRemoved": removed})


def link_business(call: Call) -> Reply:
    """POST /contacts/bulk/business: set (or, with a null businessId, clear) many contacts'
    business; answers the ids of the contacts it found."""
    loc = call.location()
    business_id = call.json.get("businessId")
    if business_id is not None and find_business(loc, str(business_id)) is None:
        raise call.not_found("Business not found")
    done: list[str] = []
    for contact_id in dict.fromkeys(str(c) for c in call.json["ids"]):
        record = loc.collection(CONTACTS).get(contact_id)
        if record is None:
            continue
        if record.get("businessId") != business_id:
            _update(loc, record, {"businessId": business_id})
        done.append(contact_id)
    return call.ok({"success": True, "ids": done})


def contacts_of_business(call: Call) -> Reply:
    """GET /contacts/business/{businessId}: the business's contacts, skip/limit, oldest first."""
    contacts = call.location().collection(CONTACTS)
    business_id = call.path_params["businessId"]
    records = matching(
        (r for r in contacts if r.get("businessId") == business_id), call.query.get("query")
    )
    entries = contacts.entries(records)
    win = window(call.op, call.query, entries)
    by_id = {r["id"]: r for r in records}
    page = [by_id[e.id] for e in entries[win.start : win.end]]
    return call.ok({"contacts": page, "count": win.total})


def records_named(loc: LocationState, name: str) -> list[Record] | None:
    """The records of a resource another module owns, read by its name alone; None when no
    module has declared it in this location.

    Declaring its `ResourceSpec` here would fix the spec before its owner does (a second,
    different declaration is an error), so this only reads a collection that exists.
    """
    collection = loc._collections.get(name)
    return list(collection) if collection is not None else None


def contact_appointments(call: Call) -> Reply:
    loc, record = contact_of(call)
    appointments = records_named(loc, APPOINTMENTS) or []
    events = [a for a in appointments if a.get("contactId") == record["id"]]
    return call.ok({"events": events})


HANDLERS: dict[str, Handler] = {
    "contacts.create_contact": create_contact,
    "contacts.get_contact": get_contact,
    "contacts.update_contact": update_contact,
    "contacts.delete_contact": delete_contact,
    "contacts.upsert_contact": upsert_contact,
    "contacts.get_contacts": list_contacts,
    "contacts.search_contacts_advanced": search_contacts,
    "contacts.get_duplicate_contact": get_duplicate,
    "contacts.add_tags": add_tags,
    "contacts.remove_tags": remove_tags,
    "contacts.create_association": bulk_update_tags,
    "contacts.add_followers_contact": add_followers,
    "contacts.remove_followers_contact": remove_followers,
    "contacts.add_remove_contact_from_business": link_business,
    "contacts.get_contacts_by_business_id": contacts_of_business,
    "contacts.get_appointments_for_contact": contact_appointments,
}
