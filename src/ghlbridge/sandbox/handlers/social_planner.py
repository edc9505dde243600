"""Social Planner tags: ``GET /social-media-posting/{locationId}/tags`` and
``POST /social-media-posting/{locationId}/tags/details``.

GHL's public API has no endpoint that creates these tags (they are made in the app), so each
new location is seeded with a few and `add_social_tag` / `rename_social_tag` let tests and
the demo change them, as a user would in the Social Planner.
"""

from __future__ import annotations

from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.paging import window
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec, Seeder

SOCIAL_TAGS = ResourceSpec(
    "socialPlannerTags", id_field="_id", created_field="createdAt", updated_field="updatedAt"
)
DEMO_TAG_NAMES = ("Product Launch", "Promo", "Evergreen", "Holiday", "Testimonial", "Backstage")


def add_social_tag(loc: LocationState, name: str, *, created_by: str | None = None) -> Record:
    return loc.collection(SOCIAL_TAGS).create(
        {"tag": name, "createdBy": created_by or loc.new_id(), "deleted": False}
    )


def rename_social_tag(loc: LocationState, tag_id: str, name: str) -> Record:
    return loc.collection(SOCIAL_TAGS).update(tag_id, {"tag": name})


def seed_social_tags(loc: LocationState, count: int) -> None:
    for i in range(count):
        name = DEMO_TAG_NAMES[i % len(DEMO_TAG_NAMES)]
        add_social_tag(loc, name if i < len(DEMO_TAG_NAMES) else f"{name} {i}")


def _envelope(call: Call, message: str, tags: list[Record], count: int) -> Reply:
    return call.ok(
        {
            "success": True,
            "statusCode": call.op.response.status,
            "message": message,
            "results": {"tags": tags, "count": count},
        }
    )


def list_tags(call: Call) -> Reply:
    tags = call.location().collection(SOCIAL_TAGS)
    text = str(call.query.get("searchText") or "").strip().lower()
    records = [r for r in tags if not r["deleted"] and text in str(r["tag"]).lower()]
    entries = tags.entries(records)
    win = window(call.op, call.query, entries)
    by_id = {r["_id"]: r for r in records}
    page = [by_id[e.id] for e in entries[win.start : win.end]]
    return _envelope(call, "Fetched Tags by Location ID", page, win.total)


def tags_by_ids(call: Call) -> Reply:
    tags = call.location().collection(SOCIAL_TAGS)
    found = [t for t in (tags.get(str(i)) for i in call.json["tagIds"]) if t is not None]
    return _envelope(call, "Fetched Tags by Tag IDs", found, len(found))


HANDLERS: dict[str, Handler] = {
    "social_media_posting.get_tags_location_id": list_tags,
    "social_media_posting.get_tags_by_ids": tags_by_ids,
}
SEEDERS: tuple[Seeder, ...] = (seed_social_tags,)
