"""Appointments and block slots (GHL's calendar "events"): book, read, edit, delete, list.

Faithful points: a booking names a calendar and a contact of the location; it must start on
a free slot of the calendar (`free_slots`) unless `ignoreFreeSlotValidation` is set, and
`ignoreDateRange` lifts the scheduling notice and horizon; without an `endTime` it lasts
the calendar's slot duration; `appointmentStatus` starts "confirmed" on auto-confirming
calendars, else "new"; cancelled and invalid appointments free their slot. Times are ISO
8601 in the body and are stored with the location's offset; lists take an epoch-ms window
and return the events overlapping it, by start time. A block slot names a calendar or a
user, not both. `DELETE /calendars/events/{eventId}` deletes either kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ghlbridge.sandbox.errors import bad_request
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.calendar_model import (
    APPOINTMENT_NOTES,
    APPOINTMENTS,
    BLOCK_SLOTS,
    CALENDARS,
    calendar_in,
    event_filter,
    format_time,
    from_ms,
    location_zone,
    minutes,
    ordered,
    overlaps,
    parse_time,
    span_ms,
    to_ms,
)
from ghlbridge.sandbox.handlers.contacts import CONTACTS
from ghlbridge.sandbox.handlers.free_slots import free_slots
from ghlbridge.sandbox.state import LocationState, Record

SLOT_TAKEN = "The slot you have selected is no longer available."
_APPOINTMENT_FIELDS = (
    "title",
    "appointmentStatus",
    "assignedUserId",
    "address",
    "description",
    "meetingLocationType",
    "meetingLocationId",
    "rrule",
)


def _times(
    loc: LocationState, calendar: Record, body: Mapping[str, Any], current: Record | None
) -> tuple[datetime, datetime]:
    tz = location_zone(loc)
    if "startTime" in body or current is None:
        start = parse_time(body.get("startTime"), "startTime", tz)
    else:
        start = datetime.fromisoformat(current["startTime"])
    if "endTime" in body:
        end = parse_time(body.get("endTime"), "endTime", tz)
    elif current is not None and "startTime" not in body:
        end = datetime.fromisoformat(current["endTime"])
    else:
        duration = minutes(calendar.get("slotDuration", 30), calendar.get("slotDurationUnit"))
        end = start + duration
    ordered(start, end)
    return start, end


def _check_slot(
    call: Call, loc: LocationState, calendar: Record, start: datetime, exclude: str | None
) -> None:
    body = call.json
    if body.get("ignoreFreeSlotValidation"):
        return
    ms = to_ms(start)
    free = free_slots(
        loc,
        calendar,
        ms,
        ms,
        call.world.clock.now_ms(),
        exclude=exclude,
        ignore_date_range=bool(body.get("ignoreDateRange")),
    )
    if ms not in free:
        raise bad_request(SLOT_TAKEN)


def _primary_user(calendar: Record) -> str | None:
    members = calendar.get("teamMembers") or []
    primary = next((m for m in members if m.get("isPrimary")), members[0] if members else None)
    return primary.get("userId") if primary else None


def book(
    loc: LocationState,
    calendar: Record,
    contact_id: str,
    start: datetime,
    end: datetime,
    fields: Mapping[str, Any],
) -> Record:
    """Store an appointment (no slot or contact checks: the API handler makes those)."""
    tz = location_zone(loc)
    record: Record = {
        "calendarId": calendar["id"],
        "contactId": contact_id,
        "groupId": calendar.get("groupId") or "",
        "title": fields.get("title") or calendar.get("name") or "Appointment",
        "appointmentStatus": "confirmed" if calendar.get("autoConfirm", True) else "new",
        "startTime": format_time(start, tz),
        "endTime": format_time(end, tz),
        "users": [],
        "notes": "",
        "isRecurring": False,
        "assignedResources": [],
        "createdBy": {"source": "third_party"},
    }
    user = fields.get("assignedUserId") or _primary_user(calendar)
    if user:
        record["assignedUserId"] = user
        record["users"] = [user]
    record.update({k: fields[k] for k in _APPOINTMENT_FIELDS if fields.get(k) is not None})
    if record.get("address") and "meetingLocationType" not in fields:
        record["meetingLocationType"] = "custom"
    record["isRecurring"] = bool(record.get("rrule") and fields.get("ignoreFreeSlotValidation"))
    return loc.collection(APPOINTMENTS).create(record)


def create_appointment(call: Call) -> Reply:
    loc = call.location()
    body = call.json
    calendar = calendar_in(loc, body.get("calendarId"))
    if loc.collection(CONTACTS).get(str(body.get("contactId"))) is None:
        raise bad_request("Contact not found")
    start, end = _times(loc, calendar, body, None)
    _check_slot(call, loc, calendar, start, None)
    return call.ok(book(loc, calendar, str(body["contactId"]), start, end, body))


def _appointment(call: Call) -> tuple[LocationState, Record]:
    return call.find(APPOINTMENTS, call.path_params["eventId"], "Appointment not found")


def get_appointment(call: Call) -> Reply:
    return call.ok({"event": _appointment(call)[1]})


def edit_appointment(call: Call) -> Reply:
    loc, record = _appointment(call)
    body = call.json
    calendar = calendar_in(loc, body.get("calendarId") or record["calendarId"])
    start, end = _times(loc, calendar, body, record)
    tz = location_zone(loc)
    changes: Record = {k: body[k] for k in _APPOINTMENT_FIELDS if body.get(k) is not None}
    changes.update(
        calendarId=calendar["id"],
        groupId=calendar.get("groupId") or "",
        startTime=format_time(start, tz),
        endTime=format_time(end, tz),
    )
    if "assignedUserId" in changes:
        changes["users"] = [changes["assignedUserId"]]
    moved = (changes["startTime"], calendar["id"]) != (record["startTime"], record["calendarId"])
    if moved:
        _check_slot(call, loc, calendar, start, record["id"])
    return call.ok(loc.collection(APPOINTMENTS).update(record["id"], changes))


def delete_event(call: Call) -> Reply:
    """Deletes an appointment (and its notes) or a block slot."""
    event_id = call.path_params["eventId"]
    spec = APPOINTMENTS if call.world.find(APPOINTMENTS, event_id) else BLOCK_SLOTS
    loc, _ = call.find(spec, event_id, "Event not found")
    loc.collection(spec).delete(event_id)
    notes = loc.collection(APPOINTMENT_NOTES)
    for note in notes:
        if note.get("appointmentId") == event_id:
            notes.delete(note["id"])
    return call.ok({"succeeded": True})


def _listed(call: Call, spec: Any) -> Reply:
    loc = call.location()
    start, end, owned = event_filter(loc, call.query)
    events = [r for r in loc.collection(spec) if owned(r) and overlaps(span_ms(r), (start, end))]
    events.sort(key=lambda r: (span_ms(r)[0], r["id"]))
    return call.ok({"events": events})


def list_events(call: Call) -> Reply:
    """GET /calendars/events: appointments overlapping [startTime, endTime] (epoch ms)."""
    return _listed(call, APPOINTMENTS)


# -- block slots --------------------------------------------------------------------------
def _block_fields(loc: LocationState, body: Mapping[str, Any], current: Record | None) -> Record:
    if body.get("calendarId") and body.get("assignedUserId"):
        raise bad_request("Either calendarId or assignedUserId can be set, not both.")
    if body.get("calendarId"):
        calendar_in(loc, body["calendarId"])
    tz = location_zone(loc)
    old = current or {}
    start = parse_time(body.get("startTime", old.get("startTime")), "startTime", tz)
    end = parse_time(body.get("endTime", old.get("endTime")), "endTime", tz)
    ordered(start, end)
    fields: Record = {
        "title": body.get("title") or old.get("title") or "Blocked",
        "startTime": format_time(start, tz),
        "endTime": format_time(end, tz),
    }
    for key in ("calendarId", "assignedUserId"):
        fields[key] = body.get(key) or None
    return fields


def create_block_slot(call: Call) -> Reply:
    loc = call.location()
    return call.ok(loc.collection(BLOCK_SLOTS).create(_block_fields(loc, call.json, None)))


def edit_block_slot(call: Call) -> Reply:
    loc, record = call.find(BLOCK_SLOTS, call.path_params["eventId"], "Event not found")
    fields = _block_fields(loc, call.json, record)
    return call.ok(loc.collection(BLOCK_SLOTS).update(record["id"], fields))


def list_blocked_slots(call: Call) -> Reply:
    """GET /calendars/blocked-slots: block slots overlapping [startTime, endTime] (epoch ms)."""
    return _listed(call, BLOCK_SLOTS)


# -- demo data ----------------------------------------------------------------------------
def seed_appointments(loc: LocationState, count: int) -> None:
    """`count` confirmed appointments at 10:00 on the next weekdays, over the seeded calendars.

    Their contacts are ids only: seeding contacts would change what contact lists hold.
    """
    calendars = list(loc.collection(CALENDARS))
    if not calendars:
        return
    tz = location_zone(loc)
    day = from_ms(loc.clock.now_ms(), tz).date()
    for i in range(count):
        day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        calendar = calendars[i % len(calendars)]
        start = datetime(day.year, day.month, day.day, 10, tzinfo=tz)
        end = start + minutes(calendar.get("slotDuration", 30), calendar.get("slotDurationUnit"))
        book(loc, calendar, loc.new_id(), start, end, {"title": f"Demo appointment {i + 1}"})


HANDLERS: dict[str, Handler] = {
    "calendars.create_appointment": create_appointment,
    "calendars.get_appointment": get_appointment,
    "calendars.edit_appointment": edit_appointment,
    "calendars.delete_event": delete_event,
    "calendars.get_calendar_events": list_events,
    "calendars.create_block_slot": create_block_slot,
    "calendars.edit_block_slot": edit_block_slot,
    "calendars.get_blocked_slots": list_blocked_slots,
}
