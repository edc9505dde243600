"""What the calendar handlers share: their records' specs, GHL's time formats, look-ups.

GHL's calendar API mixes two time formats: request and record times are ISO 8601 strings
with an offset (``2021-06-23T03:30:00+05:30``), while the event and slot queries take epoch
milliseconds. A calendar's open hours are wall-clock times in the location's time zone: the
`timezone` of the location's profile record (kept by the locations handlers), else UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ghlbridge.sandbox.errors import bad_request, unprocessable
from ghlbridge.sandbox.handlers.contacts import records_named
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec

CALENDARS = ResourceSpec("calendars", created_field=None, updated_field=None)
CALENDAR_GROUPS = ResourceSpec("calendarGroups", created_field=None, updated_field=None)
APPOINTMENTS = ResourceSpec("appointments")
BLOCK_SLOTS = ResourceSpec("blockSlots")
APPOINTMENT_NOTES = ResourceSpec("appointmentNotes", updated_field=None)
CALENDAR_NOTIFICATIONS = ResourceSpec(
    "calendarNotifications", id_field="_id", created_field=None, updated_field=None
)
CALENDAR_RESOURCES = ResourceSpec("calendarResources", created_field=None, updated_field=None)

INACTIVE_STATUSES = frozenset({"cancelled", "invalid"})
"""Appointment statuses that no longer hold their slot."""
_UNIT_MINUTES = {"mins": 1, "hours": 60, "days": 1440, "weeks": 10080, "months": 43200}


def location_profile(loc: LocationState) -> Record:
    """The location's profile record, when the locations handlers keep one (else empty)."""
    profiles = records_named(loc, "locations") or []
    return next((r for r in profiles if r.get("id") == loc.id), {})


def location_zone(loc: LocationState) -> tzinfo:
    """The zone a location's calendars keep their hours in (its profile's, else UTC)."""
    name = location_profile(loc).get("timezone")
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def zone(name: Any, field: str = "timezone") -> tzinfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise unprocessable([f"{field} must be a valid IANA time zone"]) from None


def parse_time(value: Any, field: str, tz: tzinfo) -> datetime:
    """An ISO 8601 body time; one without an offset is wall-clock time in `tz`. 422 if not."""
    if not isinstance(value, str) or not value.strip():
        raise unprocessable([f"{field} should not be empty"])
    try:
        stamp = datetime.fromisoformat(value.strip())
    except ValueError:
        raise unprocessable([f"{field} must be a valid ISO 8601 date string"]) from None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=tz)


def parse_ms(value: Any, field: str) -> int:
    """An epoch-milliseconds query value (GHL sends them as strings). 422 if not."""
    text = str(value).strip() if value is not None else ""
    if not text.isdigit():
        raise unprocessable([f"{field} must be a timestamp in milliseconds"])
    return int(text)


def ordered(
    start: datetime, end: datetime, first: str = "startTime", last: str = "endTime"
) -> None:
    if end <= start:
        raise bad_request(f"{last} must be after {first}")


def to_ms(stamp: datetime) -> int:
    return int(stamp.timestamp() * 1000)


def from_ms(ms: int, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz)


def format_time(stamp: datetime, tz: tzinfo) -> str:
    """GHL's event time: seconds and the zone's offset, ``2023-09-25T16:00:00+05:30``."""
    return stamp.astimezone(tz).isoformat(timespec="seconds")


def span_ms(record: Record) -> tuple[int, int]:
    """An appointment's or block's [start, end) in epoch ms."""
    start = datetime.fromisoformat(str(record["startTime"]))
    end = datetime.fromisoformat(str(record["endTime"]))
    return to_ms(start), to_ms(end)


def minutes(amount: Any, unit: Any, default_unit: str = "mins") -> timedelta:
    """A calendar duration setting (`slotDuration` with `slotDurationUnit`, ...)."""
    if not isinstance(amount, int | float) or isinstance(amount, bool):
        return timedelta(0)
    factor = _UNIT_MINUTES.get(str(unit or default_unit), 1)
    return timedelta(minutes=float(amount) * factor)


def calendar_in(loc: LocationState, calendar_id: Any) -> Record:
    """A calendar of this location by id; GHL's 400 when there is none."""
    found = loc.collection(CALENDARS).get(str(calendar_id)) if calendar_id else None
    if found is None:
        raise bad_request("Calendar not found")
    return found


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def event_filter(loc: LocationState, query: dict[str, Any]) -> tuple[int, int, Any]:
    """The ms window and the owner test shared by the events and blocked-slots lists."""
    start = parse_ms(query.get("startTime"), "startTime")
    end = parse_ms(query.get("endTime"), "endTime")
    if end < start:
        raise bad_request("endTime must be after startTime")
    calendar_id, group_id, user_id = (query.get(k) for k in ("calendarId", "groupId", "userId"))
    if not (calendar_id or group_id or user_id):
        raise unprocessable(["Either of calendarId, userId or groupId is required"])
    in_group: set[str] = set()
    if group_id:
        in_group = {c["id"] for c in loc.collection(CALENDARS) if c.get("groupId") == group_id}

    def owned(record: Record) -> bool:
        if calendar_id and record.get("calendarId") != calendar_id:
            return False
        if group_id and record.get("calendarId") not in in_group:
            return False
        users = [record.get("assignedUserId"), *(record.get("users") or [])]
        return not user_id or user_id in users

    return start, end, owned
