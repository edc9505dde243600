"""Calendar resources, rooms and equipments: ``/calendars/resources/{resourceType}``.

A resource is listed and read only under its own type; its `calendarIds` must name
calendars of the location, and no more units can be out of service than it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ghlbridge.sandbox.errors import bad_request
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.calendar_model import CALENDAR_RESOURCES, calendar_in
from ghlbridge.sandbox.paging import window
from ghlbridge.sandbox.state import LocationState, Record

_FIELDS = (
    "name",
    "description",
    "quantity",
    "outOfService",
    "capacity",
    "calendarIds",
    "isActive",
)


def _checked(loc: LocationState, record: Mapping[str, Any]) -> None:
    for calendar_id in record.get("calendarIds") or []:
        calendar_in(loc, calendar_id)
    quantity, out = record.get("quantity"), record.get("outOfService")
    if isinstance(quantity, int | float) and isinstance(out, int | float) and out > quantity:
        raise bad_request("outOfService cannot be more than quantity")


def _resource(call: Call) -> tuple[LocationState, Record]:
    loc, record = call.find(CALENDAR_RESOURCES, call.path_params["id"], "Resource not found")
    if record["resourceType"] != call.path_params["resourceType"]:
        raise call.not_found("Resource not found")
    return loc, record


def create_resource(call: Call) -> Reply:
    loc = call.location()
    fields = {k: call.json[k] for k in _FIELDS if k in call.json}
    record = {"resourceType": call.path_params["resourceType"], "isActive": True, **fields}
    _checked(loc, record)
    return call.ok(loc.collection(CALENDAR_RESOURCES).create(record))


def list_resources(call: Call) -> Reply:
    loc = call.location()
    resources = loc.collection(CALENDAR_RESOURCES)
    kind = call.path_params["resourceType"]
    records = [r for r in resources if r["resourceType"] == kind]
    entries = resources.entries(records)
    win = window(call.op, call.query, entries)
    by_id = {r["id"]: r for r in records}
    return call.ok([by_id[e.id] for e in entries[win.start : win.end]])


def get_resource(call: Call) -> Reply:
    return call.ok(_resource(call)[1])


def update_resource(call: Call) -> Reply:
    loc, record = _resource(call)
    fields = {k: call.json[k] for k in _FIELDS if k in call.json}
    _checked(loc, {**record, **fields})
    return call.ok(loc.collection(CALENDAR_RESOURCES).update(record["id"], fields))


def delete_resource(call: Call) -> Reply:
    loc, record = _resource(call)
    loc.collection(CALENDAR_RESOURCES).delete(record["id"])
    return call.ok({"success": True})


HANDLERS: dict[str, Handler] = {
    "calendars.create_calendar_resource": create_resource,
    "calendars.fetch_calendar_resources": list_resources,
    "calendars.get_calendar_resource": get_resource,
    "calendars.update_calendar_resource": update_resource,
    "calendars.delete_calendar_resource": delete_resource,
}
