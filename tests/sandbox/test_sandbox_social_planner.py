"""Social Planner is real state: tags seeded, listed with skip/limit and fetched by ids;
accounts seeded; posts created, scheduled, published, edited, deleted and listed with filters
and skip/limit; categories; and statistics computed from the published posts."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from ghlbridge.catalog import Catalog
from ghlbridge.catalog.model import Operation
from ghlbridge.catalog.registry import CATALOG_PATH
from ghlbridge.client import ASGITransport, BadRequestError, GHLClient
from ghlbridge.sandbox import Sandbox, SandboxSettings, core, create_app
from ghlbridge.sandbox.handlers import social_planner, social_statistics
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


# -- accounts, posts, categories and statistics, through the real client ----------------------
# Until `ghlbridge.sandbox.handlers` registers `social_statistics`, `Social` does.
# The specs type a post's `type`/`status` (and a few other string fields) `object`; until the
# catalog generator drops that type, `_strings_typed_as_objects_relaxed` does it here.

WIDE = {"fromDate": "2000-01-01T00:00:00.000Z", "toDate": "2100-01-01T00:00:00.000Z"}


def _strings_typed_as_objects_relaxed(node: Any) -> None:
    if isinstance(node, dict):
        scalar = "example" in node and not isinstance(node["example"], dict | list)
        if node.get("type") == "object" and scalar and not node.get("properties"):
            del node["type"]
        for value in node.values():
            _strings_typed_as_objects_relaxed(value)
    elif isinstance(node, list):
        for value in node:
            _strings_typed_as_objects_relaxed(value)


def _catalog() -> Catalog:
    data = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    _strings_typed_as_objects_relaxed(data["operations"])
    return Catalog([Operation.from_dict(op) for op in data["operations"]])


CATALOG = _catalog()


class Social:
    """An in-process sandbox with a clock the test moves, and a client on it."""

    def __init__(self, demo_records: int = 3) -> None:
        self.now = time.time()
        handlers = {**core.HANDLERS, **social_planner.HANDLERS, **social_statistics.HANDLERS}
        self.sb = Sandbox(
            SandboxSettings(seed=7, demo_records=demo_records),
            catalog=CATALOG,
            handlers=handlers,
            clock=lambda: self.now,
        )
        self.loc = self.sb.location_id
        self.client = GHLClient(
            self.sb.location_token.value,
            transport=ASGITransport(cast(Any, create_app(sandbox=self.sb))),
            base_url="http://sandbox",
            location_id=self.loc,
            catalog=CATALOG,
        )

    async def call(self, op: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        path = {"locationId": self.loc, **(params or {})}
        return await self.client.call(f"social_media_posting.{op}", path, body)

    async def accounts(self) -> list[dict[str, Any]]:
        answer = await self.call("get_account")
        accounts: list[dict[str, Any]] = answer["results"]["accounts"]
        return accounts

    async def posts(self, **filters: Any) -> tuple[list[dict[str, Any]], int]:
        body = {"skip": "0", "limit": "100", "includeUsers": "false", **WIDE, **filters}
        results = (await self.call("get_posts", body=body))["results"]
        return results["posts"], results["count"]

    async def create(self, account: dict[str, Any], **fields: Any) -> dict[str, Any]:
        body = {"accountIds": [account["id"]], "type": "post", "userId": "u1", **fields}
        post: dict[str, Any] = (await self.call("create_post", body=body))["results"]["post"]
        return post

    async def statistics(self, **body: Any) -> dict[str, Any]:
        profiles = [a["profileId"] for a in await self.accounts()]
        answer = await self.client.call(
            "social_media_posting.get_social_media_statistics",
            {"locationId": self.loc},
            {"profileIds": profiles, **body},
        )
        results: dict[str, Any] = answer["results"]
        return results


@pytest.fixture
def social(monkeypatch: pytest.MonkeyPatch) -> Social:
    seeders = tuple(dict.fromkeys((*core.SEEDERS, *social_planner.SEEDERS)))
    monkeypatch.setattr(core, "SEEDERS", seeders)
    return Social()


async def test_seeded_accounts_list_and_delete_with_ghl_account_ids(social: Social) -> None:
    accounts = await social.accounts()
    assert [a["platform"] for a in accounts] == ["facebook", "instagram", "linkedin"]
    for a in accounts:
        assert a["id"] == f"{a['oauthId']}_{social.loc}_{a['profileId']}"
        assert a["isExpired"] is False
    gone = await social.call("delete_account", {"id": accounts[2]["id"]})
    assert gone["results"] == {"id": accounts[2]["id"], "locationId": social.loc}
    assert [a["platform"] for a in await social.accounts()] == ["facebook", "instagram"]
    with pytest.raises(BadRequestError, match="Account not found"):
        await social.call("delete_account", {"id": accounts[2]["id"]})


async def test_post_list_pages_with_string_skip_and_limit_returning_every_post_once(
    social: Social,
) -> None:
    seen: list[str] = []
    skip = 0
    while True:
        body = {"skip": str(skip), "limit": "6", "includeUsers": "true", **WIDE}
        results = (await social.call("get_posts", body=body))["results"]
        assert results["count"] == 20
        if not results["posts"]:
            break
        assert all(p["user"]["id"] == p["createdBy"] for p in results["posts"])
        seen.extend(p["_id"] for p in results["posts"])
        skip += len(results["posts"])
    assert len(seen) == len(set(seen)) == 20
    everything, _ = await social.posts()
    dates = [p["displayDate"] for p in everything]
    assert dates == sorted(dates, reverse=True)  # newest first


async def test_post_list_filters_by_status_account_date_and_post_type(social: Social) -> None:
    counts = {t: (await social.posts(type=t))[1] for t in ("published", "scheduled", "draft")}
    assert counts == {"published": 14, "scheduled": 3, "draft": 2}
    assert (await social.posts(type="failed"))[0][0]["error"] == "Failed due to auth token"
    linkedin = (await social.accounts())[2]
    on_linkedin, _ = await social.posts(accounts=linkedin["id"])
    assert on_linkedin and all(linkedin["id"] in p["accountIds"] for p in on_linkedin)
    week_ago = datetime.fromtimestamp(social.now - 7 * 86400, UTC).isoformat()
    recent, _ = await social.posts(type="published", fromDate=week_ago)
    assert 0 < len(recent) < 14
    assert (await social.posts(postType="reel"))[1] == 0
    with pytest.raises(BadRequestError, match="type must be one of"):
        await social.posts(type="everything")


async def test_created_post_publishes_now_and_turns_tag_names_into_tags(social: Social) -> None:
    account = (await social.accounts())[1]
    post = await social.create(account, summary="Hello", tags=["Webinar", "promo"])
    assert post["status"] == "published" and post["platform"] == "instagram"
    assert post["accountId"] == account["id"] and len(post["_id"]) == 24
    tags = (await social.call("get_tags_location_id"))["results"]["tags"]
    by_name = {t["tag"]: t["_id"] for t in tags}
    assert post["tags"] == [by_name["Webinar"], by_name["Promo"]]  # names match any case
    details = await social.call("get_tags_by_ids", body={"tagIds": post["tags"]})
    assert [t["tag"] for t in details["results"]["tags"]] == ["Webinar", "Promo"]
    got = await social.call("get_post", {"id": post["_id"]})
    assert got["results"]["post"] == post
    with pytest.raises(BadRequestError, match="Invalid account ids"):
        await social.create({"id": "nope"})
    with pytest.raises(BadRequestError, match="Category not found"):
        await social.create(account, tags=["Ghost"], categoryId="nope")
    tags = (await social.call("get_tags_location_id"))["results"]["tags"]
    assert "Ghost" not in [t["tag"] for t in tags]  # a refused post leaves no new tag


async def test_scheduled_post_is_published_when_its_time_comes(social: Social) -> None:
    account = (await social.accounts())[0]
    due = datetime.fromtimestamp(social.now + 3600, UTC).isoformat()
    post = await social.create(account, summary="Later", scheduleDate=due)
    assert post["status"] == "scheduled" and "publishedAt" not in post
    social.now += 2 * 3600
    got = (await social.call("get_post", {"id": post["_id"]}))["results"]["post"]
    assert got["status"] == "published" and got["postId"]
    past = datetime.fromtimestamp(social.now - 60, UTC).isoformat()
    with pytest.raises(BadRequestError, match="future"):
        await social.create(account, status="scheduled", scheduleDate=past)


async def test_edited_then_deleted_post_leaves_the_list_but_shows_under_deleted(
    social: Social,
) -> None:
    post = await social.create((await social.accounts())[0], status="draft", summary="v1")
    edited = await social.call("edit_post", {"id": post["_id"]}, {"type": "post", "summary": "v2"})
    assert edited["message"] == "Updated Post"
    got = (await social.call("get_post", {"id": post["_id"]}))["results"]["post"]
    assert got["summary"] == "v2" and got["status"] == "draft"
    deleted = await social.call("delete_post", {"id": post["_id"]})
    assert deleted["results"] == {"postId": post["_id"]}
    with pytest.raises(BadRequestError, match="Post not found"):
        await social.call("get_post", {"id": post["_id"]})
    assert post["_id"] not in [p["_id"] for p in (await social.posts())[0]]
    assert [p["_id"] for p in (await social.posts(type="deleted"))[0]] == [post["_id"]]


async def test_categories_list_and_get_by_id(social: Social) -> None:
    listed = await social.call("get_categories_location_id", {"limit": "2"})
    assert listed["results"]["count"] == 3
    names = [c["name"] for c in listed["results"]["categories"]]
    assert names == ["Announcements", "Tips"]
    first = listed["results"]["categories"][0]
    got = await social.call("get_categories_id", {"id": first["_id"]})
    assert got["results"]["category"] == first
    with pytest.raises(BadRequestError, match="Category not found"):
        await social.call("get_categories_id", {"id": "missing"})


async def test_statistics_cover_seven_days_and_move_when_a_post_goes_out(social: Social) -> None:
    before = await social.statistics()
    assert before == await social.statistics()  # the same posts give the same numbers
    assert len(before["dayRange"]) == 7
    assert before["dayRange"][-1] == datetime.fromtimestamp(social.now, UTC).strftime("%Y-%m-%d")
    assert set(before["breakdowns"]["impressions"]["platforms"]) == {
        "facebook",
        "instagram",
        "linkedin",
    }
    impressions = before["breakdowns"]["impressions"]
    assert impressions["total"] == before["totals"]["impressions"] > 0
    assert sum(p["value"] for p in impressions["platforms"].values()) == impressions["total"]
    assert sum(before["postPerformance"]["impressions"]) == impressions["total"]

    account = (await social.accounts())[1]
    post = await social.create(account, summary="Fresh")
    after = await social.statistics()
    added = social_statistics.post_metrics(post["_id"], account["id"], "instagram")
    assert after["totals"]["posts"] == before["totals"]["posts"] + 1
    assert after["totals"]["impressions"] == before["totals"]["impressions"] + added["impressions"]
    insta = after["breakdowns"]["impressions"]["platforms"]["instagram"]
    was = before["breakdowns"]["impressions"]["platforms"]["instagram"]
    assert insta["value"] == was["value"] + added["impressions"]
    assert after["postPerformance"]["posts"]["instagram"][-1] == (
        before["postPerformance"]["posts"]["instagram"][-1] + 1
    )


async def test_statistics_narrow_to_the_named_platforms_and_profiles(social: Social) -> None:
    only = await social.statistics(platforms=["linkedin"])
    assert set(only["platformTotals"]["impressions"]) == {"linkedin"}
    assert (
        only["totals"]["impressions"]
        == only["breakdowns"]["impressions"]["platforms"]["linkedin"]["value"]
    )
    nobody = await social.client.call(
        "social_media_posting.get_social_media_statistics",
        {"locationId": social.loc},
        {"profileIds": ["unknown"]},
    )
    assert nobody["results"]["totals"]["impressions"] == 0
    assert nobody["results"]["breakdowns"]["impressions"]["platforms"] == {}
