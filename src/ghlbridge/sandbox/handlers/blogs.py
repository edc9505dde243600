"""Blogs: sites, authors and categories (listed; seeded, since the API cannot create them),
posts (create, update, list) and the url-slug check.

Faithful points: a post must name a blog, an author and categories of its location; its
`urlSlug` is lower-case words joined by hyphens and unique in the location (the slug check
answers ``exists`` against the same rule, ignoring `postId`, the post being edited); an
``ARCHIVED`` post is ``archived``. Lists page by ``offset``/``limit`` (sites by
``skip``/``limit``); posts come newest published first, filtered by `status` and by
`searchTerm` in the title.
"""

from __future__ import annotations

import re
from typing import Any

from ghlbridge.sandbox.errors import bad_request
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.dates import DAY_MS, require_ms, to_ms
from ghlbridge.sandbox.handlers.social_planner import hex_id
from ghlbridge.sandbox.paging import Entry, window
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec, Seeder, iso

BLOG_SITES = ResourceSpec("blogSites", id_field="_id", created_field=None, updated_field=None)
BLOG_AUTHORS = ResourceSpec(
    "blogAuthors", id_field="_id", created_field=None, updated_field="updatedAt"
)
BLOG_CATEGORIES = ResourceSpec(
    "blogCategories", id_field="_id", created_field=None, updated_field="updatedAt"
)
BLOG_POSTS = ResourceSpec(
    "blogPosts", id_field="_id", created_field=None, updated_field="updatedAt"
)
BLOG_HOST = "https://blog.sandbox.example"
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_POST_FIELDS = (
    "blogId", "title", "description", "imageUrl", "imageAltText", "author", "categories",
    "tags", "urlSlug", "canonicalLink", "status", "publishedAt", "rawHTML",
)  # fmt: skip
_NOT_FOUND = "Blog post not found"


def _page(call: Call, records: list[Record]) -> list[Record]:
    entries = [Entry(str(r["_id"]), i) for i, r in enumerate(records)]
    win = window(call.op, call.query, entries)
    return records[win.start : win.end]


def _slug_taken(loc: LocationState, slug: str, exclude: str | None = None) -> bool:
    return (
        loc.collection(BLOG_POSTS).find(lambda r: r["urlSlug"] == slug and r["_id"] != exclude)
        is not None
    )


def _checked(call: Call, loc: LocationState, exclude: str | None) -> dict[str, Any]:
    """The post fields of the body, after GHL's reference and slug checks."""
    body = call.json
    fields = {k: body[k] for k in _POST_FIELDS if k in body}
    if str(fields["blogId"]) not in loc.collection(BLOG_SITES):
        raise bad_request("Blog not found")
    if str(fields["author"]) not in loc.collection(BLOG_AUTHORS):
        raise bad_request("Author not found")
    categories = loc.collection(BLOG_CATEGORIES)
    unknown = [str(c) for c in fields["categories"] if str(c) not in categories]
    if unknown:
        raise bad_request(f"Category not found: {', '.join(unknown)}")
    slug = str(fields["urlSlug"])
    if not _SLUG.match(slug):
        raise bad_request("urlSlug may hold lower-case letters, digits and single hyphens only")
    if _slug_taken(loc, slug, exclude):
        raise bad_request("Url slug already exists")
    fields["publishedAt"] = iso(require_ms(fields["publishedAt"], "publishedAt"))
    fields["archived"] = fields["status"] == "ARCHIVED"
    fields.setdefault("tags", [])
    fields.setdefault("canonicalLink", f"{BLOG_HOST}/post/{slug}")
    return fields


def add_blog_site(loc: LocationState, name: str) -> Record:
    return loc.collection(BLOG_SITES).create({"name": name}, record_id=loc.new_id())


def add_blog_author(loc: LocationState, name: str) -> Record:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return loc.collection(BLOG_AUTHORS).create(
        {"name": name, "canonicalLink": f"{BLOG_HOST}/author/{slug}"}, record_id=loc.new_id()
    )


def add_blog_category(loc: LocationState, label: str, slug: str) -> Record:
    return loc.collection(BLOG_CATEGORIES).create(
        {  # the spec lists `label` and requires `name`: both are sent
            "label": label,
            "name": label,
            "urlSlug": slug,
            "canonicalLink": f"{BLOG_HOST}/category/{slug}",
        },
        record_id=loc.new_id(),
    )


def create_post(call: Call) -> Reply:
    loc = call.location()
    post = loc.collection(BLOG_POSTS).create(_checked(call, loc, None), record_id=hex_id(loc))
    return call.ok({"data": post})


def update_post(call: Call) -> Reply:
    loc, post = call.find(BLOG_POSTS, call.path_params["postId"], _NOT_FOUND)
    fields = _checked(call, loc, post["_id"])
    return call.ok({"updatedBlogPost": loc.collection(BLOG_POSTS).update(post["_id"], fields)})


def list_posts(call: Call) -> Reply:
    q = call.query
    text = str(q.get("searchTerm") or "").strip().lower()
    rows = [
        p
        for p in call.location().collection(BLOG_POSTS)
        if p["blogId"] == q["blogId"]
        and q.get("status") in (None, "", p["status"])
        and text in str(p["title"]).lower()
    ]
    rows.sort(key=lambda p: (to_ms(p["publishedAt"]) or 0, p["_id"]), reverse=True)
    return call.ok(
        {"blogs": [{k: v for k, v in p.items() if k != "rawHTML"} for p in _page(call, rows)]}
    )


def slug_exists(call: Call) -> Reply:
    loc = call.location()
    exclude = call.query.get("postId") or None
    return call.ok({"exists": _slug_taken(loc, str(call.query["urlSlug"]), exclude)})


def list_sites(call: Call) -> Reply:
    text = str(call.query.get("searchTerm") or "").strip().lower()
    sites = [s for s in call.location().collection(BLOG_SITES) if text in s["name"].lower()]
    return call.ok({"data": _page(call, sites)})


def list_authors(call: Call) -> Reply:
    return call.ok({"authors": _page(call, list(call.location().collection(BLOG_AUTHORS)))})


def list_categories(call: Call) -> Reply:
    return call.ok({"categories": _page(call, list(call.location().collection(BLOG_CATEGORIES)))})


def seed_blogs(loc: LocationState, count: int) -> None:
    """One blog with an author and a category, and two published posts and a draft."""
    site = add_blog_site(loc, f"{loc.name} Blog")
    author = add_blog_author(loc, "Sandbox Author")
    category = add_blog_category(loc, "Agency Growth", "agency-growth")
    now = loc.clock.now_ms()
    demo = (
        ("Five ways to win back lost leads", "win-back-lost-leads", "PUBLISHED", 9),
        ("What we learned from 100 onboarding calls", "onboarding-lessons", "PUBLISHED", 3),
        ("Our plans for next quarter", "next-quarter-plans", "DRAFT", 0),
    )
    posts = loc.collection(BLOG_POSTS)
    for title, slug, status, days_ago in demo:
        posts.create(
            {
                "blogId": site["_id"],
                "title": title,
                "description": f"{title}.",
                "imageUrl": f"{BLOG_HOST}/images/{slug}.png",
                "imageAltText": title,
                "author": author["_id"],
                "categories": [category["_id"]],
                "tags": ["sandbox"],
                "urlSlug": slug,
                "canonicalLink": f"{BLOG_HOST}/post/{slug}",
                "status": status,
                "archived": False,
                "publishedAt": iso(now - days_ago * DAY_MS),
                "rawHTML": f"<h1>{title}</h1>",
            },
            record_id=hex_id(loc),
        )


HANDLERS: dict[str, Handler] = {
    "blogs.get_blogs": list_sites,
    "blogs.get_all_blog_authors_by_location": list_authors,
    "blogs.get_all_categories_by_location": list_categories,
    "blogs.get_blog_post": list_posts,
    "blogs.create_blog_post": create_post,
    "blogs.update_blog_post": update_post,
    "blogs.check_url_slug_exists": slug_exists,
}
SEEDERS: tuple[Seeder, ...] = (seed_blogs,)
