"""Users of the company: ``/users/`` create, get, update, delete, search, filter by email, and
the users of a location.

A user belongs to the company and works in the locations of ``roles.locationIds`` (agency users
may have none). The record lives in the `users` collection of its home location, the first of
those that exists (for agency users without any, the company's first location), so its changes
are announced for that location. Reads gather users from every location of the company, oldest
first. A location token sees only the users of its own location. Emails are unique in the
company; `password` is never stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from ghlbridge.catalog import load_catalog
from ghlbridge.sandbox.errors import bad_request, no_location_access
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.paging import Entry, sort_entries, window
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec, Seeder, World

USERS = ResourceSpec("users", location_field=None, created_field=None, updated_field=None)
_PROFILE = ("firstName", "lastName", "email", "phone", "platformLanguage", "profilePhoto")
_SEARCHED = ("name", "firstName", "lastName", "email", "phone")
_NOT_FOUND = "User not found"
DEMO_USERS = (
    ("Avery", "Stone", "admin"),
    ("Blake", "Rivera", "user"),
    ("Casey", "Morgan", "user"),
    ("Devon", "Hayes", "user"),
)


def default_permissions() -> dict[str, bool]:
    """The permission flags and defaults the catalog's create-user body declares."""
    return dict(_permission_defaults())


@cache
def _permission_defaults() -> tuple[tuple[str, bool], ...]:
    body = load_catalog().get("users.create_user").body
    props = (body.schema.get("properties") or {}) if body else {}
    flags = (props.get("permissions") or {}).get("properties") or {}
    return tuple((name, bool(schema.get("default", False))) for name, schema in flags.items())


def company_locations(world: World, company_id: str) -> list[LocationState]:
    return [loc for loc in world.locations.values() if loc.company_id == company_id]


def all_users(world: World, company_id: str) -> list[tuple[LocationState, Record]]:
    """Every user of the company with its home location, oldest first."""
    rows: dict[str, tuple[LocationState, Record]] = {}
    entries: list[Entry] = []
    for loc in company_locations(world, company_id):
        users = loc.collection(USERS)
        records = list(users)
        rows.update((r["id"], (loc, r)) for r in records)
        entries.extend(users.entries(records))
    return [rows[e.id] for e in sort_entries(entries)]


def locations_of(user: Record) -> list[str]:
    return list((user.get("roles") or {}).get("locationIds") or [])


def _home(world: World, company_id: str, location_ids: Iterable[str]) -> LocationState:
    for location_id in location_ids:
        loc = world.location(location_id)
        if loc is not None and loc.company_id == company_id:
            return loc
    locations = company_locations(world, company_id)
    if not locations:
        raise bad_request("The company has no location to hold the user")
    return locations[0]


def user_record(
    first: str,
    last: str,
    email: str,
    *,
    role: str = "user",
    user_type: str = "account",
    location_ids: Iterable[str] = (),
    permissions: Mapping[str, Any] | None = None,
    **profile: Any,
) -> dict[str, Any]:
    """A user's fields in GHL's answer shape."""
    return {
        "name": " ".join(p for p in (first, last) if p),
        "firstName": first,
        "lastName": last,
        "email": email,
        "phone": "",
        "extension": "",
        "permissions": {**default_permissions(), **(permissions or {})},
        "roles": {
            "type": user_type,
            "role": role,
            "locationIds": list(location_ids),
            "restrictSubAccount": False,
        },
        "deleted": False,
        "lcPhone": {},
        **profile,
    }


def add_user(world: World, company_id: str, fields: dict[str, Any]) -> Record:
    """Store a user (see `user_record`) in its home location."""
    home = _home(world, company_id, fields["roles"]["locationIds"])
    return home.collection(USERS).create(fields)


def seed_users(loc: LocationState, count: int) -> None:
    tag = loc.id[:6].lower()
    for i in range(count):
        first, last, role = DEMO_USERS[i % len(DEMO_USERS)]
        suffix = "" if i < len(DEMO_USERS) else str(i)
        email = f"{first.lower()}.{last.lower()}{suffix}.{tag}@example.com"
        phone = f"+1555{i % 1000:03d}{sum(map(ord, loc.id)) % 10_000:04d}"
        fields = user_record(first, last, email, role=role, location_ids=[loc.id], phone=phone)
        loc.collection(USERS).create(fields)


def rehome_users(world: World, gone: LocationState) -> None:
    """Before `gone` is deleted: its users move to another of their locations (agency users to
    any other location), other users drop it from `locationIds`; account users of `gone` alone
    go with it."""
    for loc, user in all_users(world, gone.company_id):
        remaining = [i for i in locations_of(user) if i != gone.id]
        roles = {**user["roles"], "locationIds": remaining}
        if loc is not gone:
            if remaining != locations_of(user):
                loc.collection(USERS).update(user["id"], {"roles": roles})
            continue
        if not remaining and roles["type"] != "agency":
            continue
        others = [x for x in company_locations(world, gone.company_id) if x is not gone]
        home = next((x for x in others if x.id in remaining), others[0] if others else None)
        if home is not None:
            fields = {k: v for k, v in user.items() if k != "id"}
            home.collection(USERS).create({**fields, "roles": roles}, record_id=user["id"])


# -- request handling ------------------------------------------------------------------------
def _visible(call: Call, user: Record) -> bool:
    token = call.token
    if token is None or token.is_agency:
        return True
    return token.location_id in locations_of(user)


def _user(call: Call) -> tuple[LocationState, Record]:
    found = call.world.find(USERS, call.path_params["userId"])
    if found is None or found[0].company_id != call.company_id:
        raise call.not_found(_NOT_FOUND)
    if not _visible(call, found[1]):
        raise no_location_access()
    return found


def _email_taken(call: Call, email: str, exclude: str | None = None) -> None:
    wanted = email.strip().lower()
    for _, user in all_users(call.world, str(call.company_id)):
        if str(user.get("email", "")).lower() == wanted and user["id"] != exclude:
            raise bad_request(f"A user with email {email} already exists")


def _check_locations(call: Call, location_ids: Iterable[str]) -> list[str]:
    out: list[str] = []
    for location_id in location_ids:
        loc = call.world.location(str(location_id))
        if loc is None or loc.company_id != call.company_id:
            raise bad_request(f"Location {location_id} not found")
        token = call.token
        if token is not None and not token.is_agency and loc.id != token.location_id:
            raise no_location_access()
        if loc.id not in out:
            out.append(loc.id)
    return out


def _page(call: Call, users: list[Record], args: Mapping[str, Any]) -> list[Record]:
    entries = [Entry(u["id"], i) for i, u in enumerate(users)]
    win = window(call.op, args, entries)
    return users[win.start : win.end]


def _company_users(call: Call) -> list[Record]:
    return [u for _, u in all_users(call.world, str(call.company_id)) if _visible(call, u)]


def create_user(call: Call) -> Reply:
    body = call.json
    user_type = str(body["type"])
    location_ids = _check_locations(call, body.get("locationIds") or [])
    if not location_ids and user_type != "agency":
        raise bad_request("locationIds must name at least one location for an account user")
    _email_taken(call, str(body["email"]))
    profile = {k: body[k] for k in ("phone", "platformLanguage", "profilePhoto") if k in body}
    permissions = body.get("permissions") if isinstance(body.get("permissions"), dict) else None
    fields = user_record(
        str(body["firstName"]),
        str(body["lastName"]),
        str(body["email"]),
        role=str(body["role"]),
        user_type=user_type,
        location_ids=location_ids,
        permissions=permissions,
        **profile,
    )
    record = add_user(call.world, str(call.company_id), fields)
    return call.ok(record)


def get_user(call: Call) -> Reply:
    return call.ok(_user(call)[1])


def update_user(call: Call) -> Reply:
    loc, user = _user(call)
    body = call.json
    changes: dict[str, Any] = {k: body[k] for k in _PROFILE if k in body}
    if "email" in changes:
        _email_taken(call, str(changes["email"]), user["id"])
    if "firstName" in changes or "lastName" in changes:
        first = changes.get("firstName", user.get("firstName"))
        last = changes.get("lastName", user.get("lastName"))
        changes["name"] = " ".join(str(p) for p in (first, last) if p)
    if isinstance(body.get("permissions"), dict):
        changes["permissions"] = {**user["permissions"], **body["permissions"]}
    roles = dict(user["roles"])
    if "locationIds" in body:
        roles["locationIds"] = _check_locations(call, body["locationIds"] or [])
    roles.update({k: body[k] for k in ("type", "role") if k in body})
    if roles != user["roles"]:
        changes["roles"] = roles
    return call.ok(loc.collection(USERS).update(user["id"], changes))


def delete_user(call: Call) -> Reply:
    loc, user = _user(call)
    loc.collection(USERS).delete(user["id"])
    message = (
        f"Queued deleting user with e-mail {user['email']} and name {user['name']}. "
        "Will take effect in a few seconds."
    )
    return call.ok({"succeded": True, "message": message})


def search_users(call: Call) -> Reply:
    q = call.query
    text = str(q.get("query") or "").strip().lower()
    ids = {i for i in str(q.get("ids") or "").split(",") if i}
    users = [
        u
        for u in _company_users(call)
        if (not text or any(text in str(u.get(f) or "").lower() for f in _SEARCHED))
        and (not ids or u["id"] in ids)
        and (not q.get("locationId") or q["locationId"] in locations_of(u))
        and (not q.get("type") or u["roles"]["type"] == q["type"])
        and (not q.get("role") or u["roles"]["role"] == q["role"])
    ]
    sort = q.get("sort")
    if sort and sort != "dateAdded":
        users.sort(key=lambda u: str(u.get(str(sort)) or "").lower())
    if str(q.get("sortDirection") or "asc").lower() == "desc":
        users.reverse()
    return call.ok({"users": _page(call, users, q), "count": len(users)})


def filter_by_email(call: Call) -> Reply:
    body = call.json
    raw = body["emails"]
    wanted = {
        str(e).strip().lower()
        for e in (raw if isinstance(raw, list) else str(raw).split(","))
        if str(e).strip()
    }
    users = [] if body.get("deleted") else _company_users(call)
    users = [u for u in users if str(u.get("email", "")).lower() in wanted]
    return call.ok({"users": _page(call, users, body), "count": len(users)})


def users_by_location(call: Call) -> Reply:
    location_id = call.location().id
    users = [u for u in _company_users(call) if location_id in locations_of(u)]
    return call.ok({"users": users})


HANDLERS: dict[str, Handler] = {
    "users.create_user": create_user,
    "users.get_user": get_user,
    "users.update_user": update_user,
    "users.delete_user": delete_user,
    "users.search_users": search_users,
    "users.filter_users_by_email": filter_by_email,
    "users.get_user_by_location": users_by_location,
}
SEEDERS: tuple[Seeder, ...] = (seed_users,)
