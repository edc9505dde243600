"""A contact's notes: ``/contacts/{contactId}/notes`` list, create, get, update, delete.

A note belongs to one contact (and its location); asking for it under another contact is a
not-found, as in GHL. Notes are listed oldest first.
"""

from __future__ import annotations

from typing import Any

from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.contacts import contact_of
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec

NOTES = ResourceSpec("notes", updated_field=None)
_FIELDS = ("body", "title", "color", "pinned", "userId")


def _changes(call: Call) -> dict[str, Any]:
    return {k: call.json[k] for k in _FIELDS if k in call.json}


def _note(call: Call) -> tuple[LocationState, Record]:
    loc, contact = contact_of(call)
    note = loc.collection(NOTES).get(call.path_params["id"])
    if note is None or note["contactId"] != contact["id"]:
        raise call.not_found("Note not found")
    return loc, note


def list_notes(call: Call) -> Reply:
    loc, contact = contact_of(call)
    notes = [n for n in loc.collection(NOTES) if n["contactId"] == contact["id"]]
    return call.ok({"notes": notes})


def create_note(call: Call) -> Reply:
    loc, contact = contact_of(call)
    note = loc.collection(NOTES).create({**_changes(call), "contactId": contact["id"]})
    return call.ok({"note": note})


def get_note(call: Call) -> Reply:
    return call.ok({"note": _note(call)[1]})


def update_note(call: Call) -> Reply:
    loc, note = _note(call)
    return call.ok({"note": loc.collection(NOTES).update(note["id"], _changes(call))})


def delete_note(call: Call) -> Reply:
    loc, note = _note(call)
    loc.collection(NOTES).delete(note["id"])
    return call.ok({"succeded": True})


HANDLERS: dict[str, Handler] = {
    "contacts.get_all_notes": list_notes,
    "contacts.create_note": create_note,
    "contacts.get_note": get_note,
    "contacts.update_note": update_note,
    "contacts.delete_note": delete_note,
}
