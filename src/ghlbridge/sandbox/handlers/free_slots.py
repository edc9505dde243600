"""Free slots: ``GET /calendars/{calendarId}/free-slots``, and the check a booking must pass.

A calendar offers slots of `slotDuration` every `slotInterval` inside its open hours (per
weekday, 0 = Sunday) or its custom `availabilities` (per date; `availabilityType` 1 uses
only these, 0 only open hours, unset lets a date's custom hours replace its open hours).
A slot is free when it starts in the asked window, after now plus the minimum scheduling
notice (`allowBookingAfter`) and within the booking horizon (`allowBookingFor`), overlaps no
block slot of the calendar or of its team members, and, with the pre- and post-buffers
around it, overlaps fewer than `appoinmentPerSlot` active appointments (and the day holds
fewer than `appoinmentPerDay`). The answer is keyed by date in the asked time zone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from ghlbridge.sandbox.errors import bad_request
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.calendar_model import (
    APPOINTMENTS,
    BLOCK_SLOTS,
    CALENDARS,
    INACTIVE_STATUSES,
    format_time,
    from_ms,
    location_zone,
    minutes,
    overlaps,
    span_ms,
    to_ms,
    zone,
)
from ghlbridge.sandbox.state import LocationState, Record

MAX_RANGE = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class SlotRules:
    """A calendar's booking settings, in milliseconds."""

    duration: int
    interval: int
    pre: int
    post: int
    per_slot: int
    per_day: int | None
    notice: int
    horizon: int | None

    @classmethod
    def of(cls, calendar: Record) -> SlotRules:
        def ms(amount: str, unit: str, default: Any = None) -> int:
            value = calendar.get(amount, default)
            return int(minutes(value, calendar.get(unit)).total_seconds() * 1000)

        duration = ms("slotDuration", "slotDurationUnit", 30) or 30 * 60_000
        horizon = ms("allowBookingFor", "allowBookingForUnit")
        per_day = calendar.get("appoinmentPerDay")
        return cls(
            duration=duration,
            interval=ms("slotInterval", "slotIntervalUnit") or duration,
            pre=ms("preBuffer", "preBufferUnit"),
            post=ms("slotBuffer", "slotBufferUnit"),
            per_slot=max(int(calendar.get("appoinmentPerSlot") or 1), 1),
            per_day=int(per_day) if isinstance(per_day, int | float) and per_day > 0 else None,
            notice=ms("allowBookingAfter", "allowBookingAfterUnit"),
            horizon=horizon or None,
        )


def _hours_for(calendar: Record, day: date) -> list[dict[str, Any]]:
    custom = [
        hour
        for entry in calendar.get("availabilities") or []
        if not entry.get("deleted") and str(entry.get("date", ""))[:10] == day.isoformat()
        for hour in entry.get("hours") or []
    ]
    weekday = (day.weekday() + 1) % 7  # GHL counts from Sunday = 0
    standard = [
        hour
        for entry in calendar.get("openHours") or []
        if weekday in (entry.get("daysOfTheWeek") or [])
        for hour in entry.get("hours") or []
    ]
    kind = calendar.get("availabilityType")
    if kind == 1:
        return custom
    if kind == 0:
        return standard
    has_custom_day = any(
        not e.get("deleted") and str(e.get("date", ""))[:10] == day.isoformat()
        for e in calendar.get("availabilities") or []
    )
    return custom if has_custom_day else standard


def _slot_starts(calendar: Record, day: date, tz: tzinfo, rules: SlotRules) -> Iterator[int]:
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
    for hour in _hours_for(calendar, day):
        opens = midnight + timedelta(hours=hour["openHour"], minutes=hour["openMinute"])
        closes = midnight + timedelta(hours=hour["closeHour"], minutes=hour["closeMinute"])
        start, end = to_ms(opens), to_ms(closes)
        while start + rules.duration <= end:
            yield start
            start += rules.interval


def _busy(
    loc: LocationState,
    calendar: Record,
    users: Collection[str] | None,
    exclude: str | None,
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Spans of the calendar's active appointments and of the blocks that apply to it."""
    booked = [
        span_ms(a)
        for a in loc.collection(APPOINTMENTS)
        if a.get("calendarId") == calendar["id"]
        and a.get("appointmentStatus") not in INACTIVE_STATUSES
        and a["id"] != exclude
        and (not users or a.get("assignedUserId") in users)
    ]
    members = {m.get("userId") for m in calendar.get("teamMembers") or []}
    blocked = [
        span_ms(b)
        for b in loc.collection(BLOCK_SLOTS)
        if b.get("calendarId") == calendar["id"]
        or (b.get("assignedUserId") and b.get("assignedUserId") in (users or members))
    ]
    return booked, blocked


def free_slots(
    loc: LocationState,
    calendar: Record,
    start_ms: int,
    end_ms: int,
    now_ms: int,
    *,
    users: Collection[str] | None = None,
    exclude: str | None = None,
    ignore_date_range: bool = False,
) -> list[int]:
    """Start times (epoch ms, ascending) of the calendar's free slots in [start_ms, end_ms]."""
    tz = location_zone(loc)
    rules = SlotRules.of(calendar)
    booked, blocked = _busy(loc, calendar, users, exclude)
    earliest = start_ms if ignore_date_range else max(start_ms, now_ms + rules.notice)
    latest = end_ms
    if rules.horizon and not ignore_date_range:
        latest = min(latest, now_ms + rules.horizon)
    day = from_ms(start_ms, tz).date() - timedelta(days=1)
    last_day = from_ms(end_ms, tz).date()
    out: list[int] = []
    while day <= last_day:
        taken_today = 0
        if rules.per_day:
            midnight = to_ms(datetime(day.year, day.month, day.day, tzinfo=tz))
            today = (midnight, midnight + 86_400_000)
            taken_today = sum(1 for span in booked if overlaps(span, today))
        for start in _slot_starts(calendar, day, tz, rules):
            if not earliest <= start <= latest:
                continue
            if rules.per_day and taken_today >= rules.per_day:
                break
            slot = (start, start + rules.duration)
            padded = (start - rules.pre, start + rules.duration + rules.post)
            if any(overlaps(slot, b) for b in blocked):
                continue
            if sum(1 for span in booked if overlaps(padded, span)) >= rules.per_slot:
                continue
            out.append(start)
        day += timedelta(days=1)
    return sorted(set(out))


def get_slots(call: Call) -> Reply:
    loc, calendar = call.find(CALENDARS, call.path_params["calendarId"], "Calendar not found")
    start, end = int(call.query["startDate"]), int(call.query["endDate"])
    if end < start:
        raise bad_request("endDate must be after startDate")
    if end - start > MAX_RANGE.total_seconds() * 1000:
        raise bad_request("Date range cannot be more than 31 days")
    out_zone = zone(call.query["timezone"]) if call.query.get("timezone") else location_zone(loc)
    users = [str(u) for u in call.query.get("userIds") or []]
    if call.query.get("userId"):
        users.append(str(call.query["userId"]))
    now = call.world.clock.now_ms()
    body: dict[str, Any] = {}
    for slot in free_slots(loc, calendar, start, end, now, users=users or None):
        stamp = from_ms(slot, out_zone)
        body.setdefault(stamp.date().isoformat(), {"slots": []})["slots"].append(
            format_time(stamp, out_zone)
        )
    body["traceId"] = call.trace_id()
    return call.ok(body)


HANDLERS: dict[str, Handler] = {"calendars.get_slots": get_slots}
