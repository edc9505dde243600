"""Blogs are real state: a seeded site with an author and a category, posts created and
updated with reference and slug checks, listed by offset/limit with filters, and the
url-slug check answering against the stored posts."""

from __future__ import annotations

from typing import Any, cast

import pytest

from ghlbridge.client import ASGITransport, BadRequestError, GHLClient
from ghlbridge.sandbox import Sandbox, SandboxSettings, core, create_app
from ghlbridge.sandbox.handlers import blogs


class Blog:
    """An in-process sandbox with the blog handlers and seeders, and a client on it."""

    def __init__(self) -> None:
        self.sb = Sandbox(SandboxSettings(seed=7), handlers={**core.HANDLERS, **blogs.HANDLERS})
        self.loc = self.sb.location_id
        self.client = GHLClient(
            self.sb.location_token.value,
            transport=ASGITransport(cast(Any, create_app(sandbox=self.sb))),
            base_url="http://sandbox",
            location_id=self.loc,
        )

    async def call(self, op: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        return await self.client.call(f"blogs.{op}", params, body)

    async def listing(self, op: str, key: str, **query: Any) -> list[dict[str, Any]]:
        answer = await self.call(op, {"locationId": self.loc, **query})
        items: list[dict[str, Any]] = answer[key]
        return items

    async def new_post(self, **fields: Any) -> dict[str, Any]:
        site = (await self.listing("get_blogs", "data", skip=0, limit=10))[0]
        author = (await self.listing("get_all_blog_authors_by_location", "authors", **PAGE))[0]
        category = (await self.listing("get_all_categories_by_location", "categories", **PAGE))[0]
        return {
            "locationId": self.loc,
            "blogId": site["_id"],
            "author": author["_id"],
            "categories": [category["_id"]],
            "title": "Launch notes",
            "description": "What shipped",
            "imageUrl": "https://example.com/i.png",
            "imageAltText": "Launch",
            "publishedAt": "2025-02-05T18:30:47.000Z",
            "rawHTML": "<h1>Launch notes</h1>",
            "status": "PUBLISHED",
            "urlSlug": "launch-notes",
            **fields,
        }


PAGE = {"limit": 10, "offset": 0}


@pytest.fixture
def blog(monkeypatch: pytest.MonkeyPatch) -> Blog:
    monkeypatch.setattr(core, "SEEDERS", tuple(dict.fromkeys((*core.SEEDERS, *blogs.SEEDERS))))
    return Blog()


async def test_seeded_site_author_and_category_are_listed(blog: Blog) -> None:
    [site] = await blog.listing("get_blogs", "data", skip=0, limit=10)
    assert site["name"] == "Sandbox Location Blog"
    [author] = await blog.listing("get_all_blog_authors_by_location", "authors", **PAGE)
    assert author["name"] == "Sandbox Author" and author["canonicalLink"].startswith("https://")
    [category] = await blog.listing("get_all_categories_by_location", "categories", **PAGE)
    assert category["label"] == "Agency Growth" and category["urlSlug"] == "agency-growth"
    assert await blog.listing("get_blogs", "data", skip=0, limit=10, searchTerm="nothing") == []


async def test_created_post_is_listed_and_its_slug_then_exists(blog: Blog) -> None:
    check = {"locationId": blog.loc, "urlSlug": "launch-notes"}
    assert (await blog.call("check_url_slug_exists", check)) == {"exists": False}
    created = (await blog.call("create_blog_post", None, await blog.new_post()))["data"]
    assert len(created["_id"]) == 24 and created["archived"] is False
    assert (await blog.call("check_url_slug_exists", check)) == {"exists": True}
    assert (await blog.call("check_url_slug_exists", {**check, "postId": created["_id"]})) == {
        "exists": False
    }
    listed = await blog.listing("get_blog_post", "blogs", blogId=created["blogId"], **PAGE)
    assert [p["title"] for p in listed] == [  # newest publishedAt first
        "Our plans for next quarter",
        "What we learned from 100 onboarding calls",
        "Five ways to win back lost leads",
        "Launch notes",
    ]
    assert "rawHTML" not in listed[0]


async def test_post_list_pages_by_offset_and_filters_by_status_and_title(blog: Blog) -> None:
    body = await blog.new_post()
    for i in range(4):
        await blog.call("create_blog_post", None, {**body, "urlSlug": f"p-{i}", "title": f"P{i}"})
    site = body["blogId"]
    query = {"locationId": blog.loc, "blogId": site, "offset": 0, "limit": 3}
    titles = [p["title"] async for p in blog.client.paginate("blogs.get_blog_post", query)]
    assert len(titles) == len(set(titles)) == 7
    drafts = await blog.listing("get_blog_post", "blogs", blogId=site, status="DRAFT", **PAGE)
    assert [p["title"] for p in drafts] == ["Our plans for next quarter"]
    found = await blog.listing("get_blog_post", "blogs", blogId=site, searchTerm="p2", **PAGE)
    assert [p["title"] for p in found] == ["P2"]


async def test_update_archives_and_refuses_a_taken_slug_or_unknown_author(blog: Blog) -> None:
    body = await blog.new_post()
    post = (await blog.call("create_blog_post", None, body))["data"]
    changed = await blog.call(
        "update_blog_post", {"postId": post["_id"]}, {**body, "status": "ARCHIVED"}
    )
    assert changed["updatedBlogPost"]["archived"] is True
    with pytest.raises(BadRequestError, match="Url slug already exists"):
        await blog.call(
            "update_blog_post", {"postId": post["_id"]}, {**body, "urlSlug": "onboarding-lessons"}
        )
    with pytest.raises(BadRequestError, match="Author not found"):
        await blog.call("create_blog_post", None, {**body, "urlSlug": "x", "author": "nobody"})
    with pytest.raises(BadRequestError, match="Blog post not found"):
        await blog.call("update_blog_post", {"postId": "missing"}, body)
