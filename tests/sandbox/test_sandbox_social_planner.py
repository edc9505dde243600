"""Social Planner tags are real state: seeded per location, listed with skip/limit, and
fetched by ids."""

from __future__ import annotations

from typing import Any

from ghlbridge.sandbox import SandboxSettings
from ghlbridge.sandbox.handlers.social_planner import (
    SOCIAL_TAGS,
    add_social_tag,
    rename_social_tag,
)
from tests.sandbox.harness import Harness


async def test_new_location_lists_its_seeded_social_planner_tags(harness: Harness) -> None:
    loc = harness.sb.location_id
    response = await harness.call("social_media_posting.get_tags_location_id", {"locationId": loc})
    assert response.status == 200
    body = response.json()
    assert body["success"] is True and body["statusCode"] == 200
    tags = body["results"]["tags"]
    assert [t["tag"] for t in tags] == ["Product Launch", "Promo", "Evergreen"]
    assert body["results"]["count"] == 3
    assert all(t["locationId"] == loc and t["deleted"] is False for t in tags)


async def test_social_tags_page_with_skip_and_limit_and_filter_by_text(make_harness: Any) -> None:
    h: Harness = make_harness(SandboxSettings(demo_records=5))
    loc = h.sb.location_id
    names: list[str] = []
    for skip in (0, 2, 4):
        page = await h.call(
            "social_media_posting.get_tags_location_id",
            {"locationId": loc, "skip": skip, "limit": 2},
        )
        assert page.json()["results"]["count"] == 5
        names.extend(t["tag"] for t in page.json()["results"]["tags"])
    assert names == ["Product Launch", "Promo", "Evergreen", "Holiday", "Testimonial"]
    found = await h.call(
        "social_media_posting.get_tags_location_id", {"locationId": loc, "searchText": "pro"}
    )
    assert [t["tag"] for t in found.json()["results"]["tags"]] == ["Product Launch", "Promo"]


async def test_tags_by_ids_returns_the_named_tags_including_changes(harness: Harness) -> None:
    state = harness.sb.location()
    added = add_social_tag(state, "Webinar")
    first = next(iter(state.collection(SOCIAL_TAGS)))
    rename_social_tag(state, first["_id"], "Launch 2")
    response = await harness.call(
        "social_media_posting.get_tags_by_ids",
        {"locationId": state.id},
        {"tagIds": [added["_id"], first["_id"], "unknown"]},
    )
    assert response.status == 201
    body = response.json()
    assert body["statusCode"] == 201 and body["message"] == "Fetched Tags by Tag IDs"
    assert [t["tag"] for t in body["results"]["tags"]] == ["Webinar", "Launch 2"]
    assert body["results"]["count"] == 2
