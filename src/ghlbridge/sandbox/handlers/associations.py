"""Associations (which objects may be linked, and how) and relations (two linked records).

Every location holds two SYSTEM_DEFINED associations (contact-business, opportunity-contact);
users add USER_DEFINED ones between contacts and custom objects, as GHL allows today. Faithful
points, from GHL's docs and webhook payloads: labels and keys are strings and ids are 24-hex;
an association key is unique in its location; only USER_DEFINED associations can be changed or
deleted, and deleting one deletes its relations; a relation's first record belongs to the
association's first object and its second record to the second; the same pair is related once.
Records of contacts and custom objects are checked to exist; opportunity and business records
live in other resources and are taken on trust.

The spec types every association answer, lists included, as one association. GHL answers
lists as ``{"associations": [...]}`` and ``{"relations": [...]}`` (what its clients read), so
the sandbox does too, with ``total`` and ``traceId``. A relation is answered with its
association's key, labels and type, which makes it fit the spec's association shape as well.
"""

from __future__ import annotations

from typing import Any

from ghlbridge.sandbox.errors import bad_request
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.contacts import CONTACTS
from ghlbridge.sandbox.handlers.objects import find_record, find_schema, hex_id, is_custom
from ghlbridge.sandbox.paging import window
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec, Seeder

ASSOCIATIONS = ResourceSpec("associations", created_field=None, updated_field=None)
RELATIONS = ResourceSpec("relations", created_field=None, updated_field=None)
SYSTEM_ASSOCIATIONS = (
    ("contact_business", "contact", "Contact", "business", "Business"),
    ("opportunity_contact", "opportunity", "Opportunity", "contact", "Contact"),
)
_NOT_FOUND = "Association not found"
_RELATION_NOT_FOUND = "Relation not found"
_LABELS = ("firstObjectLabel", "secondObjectLabel")


def add_association(
    loc: LocationState,
    key: str,
    first_key: str,
    first_label: str,
    second_key: str,
    second_label: str,
    *,
    system: bool = False,
) -> Record:
    return loc.collection(ASSOCIATIONS).create(
        {
            "key": key,
            "firstObjectKey": first_key,
            "firstObjectLabel": first_label,
            "secondObjectKey": second_key,
            "secondObjectLabel": second_label,
            "associationType": "SYSTEM_DEFINED" if system else "USER_DEFINED",
        },
        record_id=hex_id(loc),
    )


def find_by_key(loc: LocationState, key: str) -> Record | None:
    return loc.collection(ASSOCIATIONS).find(lambda r: r["key"] == key)


def seed_associations(loc: LocationState, count: int) -> None:
    """The SYSTEM_DEFINED associations every location has (`count` is not used)."""
    for key, first, first_label, second, second_label in SYSTEM_ASSOCIATIONS:
        add_association(loc, key, first, first_label, second, second_label, system=True)


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{name} must be a non-empty string")
    return value.strip()


def _envelope(call: Call, name: str, items: list[Record], total: int) -> Reply:
    return call.ok({name: items, "total": total, "traceId": call.trace_id()})


def _association(call: Call) -> tuple[LocationState, Record]:
    return call.find(ASSOCIATIONS, call.path_params["associationId"], _NOT_FOUND)


def _user_defined(record: Record, verb: str) -> None:
    if record["associationType"] != "USER_DEFINED":
        raise bad_request(f"Only USER_DEFINED associations can be {verb}")


# -- associations ----------------------------------------------------------------------------
def create_association(call: Call) -> Reply:
    loc = call.location()
    body = call.json
    key = _text(body.get("key"), "key")
    if find_by_key(loc, key) is not None:
        raise bad_request(f"An association with key {key} already exists")
    sides = []
    for side in ("first", "second"):
        object_key = _text(body.get(f"{side}ObjectKey"), f"{side}ObjectKey").lower()
        schema = find_schema(loc, object_key)
        if schema is None:
            raise bad_request(f"{side}ObjectKey {object_key} is not an object of this location")
        sides.append((schema["key"], _text(body.get(f"{side}ObjectLabel"), f"{side}ObjectLabel")))
    if any(k != "contact" and not is_custom(k) for k, _ in sides):
        raise bad_request(
            "Associations can link contacts and custom objects only "
            f"(not {sides[0][0]} and {sides[1][0]})"
        )
    (first_key, first_label), (second_key, second_label) = sides
    record = add_association(loc, key, first_key, first_label, second_key, second_label)
    return call.ok(record)


def find_associations(call: Call) -> Reply:
    """GET /associations/: every association of the location, paged by skip and limit."""
    associations = call.location().collection(ASSOCIATIONS)
    entries = associations.entries()
    win = window(call.op, call.query, entries)
    page = [associations.get(e.id) for e in entries[win.start : win.end]]
    return _envelope(call, "associations", [r for r in page if r is not None], win.total)


def get_association(call: Call) -> Reply:
    return call.ok(_association(call)[1])


def get_by_key_name(call: Call) -> Reply:
    record = find_by_key(call.location(), call.path_params["key_name"])
    if record is None:
        raise call.not_found(_NOT_FOUND)
    return call.ok(record)


def get_by_object_key(call: Call) -> Reply:
    """The associations that have the object on either side."""
    loc = call.location()
    schema = find_schema(loc, call.path_params["objectKey"])
    if schema is None:
        raise call.not_found("Object not found")
    key = schema["key"]
    found = [
        r
        for r in loc.collection(ASSOCIATIONS)
        if key in (r["firstObjectKey"], r["secondObjectKey"])
    ]
    return _envelope(call, "associations", found, len(found))


def update_association(call: Call) -> Reply:
    loc, record = _association(call)
    _user_defined(record, "updated")
    labels = {name: _text(call.json.get(name), name) for name in _LABELS}
    return call.ok(loc.collection(ASSOCIATIONS).update(record["id"], labels))


def delete_association(call: Call) -> Reply:
    """Deletes a USER_DEFINED association and every relation made with it."""
    loc, record = _association(call)
    _user_defined(record, "deleted")
    relations = loc.collection(RELATIONS)
    for relation in relations:
        if relation["associationId"] == record["id"]:
            relations.delete(relation["id"])
    loc.collection(ASSOCIATIONS).delete(record["id"])
    return call.ok(
        {"deleted": True, "id": record["id"], "message": "Association deleted successfully"}
    )


# -- relations -------------------------------------------------------------------------------
def record_exists(loc: LocationState, object_key: str, record_id: str) -> bool:
    """Whether a record of the object exists; opportunities and businesses are not checked."""
    if object_key == "contact":
        return loc.collection(CONTACTS).get(record_id) is not None
    if is_custom(object_key):
        return find_record(loc, object_key, record_id) is not None
    return True


def render_relation(loc: LocationState, relation: Record) -> Record:
    """A relation with its association's key, labels and type."""
    association = loc.collection(ASSOCIATIONS).get(relation["associationId"]) or {}
    extra = {k: association[k] for k in ("key", *_LABELS, "associationType") if k in association}
    return {**relation, **extra}


def drop_relations_of(loc: LocationState, record_id: str) -> None:
    """Forget the relations that name a deleted record."""
    relations = loc.collection(RELATIONS)
    for relation in relations:
        if record_id in (relation["firstRecordId"], relation["secondRecordId"]):
            relations.delete(relation["id"])


def create_relation(call: Call) -> Reply:
    loc = call.location()
    body = call.json
    association = loc.collection(ASSOCIATIONS).get(
        _text(body.get("associationId"), "associationId")
    )
    if association is None:
        raise call.not_found(_NOT_FOUND)
    first = _text(body.get("firstRecordId"), "firstRecordId")
    second = _text(body.get("secondRecordId"), "secondRecordId")
    if first == second:
        raise bad_request("A record cannot be related to itself")
    for side, record_id in (("first", first), ("second", second)):
        object_key = association[f"{side}ObjectKey"]
        if not record_exists(loc, object_key, record_id):
            raise bad_request(f"{side}RecordId {record_id} is not a record of {object_key}")
    relations = loc.collection(RELATIONS)
    duplicate = relations.find(
        lambda r: (
            r["associationId"] == association["id"]
            and (r["firstRecordId"], r["secondRecordId"]) == (first, second)
        )
    )
    if duplicate is not None:
        raise bad_request("These records are already related by this association")
    relation = relations.create(
        {
            "associationId": association["id"],
            "firstObjectKey": association["firstObjectKey"],
            "firstRecordId": first,
            "secondObjectKey": association["secondObjectKey"],
            "secondRecordId": second,
        },
        record_id=hex_id(loc),
    )
    return call.ok(render_relation(loc, relation))


def get_relations(call: Call) -> Reply:
    """GET /associations/relations/{recordId}: the record's relations, on either side."""
    loc = call.location()
    record_id = call.path_params["recordId"]
    wanted = {str(a) for a in call.query.get("associationIds") or []}
    relations = loc.collection(RELATIONS)
    hits = [
        r
        for r in relations
        if record_id in (r["firstRecordId"], r["secondRecordId"])
        and (not wanted or r["associationId"] in wanted)
    ]
    entries = relations.entries(hits)
    win = window(call.op, call.query, entries)
    by_id = {r["id"]: r for r in hits}
    page = [render_relation(loc, by_id[e.id]) for e in entries[win.start : win.end]]
    return _envelope(call, "relations", page, win.total)


def delete_relation(call: Call) -> Reply:
    loc = call.location()
    relations = loc.collection(RELATIONS)
    relation = relations.get(call.path_params["relationId"])
    if relation is None:
        raise call.not_found(_RELATION_NOT_FOUND)
    relations.delete(relation["id"])
    return call.ok(render_relation(loc, relation))


HANDLERS: dict[str, Handler] = {
    "associations.create_association": create_association,
    "associations.find_associations": find_associations,
    "associations.get_association_by_id": get_association,
    "associations.get_association_key_by_key_name": get_by_key_name,
    "associations.get_association_by_object_keys": get_by_object_key,
    "associations.update_association": update_association,
    "associations.delete_association": delete_association,
    "associations.create_relation": create_relation,
    "associations.get_relations_by_record_id": get_relations,
    "associations.delete_relation": delete_relation,
}
SEEDERS: tuple[Seeder, ...] = (seed_associations,)
