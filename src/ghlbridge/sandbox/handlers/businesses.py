"""Businesses (the companies a location's contacts work for): ``/businesses/``.

GHL's create and update answers spell the envelope key ``buiseness``; the sandbox keeps the
typo, since clients read that key. Contacts link to a business through their `businessId`
(``POST /contacts/bulk/business``, in contacts.py).
"""

from __future__ import annotations

from typing import Any

from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.paging import window
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec, Seeder

BUSINESSES = ResourceSpec("businesses", created_field="createdAt", updated_field="updatedAt")
_FIELDS = (
    "name", "phone", "email", "website", "address", "city", "state", "postalCode", "country",
    "description",
)  # fmt: skip
DEMO_BUSINESSES = ("Acme Corp", "Globex", "Initech", "Umbrella Group", "Stark Industries")


def add_business(loc: LocationState, name: str, **fields: Any) -> Record:
    return loc.collection(BUSINESSES).create(
        {"name": name, **fields, "createdBy": {}, "updatedBy": {}}
    )


def seed_businesses(loc: LocationState, count: int) -> None:
    for i in range(count):
        name = DEMO_BUSINESSES[i % len(DEMO_BUSINESSES)]
        slug = name.lower().replace(" ", "")
        add_business(
            loc,
            name if i < len(DEMO_BUSINESSES) else f"{name} {i}",
            email=f"hello@{slug}.example.com",
            website=f"https://{slug}.example.com",
            city="Springfield",
            country="US",
        )


def find_business(loc: LocationState, business_id: str) -> Record | None:
    return loc.collection(BUSINESSES).get(business_id)


def _business(call: Call) -> tuple[LocationState, Record]:
    return call.find(BUSINESSES, call.path_params["businessId"], "Business not found")


def _changes(call: Call) -> dict[str, Any]:
    return {k: call.json[k] for k in _FIELDS if k in call.json}


def list_businesses(call: Call) -> Reply:
    businesses = call.location().collection(BUSINESSES)
    records = list(businesses)
    entries = businesses.entries(records)
    win = window(call.op, call.query, entries)
    by_id = {r["id"]: r for r in records}
    return call.ok({"businesses": [by_id[e.id] for e in entries[win.start : win.end]]})


def create_business(call: Call) -> Reply:
    fields = _changes(call)
    record = add_business(call.location(), str(fields.pop("name")), **fields)
    return call.ok({"success": True, "buiseness": record})


def get_business(call: Call) -> Reply:
    return call.ok({"business": _business(call)[1]})


def update_business(call: Call) -> Reply:
    loc, record = _business(call)
    updated = loc.collection(BUSINESSES).update(record["id"], _changes(call))
    return call.ok({"success": True, "buiseness": updated})


def delete_business(call: Call) -> Reply:
    loc, record = _business(call)
    loc.collection(BUSINESSES).delete(record["id"])
    return call.ok({"success": True})


HANDLERS: dict[str, Handler] = {
    "businesses.get_businesses_by_location": list_businesses,
    "businesses.create_business": create_business,
    "businesses.get_business": get_business,
    "businesses.update_business": update_business,
    "businesses.delete_business": delete_business,
}
SEEDERS: tuple[Seeder, ...] = (seed_businesses,)
