"""Custom objects: object schemas (``/objects/``) and their records (``/objects/{key}/records``).

Every location holds GHL's standard objects (contact, opportunity, business) and one custom
object, ``custom_objects.pets``, with `n` demo pets. Faithful points: a custom object's key is
lower-case and underscore-separated with the ``custom_objects.`` prefix added when missing;
its primary display property is ``<object key>.<field>``; records exist for custom objects and
businesses only (contacts and opportunities keep their own APIs); a record has at most one owner
and ten followers; ``properties`` may name fields bare (``name``) or in full
(``custom_objects.pets.name``) and are stored bare. Search takes ``field:value`` or free text
over the searchable properties, pages by ``page`` or by the ``searchAfter`` marker each record
carries, and ``*`` matches every record.

An object's fields live with every other custom field (`custom_fields.CUSTOM_FIELDS`, model =
the object key): creating an object creates its primary display field there, the custom-fields
API adds more, and ``fetchProperties=true`` lists them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ghlbridge.sandbox.errors import bad_request
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.custom_fields import (
    CUSTOM_FIELDS,
    add_field,
    app_view,
    find_field,
)
from ghlbridge.sandbox.paging import window
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec, Seeder, iso

SCHEMAS = ResourceSpec("objectSchemas")
RECORDS = ResourceSpec("objectRecords")
CUSTOM_PREFIX = "custom_objects."
RECORD_OBJECTS = ("business",)
"""Standard objects whose records this API serves (besides every custom object)."""
STANDARD_OBJECTS = (
    ("contact", "Contact", "Contacts", "contact.name"),
    ("opportunity", "Opportunity", "Opportunities", "opportunity.name"),
    ("business", "Business", "Businesses", "business.name"),
)
DEMO_OBJECT = "custom_objects.pets"
DEMO_PETS = (
    ("Buddy", "Beagle"),
    ("Luna", "Siamese"),
    ("Max", "Labrador"),
    ("Bella", "Persian"),
    ("Charlie", "Poodle"),
    ("Daisy", "Corgi"),
)
_KEY_PART = re.compile(r"^[a-z][a-z0-9_]*$")
_PRIMARY_TYPES = ("TEXT", "NUMERICAL")
_MAX_OWNERS = 1
_MAX_FOLLOWERS = 10
_SCHEMA_NOT_FOUND = "Object schema not found"
_RECORD_NOT_FOUND = "Record not found"


def hex_id(loc: LocationState) -> str:
    """A 24-hex Mongo-style id (GHL's shape for objects, records and associations), seed-stable."""
    return hashlib.blake2b(loc.new_id().encode(), digest_size=12).hexdigest()


def is_custom(key: str) -> bool:
    return key.startswith(CUSTOM_PREFIX)


# -- schemas ---------------------------------------------------------------------------------
def find_schema(loc: LocationState, key_or_id: str) -> Record | None:
    """A location's object schema by key (``contact``, ``custom_objects.pets``) or by id."""
    wanted = key_or_id.strip()
    schemas = loc.collection(SCHEMAS)
    return schemas.get(wanted) or schemas.find(lambda r: r["key"] == wanted.lower())


def add_schema(
    loc: LocationState,
    key: str,
    singular: str,
    plural: str,
    *,
    primary: str,
    primary_name: str = "Name",
    primary_type: str = "TEXT",
    description: str | None = None,
    searchable: Iterable[str] = (),
) -> Record:
    """Store an object schema (standard when `key` has no ``custom_objects.`` prefix); a
    custom object gets its primary display property as a field."""
    standard = not is_custom(key)
    fields: dict[str, Any] = {
        "standard": standard,
        "key": key,
        "labels": {"singular": singular, "plural": plural},
        "primaryDisplayProperty": primary,
        "type": "SYSTEM_DEFINED" if standard else "USER_DEFINED",
        "searchableProperties": list(dict.fromkeys([primary, *searchable])),
    }
    if description is not None:
        fields["description"] = description
    schema = loc.collection(SCHEMAS).create(fields, record_id=hex_id(loc))
    if not standard:
        add_object_field(loc, schema, primary_name, primary_type, primary)
    return schema


def add_object_field(
    loc: LocationState, schema: Record, name: str, data_type: str, field_key: str
) -> Record:
    """A field of the object, kept with the location's other custom fields."""
    key = schema["key"]
    return add_field(loc, name, data_type, model=key, key=field_key.removeprefix(f"{key}."))


def schema_fields(loc: LocationState, schema: Record) -> list[Record]:
    """The object's fields as the custom-fields app answers them."""
    return [app_view(r) for r in loc.collection(CUSTOM_FIELDS) if r["model"] == schema["key"]]


def _schema(call: Call, key_or_id: str) -> tuple[LocationState, Record]:
    loc = call.location()
    schema = find_schema(loc, key_or_id)
    if schema is None:
        raise call.not_found(_SCHEMA_NOT_FOUND)
    return loc, schema


def _label(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{name} must be a non-empty string")
    return value.strip()


def _custom_key(value: Any) -> str:
    key = str(value or "").strip()
    if not is_custom(key):
        key = CUSTOM_PREFIX + key
    if not _KEY_PART.match(key.removeprefix(CUSTOM_PREFIX)):
        raise bad_request(
            "key must be lower case and underscore separated, e.g. custom_objects.pet"
        )
    return key


def _field_key(object_key: str, value: Any, name: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise bad_request(f"{name} should not be empty")
    return text if text.startswith(f"{object_key}.") else f"{object_key}.{text}"


def list_schemas(call: Call) -> Reply:
    return call.ok({"objects": list(call.location().collection(SCHEMAS))})


def get_schema(call: Call) -> Reply:
    loc, schema = _schema(call, call.path_params["key"])
    body: dict[str, Any] = {"object": schema, "cache": False}
    if str(call.query.get("fetchProperties", "")).lower() == "true":
        body["fields"] = schema_fields(loc, schema)
    return call.ok(body)


def create_schema(call: Call) -> Reply:
    loc = call.location()
    body = call.json
    key = _custom_key(body.get("key"))
    if find_schema(loc, key) is not None:
        raise bad_request(f"An object with key {key} already exists")
    labels = body.get("labels") or {}
    details = body.get("primaryDisplayPropertyDetails") or {}
    data_type = str(details.get("dataType") or "").upper()
    if data_type not in _PRIMARY_TYPES:
        raise bad_request("primaryDisplayPropertyDetails.dataType must be TEXT or NUMERICAL")
    description = body.get("description")
    primary = _field_key(key, details.get("key"), "primaryDisplayPropertyDetails.key")
    if find_field(loc, primary) is not None:
        raise bad_request(f"A field with key {primary} already exists")
    schema = add_schema(
        loc,
        key,
        _label(labels.get("singular"), "labels.singular"),
        _label(labels.get("plural"), "labels.plural"),
        primary=primary,
        primary_name=_label(details.get("name"), "primaryDisplayPropertyDetails.name"),
        primary_type=data_type,
        description=description if isinstance(description, str) else None,
    )
    return call.ok({"object": schema})


def update_schema(call: Call) -> Reply:
    loc, schema = _schema(call, call.path_params["key"])
    body = call.json
    key = schema["key"]
    changes: dict[str, Any] = {}
    searchable = body.get("searchableProperties")
    if isinstance(searchable, list):
        wanted = [_field_key(key, v, "searchableProperties") for v in searchable]
        changes["searchableProperties"] = list(
            dict.fromkeys([schema["primaryDisplayProperty"], *wanted])
        )
    labels = body.get("labels")
    if isinstance(labels, Mapping) and labels:
        current = schema["labels"]
        changes["labels"] = {
            part: _label(labels[part], f"labels.{part}") if part in labels else current[part]
            for part in ("singular", "plural")
        }
    if "description" in body:
        changes["description"] = body["description"]
    if schema["standard"]:
        for name in ("labels", "description"):
            if name in changes and changes[name] != schema.get(name):
                raise bad_request(f"The {name} of the standard object {key} cannot be changed")
    updated = loc.collection(SCHEMAS).update(schema["id"], changes)
    return call.ok({"object": updated})


# -- records ---------------------------------------------------------------------------------
def render_record(record: Record) -> Record:
    """A record as GHL answers it: both timestamp spellings the spec uses."""
    return {**record, "createdAt": record["dateAdded"], "updatedAt": record["dateUpdated"]}


def find_record(loc: LocationState, object_key: str, record_id: str) -> Record | None:
    record = loc.collection(RECORDS).get(record_id)
    return record if record is not None and record["objectKey"] == object_key else None


def add_record(
    loc: LocationState,
    schema: Record,
    properties: Mapping[str, Any],
    *,
    owner: list[str] | None = None,
    followers: list[str] | None = None,
    source_id: str = "",
) -> Record:
    """Store a record of a custom object (or business), as the API or the UI would."""
    stamp = {
        "channel": "API",
        "createdAt": iso(loc.clock.now_ms()),
        "source": "PUBLIC_API",
        "sourceId": source_id or loc.id,
    }
    fields = {
        "objectId": schema["id"],
        "objectKey": schema["key"],
        "owner": list(owner or []),
        "followers": list(followers or []),
        "properties": dict(properties),
        "createdBy": stamp,
        "lastUpdatedBy": dict(stamp),
    }
    return loc.collection(RECORDS).create(fields, record_id=hex_id(loc))


def _record_schema(call: Call, loc: LocationState) -> Record:
    """The schema a records URL names; 400 for objects whose records this API does not serve."""
    key = call.path_params["schemaKey"]
    schema = find_schema(loc, key)
    if schema is None:
        raise call.not_found(_SCHEMA_NOT_FOUND)
    if schema["standard"] and schema["key"] not in RECORD_OBJECTS:
        raise bad_request(
            f"Records of {schema['key']} are not supported by this API; "
            "supported objects are business and custom objects"
        )
    return schema


def _properties(schema: Record, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise bad_request("properties must be an object")
    prefix = f"{schema['key']}."
    return {str(k).removeprefix(prefix): v for k, v in value.items()}


def _users(value: Any, name: str, most: int) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise bad_request(f"{name} must be an array of user ids")
    if len(value) > most:
        raise bad_request(f"{name} can hold at most {most} user id{'s' if most > 1 else ''}")
    return list(dict.fromkeys(value))


def _source_id(call: Call) -> str:
    return call.token.user_id if call.token is not None else ""


def create_record(call: Call) -> Reply:
    loc = call.location()
    schema = _record_schema(call, loc)
    body = call.json
    record = add_record(
        loc,
        schema,
        _properties(schema, body.get("properties")),
        owner=_users(body.get("owner"), "owner", _MAX_OWNERS),
        followers=_users(body.get("followers"), "followers", _MAX_FOLLOWERS),
        source_id=_source_id(call),
    )
    return call.ok({"record": render_record(record)})


def _record(call: Call) -> tuple[LocationState, Record, Record]:
    loc, record = call.find(RECORDS, call.path_params["id"], _RECORD_NOT_FOUND)
    schema = find_schema(loc, call.path_params["schemaKey"])
    if schema is None or record["objectKey"] != schema["key"]:
        raise call.not_found(_RECORD_NOT_FOUND)
    return loc, schema, record


def get_record(call: Call) -> Reply:
    return call.ok({"record": render_record(_record(call)[2])})


def update_record(call: Call) -> Reply:
    loc, schema, record = _record(call)
    if call.location_id != loc.id:
        raise call.not_found(_RECORD_NOT_FOUND)
    body = call.json
    changes: dict[str, Any] = {}
    if "properties" in body:
        changes["properties"] = {
            **record["properties"],
            **_properties(schema, body["properties"]),
        }
    owner = _users(body.get("owner"), "owner", _MAX_OWNERS)
    if owner is not None:
        changes["owner"] = owner
    followers = _users(body.get("followers"), "followers", _MAX_FOLLOWERS)
    if followers is not None:
        changes["followers"] = followers
    changes["lastUpdatedBy"] = {
        "channel": "API",
        "createdAt": iso(loc.clock.now_ms()),
        "source": "PUBLIC_API",
        "sourceId": _source_id(call) or loc.id,
    }
    updated = loc.collection(RECORDS).update(record["id"], changes)
    return call.ok({"record": render_record(updated)})


def delete_record(call: Call) -> Reply:
    """Deletes the record and the relations that name it."""
    # imported here: associations builds on this module, not the other way round
    from ghlbridge.sandbox.handlers.associations import drop_relations_of

    loc, _, record = _record(call)
    loc.collection(RECORDS).delete(record["id"])
    drop_relations_of(loc, record["id"])
    return call.ok({"id": record["id"], "success": True})


def _matches(record: Record, schema: Record, query: str) -> bool:
    """GHL's record query: ``field:value`` on one searchable property, else free text on all."""
    text = query.strip()
    if text in ("", "*"):
        return True
    props = record["properties"]
    prefix = f"{schema['key']}."
    searchable = [k.removeprefix(prefix) for k in schema["searchableProperties"]]
    field, sep, value = text.partition(":")
    if sep and field.strip().removeprefix(prefix) in searchable:
        names, wanted = [field.strip().removeprefix(prefix)], value.strip().lower()
    else:
        names, wanted = searchable, text.lower()
    return any(wanted in str(props.get(n, "")).lower() for n in names if props.get(n) is not None)


def search_records(call: Call) -> Reply:
    """POST /objects/{schemaKey}/records/search: `page` + `pageLimit`, or `searchAfter`."""
    loc = call.location()
    schema = _record_schema(call, loc)
    records = loc.collection(RECORDS)
    query = str(call.json.get("query") or "")
    hits = [r for r in records if r["objectKey"] == schema["key"] and _matches(r, schema, query)]
    entries = records.entries(hits)
    win = window(call.op, call.json, entries)
    by_id = {r["id"]: r for r in hits}
    page = [
        {**render_record(by_id[e.id]), "searchAfter": [e.sort_ms, e.id]}
        for e in entries[win.start : win.end]
    ]
    return call.ok({"records": page, "total": win.total, "traceId": call.trace_id()})


# -- seed ------------------------------------------------------------------------------------
def seed_objects(loc: LocationState, count: int) -> None:
    """Standard objects, the demo custom object ``custom_objects.pets`` and `count` pets."""
    for key, singular, plural, primary in STANDARD_OBJECTS:
        add_schema(loc, key, singular, plural, primary=primary)
    pets = add_schema(
        loc,
        DEMO_OBJECT,
        "Pet",
        "Pets",
        primary=f"{DEMO_OBJECT}.name",
        primary_name="Pet name",
        description="Pets of our contacts",
        searchable=[f"{DEMO_OBJECT}.breed"],
    )
    add_object_field(loc, pets, "Breed", "TEXT", f"{DEMO_OBJECT}.breed")
    for i in range(count):
        name, breed = DEMO_PETS[i % len(DEMO_PETS)]
        label = name if i < len(DEMO_PETS) else f"{name} {i}"
        add_record(loc, pets, {"name": label, "breed": breed})


HANDLERS: dict[str, Handler] = {
    "objects.get_object_by_location_id": list_schemas,
    "objects.get_object_schema_by_key": get_schema,
    "objects.create_custom_object_schema": create_schema,
    "objects.update_custom_object": update_schema,
    "objects.create_object_record": create_record,
    "objects.get_record_by_id": get_record,
    "objects.update_object_record": update_record,
    "objects.delete_object_record": delete_record,
    "objects.search_object_records": search_records,
}
SEEDERS: tuple[Seeder, ...] = (seed_objects,)
