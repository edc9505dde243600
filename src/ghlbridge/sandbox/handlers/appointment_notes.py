"""Appointment notes: ``/calendars/appointments/{appointmentId}/notes``, paged by offset/limit.

A note belongs to one appointment and carries that appointment's contact; deleting the
appointment deletes its notes.
"""

from __future__ import annotations

from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.calendar_model import APPOINTMENT_NOTES, APPOINTMENTS
from ghlbridge.sandbox.paging import window
from ghlbridge.sandbox.state import LocationState, Record


def _appointment(call: Call) -> tuple[LocationState, Record]:
    return call.find(APPOINTMENTS, call.path_params["appointmentId"], "Appointment not found")


def _note(call: Call) -> tuple[LocationState, Record]:
    loc, appointment = _appointment(call)
    note = loc.collection(APPOINTMENT_NOTES).get(call.path_params["noteId"])
    if note is None or note.get("appointmentId") != appointment["id"]:
        raise call.not_found("Note not found")
    return loc, note


def _author(user_id: object) -> Record:
    return {"userId": user_id, "createdBy": {"id": user_id}} if user_id else {}


def create_note(call: Call) -> Reply:
    loc, appointment = _appointment(call)
    fields = {
        "body": call.json["body"],
        "appointmentId": appointment["id"],
        "contactId": appointment.get("contactId"),
        **_author(call.json.get("userId")),
    }
    return call.ok({"note": loc.collection(APPOINTMENT_NOTES).create(fields)})


def list_notes(call: Call) -> Reply:
    loc, appointment = _appointment(call)
    notes = loc.collection(APPOINTMENT_NOTES)
    records = [n for n in notes if n.get("appointmentId") == appointment["id"]]
    entries = notes.entries(records)
    win = window(call.op, call.query, entries)
    by_id = {r["id"]: r for r in records}
    page = [by_id[e.id] for e in entries[win.start : win.end]]
    return call.ok({"notes": page, "hasMore": win.has_more})


def update_note(call: Call) -> Reply:
    loc, note = _note(call)
    fields = {"body": call.json["body"], **_author(call.json.get("userId"))}
    return call.ok({"note": loc.collection(APPOINTMENT_NOTES).update(note["id"], fields)})


def delete_note(call: Call) -> Reply:
    loc, note = _note(call)
    loc.collection(APPOINTMENT_NOTES).delete(note["id"])
    return call.ok({"success": True})


HANDLERS: dict[str, Handler] = {
    "calendars.create_appointment_note": create_note,
    "calendars.get_appointment_notes": list_notes,
    "calendars.update_appointment_note": update_note,
    "calendars.delete_appointment_note": delete_note,
}
