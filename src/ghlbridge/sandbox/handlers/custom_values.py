"""Custom values (a location's named merge values): ``/locations/{locationId}/customValues``.

Each value's `fieldKey` is the merge tag GHL shows for it, ``{{ custom_values.<snake name> }}``;
names are unique in a location, and a rename moves the tag with it.
"""

from __future__ import annotations

from typing import Any

from ghlbridge.sandbox.errors import bad_request
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.custom_fields import snake
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec

CUSTOM_VALUES = ResourceSpec("customValues", created_field=None, updated_field=None)


def merge_tag(name: str) -> str:
    return "{{ custom_values." + snake(name) + " }}"


def _fields(loc: LocationState, body: dict[str, Any], exclude: str | None) -> dict[str, Any]:
    name = str(body["name"]).strip()
    tag = merge_tag(name)
    taken = loc.collection(CUSTOM_VALUES).find(
        lambda r: r["fieldKey"] == tag and r["id"] != exclude
    )
    if taken is not None:
        raise bad_request(f"Custom value '{name}' already exists")
    return {"name": name, "fieldKey": tag, "value": str(body["value"])}


def _value(call: Call) -> tuple[LocationState, Record]:
    loc = call.location()
    record = loc.collection(CUSTOM_VALUES).get(call.path_params["id"])
    if record is None:
        raise call.not_found("Custom value not found")
    return loc, record


def list_values(call: Call) -> Reply:
    return call.ok({"customValues": list(call.location().collection(CUSTOM_VALUES))})


def create_value(call: Call) -> Reply:
    loc = call.location()
    record = loc.collection(CUSTOM_VALUES).create(_fields(loc, call.json, None))
    return call.ok({"customValue": record})


def get_value(call: Call) -> Reply:
    return call.ok({"customValue": _value(call)[1]})


def update_value(call: Call) -> Reply:
    loc, record = _value(call)
    fields = _fields(loc, call.json, record["id"])
    return call.ok({"customValue": loc.collection(CUSTOM_VALUES).update(record["id"], fields)})


def delete_value(call: Call) -> Reply:
    loc, record = _value(call)
    loc.collection(CUSTOM_VALUES).delete(record["id"])
    return call.ok({"succeded": True})


HANDLERS: dict[str, Handler] = {
    "locations.get_custom_values": list_values,
    "locations.create_custom_value": create_value,
    "locations.get_custom_value": get_value,
    "locations.update_custom_value": update_value,
    "locations.delete_custom_value": delete_value,
}
