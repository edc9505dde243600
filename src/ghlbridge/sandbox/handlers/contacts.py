"""Contacts: create, get, update, delete, upsert, list and search with paging, tags, duplicates.

Faithful points: tags are stored lower-case and de-duplicated, and `tags` in a create,
update or upsert body replaces the contact's tags (the spec says so); phones are stored in
E.164; with the location's "Allow Duplicate Contact" off (GHL's default), a create that
matches an existing email or phone is refused with GHL's 400, and an upsert updates the
match, email first, then phone (and ignores a phone that belongs to another contact).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ghlbridge.sandbox.errors import bad_request
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.location_tags import register_tags, tag_name
from ghlbridge.sandbox.paging import window
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec

CONTACTS = ResourceSpec("contacts")
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


def _fields(call: Call) -> dict[str, Any]:
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
        out["customFields"] = [
            {"id": f.get("id") or f.get("key"), "value": f.get("field_value", f.get("value"))}
            for f in out["customFields"] or []
            if isinstance(f, dict)
        ]
    return out


def _derive(record: Record, fields: dict[str, Any]) -> None:
    """The fields GHL computes: `name` from first and last name, lower-case copies."""
    first, last = record.get("firstName"), record.get("lastName")
    if "name" not in fields and ("firstName" in fields or "lastName" in fields):
        record["name"] = " ".join(p for p in (first, last) if p) or None
    sources = {
        "firstNameLowerCase": first,
        "lastNameLowerCase": last,
        "fullNameLowerCase": record.get("name"),
        "emailLowerCase": record.get("email"),
    }
    for key, value in sources.items():
        if isinstance(value, str) and value:
            record[key] = value.lower()
        else:
            record.pop(key, None)


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
    record = loc.collection(CONTACTS).create(fields)
    _derive(record, fields)
    register_tags(loc, record["tags"])
    return record


def _update(loc: LocationState, record: Record, fields: dict[str, Any]) -> Record:
    updated = loc.collection(CONTACTS).update(record["id"], fields)
    _derive(updated, fields)
    register_tags(loc, updated.get("tags") or [])
    return updated


def _contact(call: Call) -> tuple[LocationState, Record]:
    return call.find(CONTACTS, call.path_params["contactId"], _NOT_FOUND)


def create_contact(call: Call) -> Reply:
    loc = call.location()
    fields = _fields(call)
    _refuse_duplicate(loc, fields, None)
    return call.ok({"contact": _create(loc, fields)})


def get_contact(call: Call) -> Reply:
    return call.ok({"contact": _contact(call)[1]})


def update_contact(call: Call) -> Reply:
    loc, record = _contact(call)
    fields = _fields(call)
    _refuse_duplicate(loc, fields, record["id"])
    return call.ok({"succeded": True, "contact": _update(loc, record, fields)})


def delete_contact(call: Call) -> Reply:
    loc, record = _contact(call)
    loc.collection(CONTACTS).delete(record["id"])
    return call.ok({"succeded": True})


def upsert_contact(call: Call) -> Reply:
    loc = call.location()
    fields = _fields(call)
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


def _matching(contacts: Iterable[Record], query: Any) -> list[Record]:
    text = str(query or "").strip().lower()
    return [
        r
        for r in contacts
        if not text or any(text in str(r.get(f) or "").lower() for f in _SEARCHED)
    ]


def list_contacts(call: Call) -> Reply:
    """GET /contacts/: oldest first, paged by startAfter (ms) + startAfterId, with GHL's meta."""
    contacts = call.location().collection(CONTACTS)
    records = _matching(contacts, call.query.get("query"))
    entries = contacts.entries(records)
    win = window(call.op, call.query, entries, next_url=call.url, query=call.query)
    by_id = {r["id"]: r for r in records}
    page = [by_id[e.id] for e in entries[win.start : win.end]]
    return call.ok({"contacts": page, "count": win.total, "meta": win.meta})


def search_contacts(call: Call) -> Reply:
    """POST /contacts/search: `query` text, `pageLimit` with `page` or `searchAfter`.

    Each contact carries its `searchAfter` marker ([creation ms, id]) for the next request.
    The `filters` DSL is not interpreted yet: filters are ignored.
    """
    contacts = call.location().collection(CONTACTS)
    records = _matching(contacts, call.json.get("query"))
    entries = contacts.entries(records)
    win = window(call.op, call.json, entries)
    by_id = {r["id"]: r for r in records}
    page = [{**by_id[e.id], "searchAfter": [e.sort_ms, e.id]} for e in entries[win.start : win.end]]
    return call.ok({"contacts": page, "total": win.total})


def get_duplicate(call: Call) -> Reply:
    loc = call.location()
    phone = normalize_phone(call.query.get("number"))
    found = find_duplicate(loc, call.query.get("email"), phone)
    return call.ok({"contact": found[0] if found else None})


def add_tags(call: Call) -> Reply:
    loc, record = _contact(call)
    tags = normalize_tags([*(record.get("tags") or []), *call.json["tags"]])
    return call.ok({"tags": _update(loc, record, {"tags": tags})["tags"]})


def remove_tags(call: Call) -> Reply:
    loc, record = _contact(call)
    gone = set(normalize_tags(call.json["tags"]))
    tags = [t for t in record.get("tags") or [] if t not in gone]
    return call.ok({"tags": _update(loc, record, {"tags": tags})["tags"]})


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
}
