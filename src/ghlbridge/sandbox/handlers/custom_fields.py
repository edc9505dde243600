"""Custom fields: ``/locations/{locationId}/customFields``, the custom-fields app
(``/custom-fields/``, fields and folders), and how a contact's ``customFields`` name them.

One `customFields` collection per location holds every field, whichever API made it; each
API answers in its own shape (the locations API with `model` and `picklistOptions`, the app
with `objectKey`, `options` and `parentId`). A field's `fieldKey` is ``<model>.<snake name>``
(``contact.favourite_colour``), unique in its location and kept when the field is renamed.

A contact names a field by `id` or by `key` (``contact.my_key`` or just ``my_key``), with the
value in `field_value`, `fieldValue` or `value`; an unknown field is a 400. The contact keeps
and answers ``[{id, value}]``; an update changes only the fields it names, and an empty value
clears one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ghlbridge.sandbox.errors import bad_request
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec, Seeder

CUSTOM_FIELDS = ResourceSpec("customFields")
FOLDERS = ResourceSpec("customFieldFolders")
_NOT_FOUND = "Custom field not found"
_LOCATION_VIEW = (
    "id", "name", "fieldKey", "placeholder", "dataType", "position", "picklistOptions",
    "picklistImageOptions", "isAllowedCustomOption", "isMultiFileAllowed", "maxFileLimit",
    "locationId", "model", "parentId", "dateAdded",
)  # fmt: skip
_APP_VIEW = (
    "id", "name", "fieldKey", "objectKey", "dataType", "parentId", "locationId", "showInForms",
    "options", "placeholder", "acceptedFormats", "maxFileLimit", "allowCustomOption",
    "dateAdded", "dateUpdated",
)  # fmt: skip
_LOCATION_MODELS = ("contact", "opportunity")
DEMO_FIELDS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("contact", "Favourite Colour", "TEXT", ()),
    ("contact", "Lead Score", "NUMERICAL", ()),
    ("contact", "Plan", "SINGLE_OPTIONS", ("Starter", "Growth", "Agency")),
    ("opportunity", "Deal Source", "TEXT", ()),
)


def snake(text: str) -> str:
    """GHL's field-key form of a name: lower case, runs of other characters as ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "field"


def find_field(loc: LocationState, ref: str) -> Record | None:
    """A field by id, by full key (``contact.my_key``) or by a contact field's short key."""
    fields = loc.collection(CUSTOM_FIELDS)
    hit = fields.get(ref)
    if hit is not None:
        return hit
    wanted = ref.strip().lower()
    keys = (wanted, f"contact.{wanted}")
    return fields.find(lambda r: str(r["fieldKey"]).lower() in keys)


def add_field(
    loc: LocationState,
    name: str,
    data_type: str,
    *,
    model: str = "contact",
    key: str | None = None,
    **extra: Any,
) -> Record:
    """Store a new field; its key is ``<model>.<key or snake(name)>``, refused if taken."""
    key = key or snake(name)
    field_key = key if key.startswith(f"{model}.") else f"{model}.{key}"
    if find_field(loc, field_key) is not None:
        raise bad_request(f"Custom field with key '{field_key}' already exists")
    options = [str(o) for o in extra.pop("picklistOptions", None) or []]
    parent = extra.pop("parentId", None) or default_folder(loc, model)["id"]
    fields: dict[str, Any] = {
        "name": name,
        "fieldKey": field_key,
        "dataType": data_type.upper(),
        "model": model,
        "placeholder": "",
        "position": 0,
        "picklistOptions": options,
        "picklistImageOptions": [],
        "isAllowedCustomOption": False,
        "isMultiFileAllowed": False,
        "maxFileLimit": 0,
        "showInForms": True,
        "parentId": parent,
        **{k: v for k, v in extra.items() if v is not None},
    }
    return loc.collection(CUSTOM_FIELDS).create(fields)


def default_folder(loc: LocationState, object_key: str) -> Record:
    """The folder a field lands in when none is named (GHL gives each object one)."""
    folders = loc.collection(FOLDERS)
    hit = folders.find(lambda r: r["objectKey"] == object_key and bool(r.get("standard")))
    if hit is None:
        name = object_key.rsplit(".", 1)[-1].replace("_", " ").title()
        hit = folders.create({"name": f"{name} Fields", "objectKey": object_key, "standard": True})
    return hit


def seed_custom_fields(loc: LocationState, count: int) -> None:
    for model, name, data_type, options in DEMO_FIELDS[:count]:
        add_field(loc, name, data_type, model=model, picklistOptions=list(options))


# -- a contact's customFields -------------------------------------------------------------
def resolve_values(loc: LocationState, items: Iterable[Any]) -> list[dict[str, Any]]:
    """A request's ``customFields`` as ``[{id, value}]``; 400 naming a field GHL would not know."""
    out: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        ref = item.get("id") or item.get("key")
        if not isinstance(ref, str) or not ref:
            raise bad_request("customFields: each field needs an id or a key")
        field = find_field(loc, ref)
        if field is None:
            raise bad_request(f"customFields: no custom field with id or key '{ref}'")
        value = next((item[k] for k in ("field_value", "fieldValue", "value") if k in item), None)
        out.append({"id": field["id"], "value": value})
    return out


def merge_values(
    current: Iterable[Mapping[str, Any]], changes: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """`current` with `changes` applied: named fields replaced, empty values removed."""
    merged = {str(f["id"]): f.get("value") for f in current}
    for change in changes:
        merged[str(change["id"])] = change.get("value")
    return [{"id": k, "value": v} for k, v in merged.items() if v not in (None, "", [])]


# -- views -----------------------------------------------------------------------------------
def location_view(record: Record) -> dict[str, Any]:
    return {k: record[k] for k in _LOCATION_VIEW if k in record}


def app_view(record: Record) -> dict[str, Any]:
    view = {**record, "objectKey": record["model"]}
    view.setdefault("allowCustomOption", record.get("isAllowedCustomOption", False))
    if "options" not in record:
        view["options"] = [{"key": snake(o), "label": o} for o in record["picklistOptions"]]
    return {k: view[k] for k in _APP_VIEW if k in view}


def folder_view(record: Record) -> dict[str, Any]:
    return {k: record[k] for k in ("id", "name", "objectKey", "locationId")}


# -- the locations API ---------------------------------------------------------------------
def _location_field(call: Call) -> tuple[LocationState, Record]:
    loc = call.location()
    record = loc.collection(CUSTOM_FIELDS).get(call.path_params["id"])
    if record is None or record["model"] not in _LOCATION_MODELS:
        raise call.not_found(_NOT_FOUND)
    return loc, record


def _location_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: body[k] for k in ("name", "placeholder", "position", "parentId") if k in body
    }
    if "options" in body:  # undeclared in the spec, accepted by GHL for option fields
        out["picklistOptions"] = [str(o) for o in body["options"] or []]
    if "isMultipleFile" in body:
        out["isMultiFileAllowed"] = bool(body["isMultipleFile"])
    if "maxNumberOfFiles" in body:
        out["maxFileLimit"] = body["maxNumberOfFiles"]
    return out


def list_location_fields(call: Call) -> Reply:
    model = call.query.get("model") or "all"
    models = _LOCATION_MODELS if model == "all" else (model,)
    fields = call.location().collection(CUSTOM_FIELDS)
    return call.ok({"customFields": [location_view(r) for r in fields if r["model"] in models]})


def create_location_field(call: Call) -> Reply:
    body = call.json
    changes = _location_changes(body)
    name = str(changes.pop("name"))
    key = body.get("fieldKey") if isinstance(body.get("fieldKey"), str) else None
    record = add_field(
        call.location(),
        name,
        str(body["dataType"]),
        model=str(body.get("model") or "contact"),
        key=key,
        **changes,
    )
    return call.ok({"customField": location_view(record)})


def get_location_field(call: Call) -> Reply:
    return call.ok({"customField": location_view(_location_field(call)[1])})


def update_location_field(call: Call) -> Reply:
    loc, record = _location_field(call)
    updated = loc.collection(CUSTOM_FIELDS).update(record["id"], _location_changes(call.json))
    return call.ok({"customField": location_view(updated)})


def delete_location_field(call: Call) -> Reply:
    loc, record = _location_field(call)
    loc.collection(CUSTOM_FIELDS).delete(record["id"])
    return call.ok({"succeded": True})


# -- the custom-fields app -----------------------------------------------------------------
def _app_field(call: Call) -> tuple[LocationState, Record]:
    return call.find(CUSTOM_FIELDS, call.path_params["id"], _NOT_FOUND)


def _folder(call: Call, loc: LocationState, folder_id: str) -> Record:
    record = loc.collection(FOLDERS).get(folder_id)
    if record is None:
        raise call.not_found("Custom field folder not found")
    return record


def _app_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("name", "placeholder", "showInForms", "options", "acceptedFormats", "maxFileLimit")
    out = {k: body[k] for k in keys if k in body}
    if "options" in out:
        out["picklistOptions"] = [str(o.get("label", o.get("key"))) for o in out["options"]]
    if "allowCustomOption" in body:
        out["isAllowedCustomOption"] = out["allowCustomOption"] = body["allowCustomOption"]
    return out


def create_app_field(call: Call) -> Reply:
    body = call.json
    loc = call.location()
    object_key, field_key = str(body["objectKey"]), str(body["fieldKey"])
    if not field_key.startswith(f"{object_key}."):
        raise bad_request(f"fieldKey must start with '{object_key}.'")
    folder = _folder(call, loc, str(body["parentId"]))
    if folder["objectKey"] != object_key:
        raise bad_request(f"Folder {folder['id']} does not belong to {object_key}")
    changes = _app_changes(body)
    record = add_field(
        loc,
        str(changes.pop("name", None) or field_key.rsplit(".", 1)[-1]),
        str(body["dataType"]),
        model=object_key,
        key=field_key,
        parentId=folder["id"],
        **changes,
    )
    return call.ok({"field": app_view(record)})


def get_app_field(call: Call) -> Reply:
    return call.ok({"field": app_view(_app_field(call)[1])})


def update_app_field(call: Call) -> Reply:
    loc, record = _app_field(call)
    updated = loc.collection(CUSTOM_FIELDS).update(record["id"], _app_changes(call.json))
    return call.ok({"field": app_view(updated)})


def delete_app_field(call: Call) -> Reply:
    loc, record = _app_field(call)
    loc.collection(CUSTOM_FIELDS).delete(record["id"])
    return call.ok({"succeded": True, "id": record["id"], "key": record["fieldKey"]})


def fields_by_object_key(call: Call) -> Reply:
    loc = call.location()
    object_key = call.path_params["objectKey"]
    fields = [app_view(r) for r in loc.collection(CUSTOM_FIELDS) if r["model"] == object_key]
    folders = [folder_view(r) for r in loc.collection(FOLDERS) if r["objectKey"] == object_key]
    return call.ok({"fields": fields, "folders": folders})


def create_folder(call: Call) -> Reply:
    body = call.json
    folders = call.location().collection(FOLDERS)
    record = folders.create({"name": str(body["name"]), "objectKey": str(body["objectKey"])})
    return call.ok(folder_view(record))


def update_folder(call: Call) -> Reply:
    loc = call.location()
    record = _folder(call, loc, call.path_params["id"])
    updated = loc.collection(FOLDERS).update(record["id"], {"name": str(call.json["name"])})
    return call.ok(folder_view(updated))


def delete_folder(call: Call) -> Reply:
    loc = call.location()
    record = _folder(call, loc, call.path_params["id"])
    if loc.collection(CUSTOM_FIELDS).find(lambda r: r.get("parentId") == record["id"]):
        raise bad_request("Folder still holds custom fields; move or delete them first")
    loc.collection(FOLDERS).delete(record["id"])
    return call.ok({"succeded": True, "id": record["id"], "key": record["objectKey"]})


HANDLERS: dict[str, Handler] = {
    "locations.get_custom_fields": list_location_fields,
    "locations.create_custom_field": create_location_field,
    "locations.get_custom_field": get_location_field,
    "locations.update_custom_field": update_location_field,
    "locations.delete_custom_field": delete_location_field,
    "custom_fields.create_custom_field": create_app_field,
    "custom_fields.get_custom_field_by_id": get_app_field,
    "custom_fields.update_custom_field": update_app_field,
    "custom_fields.delete_custom_field": delete_app_field,
    "custom_fields.get_custom_fields_by_object_key": fields_by_object_key,
    "custom_fields.create_custom_field_folder": create_folder,
    "custom_fields.update_custom_field_folder": update_folder,
    "custom_fields.delete_custom_field_folder": delete_folder,
}
SEEDERS: tuple[Seeder, ...] = (seed_custom_fields,)
