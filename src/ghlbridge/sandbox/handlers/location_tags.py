"""Location (sub-account) tags: ``/locations/{locationId}/tags``.

GHL stores tag names in lower case; adding a tag to a contact creates the location tag too.
"""

from __future__ import annotations

from collections.abc import Iterable

from ghlbridge.sandbox.errors import bad_request
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec

TAGS = ResourceSpec("locationTags", created_field=None, updated_field=None)


def tag_name(value: object) -> str:
    return str(value).strip().lower()


def find_tag(loc: LocationState, name: str) -> Record | None:
    return loc.collection(TAGS).find(lambda r: r["name"] == tag_name(name))


def register_tags(loc: LocationState, names: Iterable[str]) -> None:
    """Create the location tags a contact uses that do not exist yet."""
    for name in names:
        if find_tag(loc, name) is None:
            loc.collection(TAGS).create({"name": tag_name(name)})


def _tag(call: Call) -> tuple[LocationState, Record]:
    loc = call.location()
    record = loc.collection(TAGS).get(call.path_params["tagId"])
    if record is None:
        raise call.not_found("Tag not found")
    return loc, record


def list_tags(call: Call) -> Reply:
    return call.ok({"tags": list(call.location().collection(TAGS))})


def create_tag(call: Call) -> Reply:
    loc = call.location()
    name = tag_name(call.json["name"])
    if find_tag(loc, name) is not None:
        raise bad_request(f"Tag '{name}' already exists")
    return call.ok({"tag": loc.collection(TAGS).create({"name": name})})


def get_tag(call: Call) -> Reply:
    return call.ok({"tag": _tag(call)[1]})


def update_tag(call: Call) -> Reply:
    loc, record = _tag(call)
    name = tag_name(call.json["name"])
    other = find_tag(loc, name)
    if other is not None and other["id"] != record["id"]:
        raise bad_request(f"Tag '{name}' already exists")
    return call.ok({"tag": loc.collection(TAGS).update(record["id"], {"name": name})})


def delete_tag(call: Call) -> Reply:
    loc, record = _tag(call)
    loc.collection(TAGS).delete(record["id"])
    return call.ok({"succeded": True})


HANDLERS: dict[str, Handler] = {
    "locations.get_location_tags": list_tags,
    "locations.create_tag": create_tag,
    "locations.get_tag_by_id": get_tag,
    "locations.update_tag": update_tag,
    "locations.delete_tag": delete_tag,
}
