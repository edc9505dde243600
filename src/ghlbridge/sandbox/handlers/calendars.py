"""Calendars and calendar groups: CRUD, a group's active status, and group slug checks.

Faithful points: a new calendar gets the defaults GHL's create schema declares (30-minute
slots, auto-confirm, active...); open hours must open before they close; personal
calendars take exactly one team member and round-robin, collective, class and service
calendars at least one (the spec says so); a calendar's `groupId` must name a group of the
location, and deleting a group takes its calendars out of it. Group slugs are lower-case
words joined by hyphens, unique per location.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from ghlbridge.catalog import load_catalog
from ghlbridge.sandbox.errors import bad_request, unprocessable
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.appointments import seed_appointments
from ghlbridge.sandbox.handlers.calendar_model import CALENDAR_GROUPS, CALENDARS
from ghlbridge.sandbox.state import LocationState, Record, Seeder

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TEAM_REQUIRED = frozenset({"round_robin", "collective", "class_booking", "service_booking"})
_CALENDAR_EXTRAS: dict[str, Any] = {
    "calendarType": "event",
    "slotDurationUnit": "mins",
    "slotIntervalUnit": "mins",
    "openHours": [],
    "availabilities": [],
    "teamMembers": [],
    "locationConfigurations": [],
}
WEEKDAYS = [1, 2, 3, 4, 5]  # GHL counts from Sunday = 0


def _schema_defaults(op_id: str) -> dict[str, Any]:
    op = load_catalog().get(op_id)
    props = (op.body.schema.get("properties") or {}) if op.body else {}
    return {k: v["default"] for k, v in props.items() if isinstance(v, dict) and "default" in v}


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "calendar"


# -- calendars ----------------------------------------------------------------------------
def _check_calendar(loc: LocationState, record: Mapping[str, Any]) -> None:
    problems = []
    for i, entry in enumerate(record.get("openHours") or []):
        for j, hour in enumerate(entry.get("hours") or []):
            opens = hour["openHour"] * 60 + hour["openMinute"]
            if hour["closeHour"] * 60 + hour["closeMinute"] <= opens:
                problems.append(f"openHours.{i}.hours.{j} must close after it opens")
    if problems:
        raise unprocessable(problems)
    members = record.get("teamMembers") or []
    kind = record.get("calendarType")
    if kind == "personal" and len(members) != 1:
        raise bad_request("Personal calendar must have exactly one team member")
    if kind in _TEAM_REQUIRED and not members:
        raise bad_request(f"Team members are required for calendars of type {kind}")
    group = record.get("groupId")
    if group and loc.collection(CALENDAR_GROUPS).get(str(group)) is None:
        raise bad_request("Group not found")


def add_calendar(loc: LocationState, fields: Mapping[str, Any]) -> Record:
    """A calendar with GHL's defaults under `fields` (checked as the API checks them)."""
    record = {
        **copy.deepcopy(_CALENDAR_EXTRAS),
        **_schema_defaults("calendars.create_calendar"),
        **{k: v for k, v in fields.items() if k != "locationId"},
    }
    record.setdefault("slug", slugify(str(record.get("name", ""))))
    record.setdefault("widgetSlug", record["slug"])
    _check_calendar(loc, record)
    return loc.collection(CALENDARS).create(record)


def _calendar(call: Call) -> tuple[LocationState, Record]:
    return call.find(CALENDARS, call.path_params["calendarId"], "Calendar not found")


def create_calendar(call: Call) -> Reply:
    return call.ok({"calendar": add_calendar(call.location(), call.json)})


def get_calendar(call: Call) -> Reply:
    return call.ok({"calendar": _calendar(call)[1]})


def list_calendars(call: Call) -> Reply:
    group = call.query.get("groupId")
    drafts = call.query.get("showDrafted", True)
    calendars = [
        c
        for c in call.location().collection(CALENDARS)
        if (not group or c.get("groupId") == group) and (drafts or c.get("isActive", True))
    ]
    return call.ok({"calendars": calendars})


def update_calendar(call: Call) -> Reply:
    loc, record = _calendar(call)
    fields = {k: v for k, v in call.json.items() if k not in ("locationId", "id")}
    _check_calendar(loc, {**record, **fields})
    return call.ok({"calendar": loc.collection(CALENDARS).update(record["id"], fields)})


def delete_calendar(call: Call) -> Reply:
    loc, record = _calendar(call)
    loc.collection(CALENDARS).delete(record["id"])
    return call.ok({"success": True})


# -- groups -------------------------------------------------------------------------------
def _slug_problem(loc: LocationState, slug: Any, exclude: str | None = None) -> str | None:
    if not isinstance(slug, str) or not _SLUG.match(slug):
        return "slug must contain only lower-case letters, digits and single hyphens"
    taken = loc.collection(CALENDAR_GROUPS).find(lambda g: g["slug"] == slug and g["id"] != exclude)
    return "Group slug is already in use" if taken is not None else None


def _group(call: Call) -> tuple[LocationState, Record]:
    return call.find(CALENDAR_GROUPS, call.path_params["groupId"], "Group not found")


def _group_fields(loc: LocationState, body: Mapping[str, Any], exclude: str | None) -> Record:
    problem = _slug_problem(loc, body.get("slug"), exclude)
    if problem and problem.startswith("slug"):
        raise unprocessable([problem])
    if problem:
        raise bad_request(problem)
    return {k: body[k] for k in ("name", "description", "slug") if k in body}


def create_group(call: Call) -> Reply:
    loc = call.location()
    fields = _group_fields(loc, call.json, None)
    fields["isActive"] = bool(call.json.get("isActive", True))
    return call.ok({"group": loc.collection(CALENDAR_GROUPS).create(fields)})


def list_groups(call: Call) -> Reply:
    return call.ok({"groups": list(call.location().collection(CALENDAR_GROUPS))})


def edit_group(call: Call) -> Reply:
    loc, record = _group(call)
    fields = _group_fields(loc, call.json, record["id"])
    return call.ok({"group": loc.collection(CALENDAR_GROUPS).update(record["id"], fields)})


def set_group_status(call: Call) -> Reply:
    loc, record = _group(call)
    loc.collection(CALENDAR_GROUPS).update(record["id"], {"isActive": bool(call.json["isActive"])})
    return call.ok({"success": True})


def delete_group(call: Call) -> Reply:
    loc, record = _group(call)
    calendars = loc.collection(CALENDARS)
    for calendar in calendars:
        if calendar.get("groupId") == record["id"]:
            calendars.update(calendar["id"], {"groupId": None})
    loc.collection(CALENDAR_GROUPS).delete(record["id"])
    return call.ok({"success": True})


def validate_slug(call: Call) -> Reply:
    loc = call.location()
    return call.ok({"available": _slug_problem(loc, call.json.get("slug")) is None})


# -- demo data ----------------------------------------------------------------------------
def _hours(*spans: tuple[int, int]) -> list[dict[str, int]]:
    return [{"openHour": a, "openMinute": 0, "closeHour": b, "closeMinute": 0} for a, b in spans]


def seed_calendars(loc: LocationState, count: int) -> None:
    """Two calendars open on weekdays (none when no demo records are wanted)."""
    if count <= 0:
        return
    add_calendar(
        loc,
        {
            "name": "Discovery Call",
            "description": "A 30-minute introduction call",
            "openHours": [{"daysOfTheWeek": WEEKDAYS, "hours": _hours((9, 17))}],
        },
    )
    add_calendar(
        loc,
        {
            "name": "Consultation",
            "description": "A one-hour consultation, with a lunch break",
            "slotDuration": 60,
            "slotInterval": 60,
            "openHours": [{"daysOfTheWeek": WEEKDAYS, "hours": _hours((10, 12), (13, 16))}],
        },
    )


HANDLERS: dict[str, Handler] = {
    "calendars.create_calendar": create_calendar,
    "calendars.get_calendar": get_calendar,
    "calendars.get_calendars": list_calendars,
    "calendars.update_calendar": update_calendar,
    "calendars.delete_calendar": delete_calendar,
    "calendars.create_calendar_group": create_group,
    "calendars.get_groups": list_groups,
    "calendars.edit_group": edit_group,
    "calendars.disable_group": set_group_status,
    "calendars.delete_group": delete_group,
    "calendars.validate_groups_slug": validate_slug,
}
SEEDERS: tuple[Seeder, ...] = (seed_calendars, seed_appointments)
