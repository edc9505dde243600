"""Locations (sub-accounts) as records: get, search, create, update, delete; and the company.

Each `LocationState` of the world keeps its profile (name, address, settings, social links...)
as the one record of its own `locations` collection, id = location id, so creates, updates and
deletes of locations are announced like any other record's. `seed_location_profile` writes it
when the world adds a location (register it first among the seeders, so a location's create is
announced before its contents'); `POST /locations/` hands its body to that seeder, so the one
create carries every field. The profile's name, address and duplicate-contact setting are
mirrored onto the `LocationState`, where contacts and OAuth read them.

A created location is a full location of the world: seeded, reachable by the agency token and
by location tokens from ``/oauth/locationToken``. A deleted one leaves the world; its users move
to their other locations (users.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.users import rehome_users
from ghlbridge.sandbox.paging import sort_entries, window
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec, Seeder

LOCATIONS = ResourceSpec("locations", location_field=None, created_field=None, updated_field=None)
_PROFILE = (
    "name", "phone", "email", "address", "city", "state", "country", "postalCode", "website",
    "timezone", "logoUrl", "domain",
)  # fmt: skip
_SEARCH_VIEW = (
    "id", "name", "email", "phone", "address", "city", "state", "country", "postalCode",
    "website", "timezone", "settings", "social",
)  # fmt: skip
_BUSINESS = ("name", "address", "city", "state", "country", "postalCode", "website", "timezone")
_SETTINGS = {
    "allowDuplicateContact": False,
    "allowDuplicateOpportunity": False,
    "allowFacebookNameMerge": False,
    "disableContactTimezone": False,
}
_NEW_LOCATION: ContextVar[Mapping[str, Any] | None] = ContextVar("new_location", default=None)


def _slug(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum()) or "location"


def seed_location_profile(loc: LocationState, _count: int = 0) -> None:
    """Write a new location's profile: sandbox defaults under what its creator sent."""
    _write_profile(loc)


def _write_profile(loc: LocationState) -> Record:
    given = dict(_NEW_LOCATION.get() or {})
    settings = {**_SETTINGS, "allowDuplicateContact": loc.allow_duplicate_contacts}
    settings.update(given.pop("settings", None) or {})
    fields: dict[str, Any] = {
        "companyId": loc.company_id,
        "name": loc.name,
        "email": f"hello@{_slug(loc.name)}.example.com",
        "phone": "+15550100000",
        "address": loc.address,
        "city": "Springfield",
        "state": "IL",
        "country": "US",
        "postalCode": "62701",
        "website": f"https://{_slug(loc.name)}.example.com",
        "timezone": "America/Chicago",
        "settings": settings,
        "social": {},
        **given,
    }
    record = loc.collection(LOCATIONS).create(fields, record_id=loc.id)
    _mirror(loc, record)
    return record


def profile(loc: LocationState) -> Record:
    """A location's profile record (written now if its seeder was not registered)."""
    return loc.collection(LOCATIONS).get(loc.id) or _write_profile(loc)


def _mirror(loc: LocationState, record: Record) -> None:
    loc.name = str(record.get("name") or loc.name)
    loc.address = str(record.get("address") or loc.address)
    loc.allow_duplicate_contacts = bool(record["settings"].get("allowDuplicateContact"))


def _body_fields(body: Mapping[str, Any], current: Record | None) -> dict[str, Any]:
    """The profile fields of a create/update body; nested settings and social links merge."""
    out: dict[str, Any] = {k: body[k] for k in _PROFILE if k in body}
    prospect = body.get("prospectInfo")
    if isinstance(prospect, Mapping):
        out.update({k: prospect[k] for k in ("firstName", "lastName", "email") if k in prospect})
    for key in ("settings", "social"):
        if isinstance(body.get(key), Mapping):
            out[key] = {**((current or {}).get(key) or {}), **body[key]}
    return out


def location_view(record: Record) -> dict[str, Any]:
    """The full answer shape (GET /locations/{id}): the profile plus its `business` block."""
    business = {k: record[k] for k in _BUSINESS if k in record}
    return {**record, "business": business}


def get_location(call: Call) -> Reply:
    return call.ok({"location": location_view(profile(call.location()))})


def search_locations(call: Call) -> Reply:
    q = call.query
    token = call.token
    locations = [
        loc
        for loc in call.world.locations.values()
        if loc.company_id == call.company_id
        and (token is None or token.is_agency or loc.id == token.location_id)
    ]
    profiles = {loc.id: profile(loc) for loc in locations}
    email = str(q.get("email") or "").strip().lower()
    if email:
        profiles = {k: p for k, p in profiles.items() if str(p.get("email", "")).lower() == email}
    entries = sort_entries(
        [e for loc in locations if loc.id in profiles for e in loc.collection(LOCATIONS).entries()]
    )
    if str(q.get("order") or "asc").lower() == "desc":
        entries.reverse()
    win = window(call.op, q, entries)
    page = [profiles[e.id] for e in entries[win.start : win.end]]
    return call.ok({"locations": [{k: p[k] for k in _SEARCH_VIEW if k in p} for p in page]})


def create_location(call: Call) -> Reply:
    fields = _body_fields(call.json, None)
    marker = _NEW_LOCATION.set(fields)
    try:
        loc = call.world.add_location(name=str(fields["name"]))
    finally:
        _NEW_LOCATION.reset(marker)
    return call.ok(profile(loc))


def update_location(call: Call) -> Reply:
    loc = call.location()
    current = profile(loc)
    record = loc.collection(LOCATIONS).update(loc.id, _body_fields(call.json, current))
    _mirror(loc, record)
    return call.ok(record)


def delete_location(call: Call) -> Reply:
    loc = call.location()
    rehome_users(call.world, loc)
    loc.collection(LOCATIONS).delete(loc.id)
    del call.world.locations[loc.id]
    return call.ok({"success": True, "message": f"Location {loc.id} deleted"})


def get_company(call: Call) -> Reply:
    world = call.world
    company_id = call.path_params["companyId"]
    count = sum(1 for loc in world.locations.values() if loc.company_id == company_id)
    company = {
        "id": company_id,
        "name": "Sandbox Agency",
        "email": "agency@sandbox.example.com",
        "phone": "+15550100001",
        "address": "1 Sandbox Way",
        "city": "Springfield",
        "state": "IL",
        "country": "US",
        "postalCode": "62701",
        "website": "https://sandbox.example.com",
        "domain": "https://app.sandbox.example.com",
        "spareDomain": "link.sandbox.example.com",
        "timezone": "America/Chicago",
        "customerType": "agency",
        "status": "active",
        "plan": 3,
        "locationCount": count,
        "isReselling": False,
        "isSandboxAccount": True,
        "twilioTrialMode": False,
        "premiumUpgraded": False,
    }
    return call.ok({"company": company})


HANDLERS: dict[str, Handler] = {
    "locations.get_location": get_location,
    "locations.search_locations": search_locations,
    "locations.create_location": create_location,
    "locations.put_location": update_location,
    "locations.delete_location": delete_location,
    "companies.get_company": get_company,
}
SEEDERS: tuple[Seeder, ...] = (seed_location_profile,)
