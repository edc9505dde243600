"""Opportunities and pipelines: CRUD, status, upsert, followers, and both searches.

Faithful points: GHL's API cannot create pipelines, so every location is seeded with a default
pipeline of five stages (`add_pipeline` makes more, for tests and the demo); an opportunity
always sits on a stage of its pipeline (the first stage when none is named, or when it moves
to another pipeline without one); a contact holds at most one opportunity per pipeline unless
the location's profile sets `settings.allowDuplicateOpportunity` (off by default, as in GHL);
(pipeline, contact) is also the key an upsert matches on; `status` "all" is a search filter,
not a status. Every write is one `Change` of resource "opportunities" whose record carries
`status`, `pipelineStageId`, `monetaryValue`, `assignedTo`, `lastStatusChangeAt` and
`lastStageChangeAt`, so a webhook sender can tell a status, stage, value or owner change
apart by comparing it with `previous`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ghlbridge.sandbox.errors import bad_request, unprocessable
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.calendar_model import APPOINTMENTS, location_profile
from ghlbridge.sandbox.handlers.contacts import CONTACTS
from ghlbridge.sandbox.paging import window
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec, Seeder, iso

PIPELINES = ResourceSpec("pipelines")
OPPORTUNITIES = ResourceSpec("opportunities", created_field="createdAt", updated_field="updatedAt")
STATUSES = ("open", "won", "lost", "abandoned")
DEFAULT_PIPELINE = "Sales Pipeline"
DEFAULT_STAGES = ("New Lead", "Contacted", "Proposal Sent", "Negotiation", "Closed")
_NOT_FOUND = "Opportunity not found"
_DUPLICATE = "Can not create duplicate opportunity for the contact."
_WRITABLE = (
    "name",
    "monetaryValue",
    "pipelineId",
    "pipelineStageId",
    "status",
    "assignedTo",
    "lostReasonId",
    "source",
)
_SEARCH_FILTERS = {
    "pipeline_id": "pipelineId",
    "pipeline_stage_id": "pipelineStageId",
    "contact_id": "contactId",
    "assigned_to": "assignedTo",
    "id": "id",
    "campaignId": "campaignId",
}
_CONTACT_FIELDS = ("id", "name", "companyName", "email", "phone", "tags")


# -- pipelines ----------------------------------------------------------------------------
def add_pipeline(loc: LocationState, name: str, stages: Sequence[str] = DEFAULT_STAGES) -> Record:
    """A pipeline with `stages` in order; stage ids are UUIDs, as GHL's are."""
    rows = [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_OID, loc.new_id())),
            "name": stage,
            "position": i,
            "showInFunnel": True,
            "showInPieChart": True,
        }
        for i, stage in enumerate(stages)
    ]
    return loc.collection(PIPELINES).create(
        {"name": name, "stages": rows, "showInFunnel": True, "showInPieChart": True}
    )


def get_pipelines(call: Call) -> Reply:
    return call.ok({"pipelines": list(call.location().collection(PIPELINES))})


def _pipeline(loc: LocationState, pipeline_id: Any) -> Record:
    found = loc.collection(PIPELINES).get(str(pipeline_id)) if pipeline_id else None
    if found is None:
        raise bad_request("Pipeline not found")
    return found


# -- records ------------------------------------------------------------------------------
def _status(value: Any) -> str:
    if value not in STATUSES:
        raise unprocessable([f"status must be one of the following values: {', '.join(STATUSES)}"])
    return str(value)


def _custom_fields(current: Iterable[Any], incoming: Iterable[Any]) -> list[dict[str, Any]]:
    """GHL's stored shape ``{id, fieldValue}``, merged by id over the current values."""
    merged: dict[str, Any] = {str(f["id"]): f["fieldValue"] for f in current}
    for field in incoming:
        if isinstance(field, Mapping) and (field.get("id") or field.get("key")):
            key = str(field.get("id") or field.get("key"))
            merged[key] = field.get("field_value", field.get("fieldValue", field.get("value")))
    return [{"id": k, "fieldValue": v} for k, v in merged.items()]


def _changes(loc: LocationState, current: Record | None, body: Mapping[str, Any]) -> Record:
    """The fields a create or update writes, checked against the pipeline and stamped."""
    out: Record = {k: body[k] for k in _WRITABLE if k in body and body[k] is not None}
    if "status" in out:
        out["status"] = _status(out["status"])
    if "monetaryValue" in out:
        out["monetaryValue"] = _money(out["monetaryValue"])
    old = current or {}
    pipeline = _pipeline(loc, out.get("pipelineId", old.get("pipelineId")))
    stage_ids = [s["id"] for s in pipeline["stages"]]
    stage = out.get("pipelineStageId")
    if stage is None and (not current or pipeline["id"] != old.get("pipelineId")):
        stage = stage_ids[0] if stage_ids else None
    if stage is not None:
        if stage not in stage_ids:
            raise bad_request("Pipeline stage not found in this pipeline")
        out["pipelineStageId"] = stage
    if "customFields" in body:
        out["customFields"] = _custom_fields(old.get("customFields") or [], body["customFields"])
    now = iso(loc.clock.now_ms())
    if current is None or out.get("status", old.get("status")) != old.get("status"):
        out["lastStatusChangeAt"] = now
    if current is None or out.get("pipelineStageId") not in (None, old.get("pipelineStageId")):
        out["lastStageChangeAt"] = now
    return out


def _money(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise unprocessable(["monetaryValue must be a number"])
    try:
        number = float(value)
    except ValueError:
        raise unprocessable(["monetaryValue must be a number"]) from None
    return int(number) if number.is_integer() else number


def _allows_duplicates(loc: LocationState) -> bool:
    settings = location_profile(loc).get("settings") or {}
    return bool(settings.get("allowDuplicateOpportunity"))


def _duplicate(loc: LocationState, pipeline_id: Any, contact_id: Any) -> Record | None:
    return loc.collection(OPPORTUNITIES).find(
        lambda r: r["pipelineId"] == pipeline_id and r["contactId"] == contact_id
    )


def _require_contact(loc: LocationState, contact_id: Any) -> None:
    if not contact_id or loc.collection(CONTACTS).get(str(contact_id)) is None:
        raise bad_request("Contact not found")


def create_record(
    loc: LocationState,
    contact_id: str,
    fields: Mapping[str, Any],
    *,
    followers: list[str] | None = None,
) -> Record:
    """Store a new opportunity (no contact or duplicate checks: API handlers make those)."""
    changes = _changes(loc, None, {"status": "open", **fields})
    record = {
        "name": fields.get("name"),
        "monetaryValue": 0,
        "status": "open",
        "source": "",
        "contactId": contact_id,
        "customFields": [],
        "followers": list(followers or []),
        **changes,
    }
    return loc.collection(OPPORTUNITIES).create(record)


def view(loc: LocationState, record: Record) -> Record:
    """The record as GHL answers it: with a summary of its contact."""
    contact = loc.collection(CONTACTS).get(str(record.get("contactId")))
    summary = {"id": record.get("contactId")}
    if contact is not None:
        summary = {k: contact[k] for k in _CONTACT_FIELDS if contact.get(k) is not None}
    return {**record, "contact": summary}


def _opportunity(call: Call) -> tuple[LocationState, Record]:
    return call.find(OPPORTUNITIES, call.path_params["id"], _NOT_FOUND)


# -- CRUD, status, followers --------------------------------------------------------------
def create_opportunity(call: Call) -> Reply:
    loc = call.location()
    body = call.json
    _require_contact(loc, body.get("contactId"))
    _pipeline(loc, body.get("pipelineId"))
    duplicate = _duplicate(loc, body.get("pipelineId"), body.get("contactId"))
    if duplicate is not None and not _allows_duplicates(loc):
        raise bad_request(_DUPLICATE)
    record = create_record(loc, str(body["contactId"]), body)
    return call.ok({"opportunity": view(loc, record)})


def get_opportunity(call: Call) -> Reply:
    loc, record = _opportunity(call)
    return call.ok({"opportunity": view(loc, record)})


def update_opportunity(call: Call) -> Reply:
    loc, record = _opportunity(call)
    changes = _changes(loc, record, call.json)
    moved = changes.get("pipelineId", record["pipelineId"])
    other = _duplicate(loc, moved, record["contactId"])
    if other is not None and other["id"] != record["id"] and not _allows_duplicates(loc):
        raise bad_request(_DUPLICATE)
    updated = loc.collection(OPPORTUNITIES).update(record["id"], changes)
    return call.ok({"opportunity": view(loc, updated)})


def update_status(call: Call) -> Reply:
    loc, record = _opportunity(call)
    body = {"status": call.json.get("status"), "lostReasonId": call.json.get("lostReasonId")}
    loc.collection(OPPORTUNITIES).update(record["id"], _changes(loc, record, body))
    return call.ok({"succeded": True})


def delete_opportunity(call: Call) -> Reply:
    loc, record = _opportunity(call)
    loc.collection(OPPORTUNITIES).delete(record["id"])
    return call.ok({"succeded": True})


def _ids(values: Any) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values or [] if v))


def add_followers(call: Call) -> Reply:
    loc, record = _opportunity(call)
    current = list(record.get("followers") or [])
    added = [f for f in _ids(call.json.get("followers")) if f not in current]
    updated = loc.collection(OPPORTUNITIES).update(record["id"], {"followers": current + added})
    return call.ok({"followers": updated["followers"], "followersAdded": added})


def remove_followers(call: Call) -> Reply:
    loc, record = _opportunity(call)
    current = list(record.get("followers") or [])
    wanted = set(_ids(call.json.get("followers")))
    if call.query.get("isRemoveAllFollowers"):
        wanted = set(current)
    removed = [f for f in current if f in wanted]
    kept = [f for f in current if f not in wanted]
    loc.collection(OPPORTUNITIES).update(record["id"], {"followers": kept})
    return call.ok({"followers": kept, "followersRemoved": removed})


def upsert_opportunity(call: Call) -> Reply:
    """POST /opportunities/upsert: by `id`, else by (pipelineId, contactId); else a create.

    Followers: `isRemoveAllFollowers` clears them first, then `followersActionType` adds or
    removes the `followers` listed.
    """
    loc = call.location()
    body = call.json
    if body.get("id"):
        found = loc.collection(OPPORTUNITIES).get(str(body["id"]))
        if found is None:
            raise call.not_found(_NOT_FOUND)
    else:
        _pipeline(loc, body.get("pipelineId"))
        if not body.get("contactId"):
            raise unprocessable(["contactId should not be empty"])
        found = _duplicate(loc, body.get("pipelineId"), body.get("contactId"))
    followers = (
        [] if body.get("isRemoveAllFollowers") else list((found or {}).get("followers") or [])
    )
    listed = _ids(body.get("followers"))
    if body.get("followersActionType") == "remove":
        followers = [f for f in followers if f not in listed]
    else:
        followers += [f for f in listed if f not in followers]
    if found is not None:
        changes = {**_changes(loc, found, body), "followers": followers}
        record = loc.collection(OPPORTUNITIES).update(found["id"], changes)
        return call.ok({"new": False, "opportunity": view(loc, record)})
    _require_contact(loc, body.get("contactId"))
    if not body.get("name"):
        raise unprocessable(["name should not be empty"])
    record = create_record(loc, str(body["contactId"]), body, followers=followers)
    return call.ok({"new": True, "opportunity": view(loc, record)})


# -- search -------------------------------------------------------------------------------
def _text_match(loc: LocationState, record: Record, text: str) -> bool:
    contact = loc.collection(CONTACTS).get(str(record.get("contactId"))) or {}
    values = [record.get("name"), *(contact.get(f) for f in ("name", "email", "phone"))]
    values.append(contact.get("companyName"))
    return any(text in str(v).lower() for v in values if v)


def _day(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.strptime(str(value), "%m-%d-%Y").replace(tzinfo=UTC)
    except ValueError:
        raise unprocessable([f"{name} must be a date in mm-dd-yyyy format"]) from None


def _matching(loc: LocationState, query: Mapping[str, Any]) -> list[Record]:
    status = query.get("status")
    text = str(query.get("q") or "").strip().lower()
    since, until = _day(query.get("date"), "date"), _day(query.get("endDate"), "endDate")
    out = []
    for record in loc.collection(OPPORTUNITIES):
        if any(
            query.get(param) not in (None, "") and record.get(field) != query[param]
            for param, field in _SEARCH_FILTERS.items()
        ):
            continue
        if status not in (None, "", "all") and record.get("status") != status:
            continue
        if text and not _text_match(loc, record, text):
            continue
        created = datetime.fromisoformat(record["createdAt"])
        if (since and created < since) or (until and (created - until).days >= 1):
            continue
        out.append(record)
    return out


def _with_details(loc: LocationState, record: Record, flags: Mapping[str, Any]) -> Record:
    out = view(loc, record)
    if flags.get("calendarEvents"):
        out["calendarEvents"] = _contact_events(loc, record.get("contactId"))
    for name in ("notes", "tasks"):
        if flags.get(name):
            out[name] = []  # contact notes and tasks live with their own handlers
    return out


def _contact_events(loc: LocationState, contact_id: Any) -> list[Record]:
    appointments = loc.collection(APPOINTMENTS)
    return [a for a in appointments if a.get("contactId") == contact_id]


def search_opportunities(call: Call) -> Reply:
    """GET /opportunities/search: snake_case filters, startAfter/startAfterId paging, GHL meta."""
    loc = call.location()
    records = _matching(loc, call.query)
    entries = loc.collection(OPPORTUNITIES).entries(records)
    query = {
        k: _query_text(v) for k, v in call.query.items() if k not in ("startAfter", "startAfterId")
    }
    win = window(call.op, call.query, entries, next_url=call.url, query=query)
    by_id = {r["id"]: r for r in records}
    flags = {
        "calendarEvents": call.query.get("getCalendarEvents"),
        "notes": call.query.get("getNotes"),
        "tasks": call.query.get("getTasks"),
    }
    page = [_with_details(loc, by_id[e.id], flags) for e in entries[win.start : win.end]]
    return call.ok({"opportunities": page, "meta": win.meta, "aggregations": {}})


def _query_text(value: Any) -> Any:
    """A coerced query value as it goes back into a URL (booleans as GHL spells them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def search_opportunities_advanced(call: Call) -> Reply:
    """POST /opportunities/search: `query` text, `limit` with `page` or `searchAfter`.

    Each opportunity carries its `sort` marker (``[creation ms, id]`` as strings) to send back
    as `searchAfter`.
    """
    loc = call.location()
    body = call.json
    records = _matching(loc, {"q": body.get("query")})
    entries = loc.collection(OPPORTUNITIES).entries(records)
    win = window(call.op, body, entries)
    by_id = {r["id"]: r for r in records}
    flags = body.get("additionalDetails") or {}
    page = [
        {**_with_details(loc, by_id[e.id], flags), "sort": [str(e.sort_ms), e.id]}
        for e in entries[win.start : win.end]
    ]
    return call.ok({"opportunities": page, "total": win.total, "aggregations": {}})


# -- demo data ----------------------------------------------------------------------------
def seed_opportunities(loc: LocationState, count: int) -> None:
    """The default pipeline (always: the API cannot make one), and `count` opportunities on it.

    Their contacts are ids only: seeding contacts would change what contact lists hold.
    """
    pipeline = add_pipeline(loc, DEFAULT_PIPELINE)
    stages = pipeline["stages"]
    for i in range(count):
        last = i % len(stages) == len(stages) - 1
        create_record(
            loc,
            loc.new_id(),
            {
                "name": f"Demo Opportunity {i + 1}",
                "pipelineId": pipeline["id"],
                "pipelineStageId": stages[i % len(stages)]["id"],
                "status": "won" if last else "open",
                "monetaryValue": 500 * (i + 1),
                "source": "sandbox seed",
            },
        )


HANDLERS: dict[str, Handler] = {
    "opportunities.get_pipelines": get_pipelines,
    "opportunities.create_opportunity": create_opportunity,
    "opportunities.get_opportunity": get_opportunity,
    "opportunities.update_opportunity": update_opportunity,
    "opportunities.update_opportunity_status": update_status,
    "opportunities.delete_opportunity": delete_opportunity,
    "opportunities.upsert_opportunity": upsert_opportunity,
    "opportunities.add_followers_opportunity": add_followers,
    "opportunities.remove_followers_opportunity": remove_followers,
    "opportunities.search_opportunity": search_opportunities,
    "opportunities.search_opportunities_advanced": search_opportunities_advanced,
}
SEEDERS: tuple[Seeder, ...] = (seed_opportunities,)
