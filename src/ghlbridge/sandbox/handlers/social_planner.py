"""Social Planner: connected accounts, posts, tags and categories under
``/social-media-posting/{locationId}/...`` (statistics are in `social_statistics`).

GHL's public API cannot connect an account (that takes each network's OAuth in the app) nor
create a tag or a category, so each new location is seeded with a Facebook, an Instagram and
a LinkedIn account, categories, tags and a few weeks of posts; `add_social_account`,
`add_social_tag` and `rename_social_tag` let tests and the demo change them as a user would.

Faithful points: a post names tags by id or by name, and a name the location does not know
yet becomes a new tag (as typing one in the composer does); a post without a status is
published at once, or scheduled when its `scheduleDate` lies ahead, and a scheduled post is
published once its time has come; deleting a post marks it ``deleted`` (the list's
``type: deleted`` still shows it); the list filters by date, status, account and post type,
newest first, paged by ``skip``/``limit`` in the body.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping
from typing import Any

from ghlbridge.sandbox.errors import bad_request, unprocessable
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.dates import DAY_MS, require_ms, to_ms
from ghlbridge.sandbox.ids import derive_seed
from ghlbridge.sandbox.paging import Entry, window
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec, Seeder, iso

SOCIAL_TAGS = ResourceSpec(
    "socialTags", id_field="_id", created_field="createdAt", updated_field="updatedAt"
)
SOCIAL_CATEGORIES = ResourceSpec(
    "socialCategories", id_field="_id", created_field="createdAt", updated_field="updatedAt"
)
SOCIAL_ACCOUNTS = ResourceSpec("socialAccounts", created_field=None, updated_field=None)
SOCIAL_POSTS = ResourceSpec(
    "socialPosts", id_field="_id", created_field="createdAt", updated_field="updatedAt"
)

DEMO_TAG_NAMES = ("Product Launch", "Promo", "Evergreen", "Holiday", "Testimonial", "Backstage")
DEMO_CATEGORIES = (("Announcements", "#1E88E5"), ("Tips", "#43A047"), ("Events", "#F4511E"))
DEMO_ACCOUNTS = (("facebook", "page"), ("instagram", "business"), ("linkedin", "page"))
DEMO_POSTS = 20
POST_TYPES = ("post", "story", "reel")
POST_STATUSES = (
    "in_progress", "draft", "failed", "published", "scheduled", "in_review",
    "notification_sent", "deleted",
)  # fmt: skip
LIST_TYPES = (
    "recent", "all", "scheduled", "draft", "failed", "in_review", "published", "in_progress",
    "deleted",
)  # fmt: skip
_POST_FIELDS = (
    "accountIds", "categoryId", "followUpComment", "gmbPostDetails", "media", "ogTagsDetails",
    "postApprovalDetails", "scheduleDate", "scheduleTimeUpdated", "summary", "tags",
    "tiktokPostDetails", "type",
)  # fmt: skip
_SUMMARIES = (
    "New arrivals are in: come see what's fresh this week.",
    "Three quick tips to get more from your morning routine.",
    "Thank you to everyone who joined our live session!",
    "Behind the scenes: how our team prepares every order.",
    "Weekend offer: 20% off everything until Sunday.",
    "Meet the team: this week, our customer care lead.",
    "Customer story: how Dana cut her prep time in half.",
)
_FIRST_NAMES = ("Harry", "Maya", "Omar", "Lena", "Theo", "Priya")
_LAST_NAMES = ("Spencer", "Lopez", "Haddad", "Novak", "Brooks", "Iyer")


def hex_id(loc: LocationState) -> str:
    """A seed-stable 24-hex id (Social Planner and blog posts have Mongo ids)."""
    return hashlib.blake2b(loc.new_id().encode(), digest_size=12).hexdigest()


def _envelope(call: Call, message: str, results: Any = None) -> Reply:
    body: dict[str, Any] = {
        "success": True,
        "statusCode": call.op.response.status,
        "message": message,
    }
    if results is not None:
        body["results"] = results
    return call.ok(body)


def _page(call: Call, args: Mapping[str, Any], records: list[Record], id_field: str) -> list[Any]:
    """`records` (in answer order) cut to the page the call's skip/limit select."""
    entries = [Entry(str(r[id_field]), i) for i, r in enumerate(records)]
    win = window(call.op, args, entries)
    return records[win.start : win.end]


# -- tags -------------------------------------------------------------------------------------
def add_social_tag(loc: LocationState, name: str, *, created_by: str | None = None) -> Record:
    return loc.collection(SOCIAL_TAGS).create(
        {"tag": name, "createdBy": created_by or loc.new_id(), "deleted": False}
    )


def rename_social_tag(loc: LocationState, tag_id: str, name: str) -> Record:
    return loc.collection(SOCIAL_TAGS).update(tag_id, {"tag": name})


def _tag_named(loc: LocationState, name: str) -> Record | None:
    wanted = name.lower()
    return loc.collection(SOCIAL_TAGS).find(
        lambda r: not r["deleted"] and str(r["tag"]).lower() == wanted
    )


def resolve_tags(loc: LocationState, values: Iterable[Any], created_by: str) -> list[str]:
    """Tag ids for a post's `tags`: known ids stay, names map to (or create) the tag."""
    tags = loc.collection(SOCIAL_TAGS)
    out: list[str] = []
    for value in values:
        text = str(value).strip()
        if not text:
            continue
        tag = tags.get(text)
        if tag is None or tag["deleted"]:
            tag = _tag_named(loc, text)
        if tag is None:
            tag = add_social_tag(loc, text, created_by=created_by)
        if tag["_id"] not in out:
            out.append(tag["_id"])
    return out


def list_tags(call: Call) -> Reply:
    tags = call.location().collection(SOCIAL_TAGS)
    text = str(call.query.get("searchText") or "").strip().lower()
    records = [r for r in tags if not r["deleted"] and text in str(r["tag"]).lower()]
    page = _page(call, call.query, records, "_id")
    return _envelope(call, "Fetched Tags by Location ID", {"tags": page, "count": len(records)})


def tags_by_ids(call: Call) -> Reply:
    tags = call.location().collection(SOCIAL_TAGS)
    found = [t for t in (tags.get(str(i)) for i in call.json["tagIds"]) if t is not None]
    return _envelope(call, "Fetched Tags by Tag IDs", {"tags": found, "count": len(found)})


# -- categories -------------------------------------------------------------------------------
def add_social_category(loc: LocationState, name: str, color: str = "#1E88E5") -> Record:
    return loc.collection(SOCIAL_CATEGORIES).create(
        {
            "name": name,
            "primaryColor": color,
            "secondaryColor": "#FFFFFF",
            "createdBy": loc.new_id(),
            "deleted": False,
        },
        record_id=loc.new_id(),
    )


def list_categories(call: Call) -> Reply:
    categories = call.location().collection(SOCIAL_CATEGORIES)
    text = str(call.query.get("searchText") or "").strip().lower()
    records = [r for r in categories if not r["deleted"] and text in str(r["name"]).lower()]
    page = _page(call, call.query, records, "_id")
    return _envelope(
        call,
        "Fetched Categories by Location ID",
        {"categories": page, "count": len(records)},
    )


def get_category(call: Call) -> Reply:
    record = call.location().collection(SOCIAL_CATEGORIES).get(call.path_params["id"])
    if record is None or record["deleted"]:
        raise call.not_found("Category not found")
    return _envelope(call, "Fetched Category", {"category": record})


# -- accounts ---------------------------------------------------------------------------------
def add_social_account(
    loc: LocationState, platform: str, name: str | None = None, *, kind: str = "page"
) -> Record:
    """A connected account, as finishing a network's OAuth in the app leaves one."""
    oauth_id = loc.new_id()
    profile_id = hex_id(loc)
    expire = loc.clock.now_ms() + 60 * DAY_MS
    return loc.collection(SOCIAL_ACCOUNTS).create(
        {
            "oauthId": oauth_id,
            "profileId": profile_id,
            "name": name or f"{loc.name} {platform.capitalize()}",
            "platform": platform,
            "type": kind,
            "expire": iso(expire),
            "isExpired": False,
            "meta": {"canDelete": True},
        },
        record_id=f"{oauth_id}_{loc.id}_{profile_id}",
    )


def list_accounts(call: Call) -> Reply:
    accounts = list(call.location().collection(SOCIAL_ACCOUNTS))
    return _envelope(call, "Fetched Accounts", {"accounts": accounts, "groups": []})


def delete_account(call: Call) -> Reply:
    loc = call.location()
    accounts = loc.collection(SOCIAL_ACCOUNTS)
    record = accounts.get(call.path_params["id"])
    if record is None:
        raise call.not_found("Account not found")
    accounts.delete(record["id"])
    return _envelope(call, "Deleted Account", {"id": record["id"], "locationId": loc.id})


# -- posts ------------------------------------------------------------------------------------
def _display_ms(post: Record) -> int:
    for name in ("publishedAt", "scheduleDate", "createdAt"):
        ms = to_ms(post.get(name))
        if ms is not None:
            return ms
    return 0


def _platform_post_id(post_id: str) -> str:
    rng = random.Random(derive_seed("socialPlatformPost", post_id))
    return str(rng.randrange(10**14, 10**15))


def _published(post_id: str, at_ms: int) -> dict[str, Any]:
    return {
        "status": "published",
        "publishedAt": iso(at_ms),
        "displayDate": iso(at_ms),
        "postId": _platform_post_id(post_id),
    }


def settle_posts(loc: LocationState, now_ms: int) -> None:
    """Publish the scheduled posts whose time has come (the sandbox has no scheduler)."""
    posts = loc.collection(SOCIAL_POSTS)
    for post in posts:
        due = to_ms(post.get("scheduleDate"))
        if post["status"] == "scheduled" and due is not None and due <= now_ms:
            posts.update(post["_id"], _published(post["_id"], due))


def _accounts(loc: LocationState, ids: list[Any]) -> list[Record]:
    if not ids:
        raise unprocessable(["accountIds should not be empty"])
    accounts = loc.collection(SOCIAL_ACCOUNTS)
    unknown = [str(i) for i in ids if str(i) not in accounts]
    if unknown:
        raise bad_request(f"Invalid account ids: {', '.join(unknown)}")
    return [accounts.get(str(i)) or {} for i in ids]


def _check_choice(value: Any, name: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise unprocessable([f"{name} must be one of the following values: {', '.join(allowed)}"])


def _status_fields(post_id: str, status: Any, schedule: Any, now_ms: int) -> dict[str, Any]:
    """What a requested status (or none) and schedule date make of a post's state."""
    due = to_ms(schedule) if schedule not in (None, "") else None
    if schedule not in (None, "") and due is None:
        raise unprocessable(["scheduleDate must be a valid ISO 8601 date string"])
    if status in (None, ""):
        status = "scheduled" if due is not None and due > now_ms else "published"
    _check_choice(status, "status", tuple(s for s in POST_STATUSES if s != "deleted"))
    if status == "published":
        return {**_published(post_id, now_ms), "error": ""}
    if status == "scheduled":
        if due is None or due <= now_ms:
            raise bad_request("scheduleDate must be a future date to schedule a post")
        return {"status": status, "displayDate": iso(due), "error": ""}
    return {"status": status, "error": "Failed due to auth token" if status == "failed" else ""}


def _post_fields(call: Call, loc: LocationState, created_by: str) -> dict[str, Any]:
    """The post fields of the body, checked; tag names become tags last, once all is valid."""
    body = call.json
    fields = {k: body[k] for k in _POST_FIELDS if k in body}
    if "type" in fields:
        _check_choice(fields["type"], "type", POST_TYPES)
    if "accountIds" in fields:
        accounts = _accounts(loc, list(fields["accountIds"] or []))
        fields["accountIds"] = [a["id"] for a in accounts]
        fields["accountId"] = accounts[0]["id"]
        fields["platform"] = accounts[0]["platform"]
    category = fields.get("categoryId")
    if category not in (None, ""):
        found = loc.collection(SOCIAL_CATEGORIES).get(str(category))
        if found is None or found["deleted"]:
            raise bad_request("Category not found")
    if "tags" in fields:
        fields["tags"] = resolve_tags(loc, fields["tags"] or [], created_by)
    return fields


def create_post(call: Call) -> Reply:
    loc = call.location()
    now = loc.clock.now_ms()
    settle_posts(loc, now)
    post_id = hex_id(loc)
    created_by = str(call.json.get("userId") or call.json.get("createdBy") or "")
    state = _status_fields(post_id, call.json.get("status"), call.json.get("scheduleDate"), now)
    fields = {
        "accountIds": [],
        "summary": "",
        "media": [],
        "tags": [],
        "source": "composer",
        "deleted": False,
        "displayDate": iso(now),
        **_post_fields(call, loc, created_by),
        "createdBy": created_by,
        **state,
    }
    post = loc.collection(SOCIAL_POSTS).create(fields, record_id=post_id)
    return _envelope(call, "Created Post", {"post": post})


def _post(call: Call) -> tuple[LocationState, Record]:
    loc = call.location()
    settle_posts(loc, loc.clock.now_ms())
    post = loc.collection(SOCIAL_POSTS).get(call.path_params["id"])
    if post is None or post["deleted"]:
        raise call.not_found("Post not found")
    return loc, post


def get_post(call: Call) -> Reply:
    return _envelope(call, "Fetched Post", {"post": _post(call)[1]})


def edit_post(call: Call) -> Reply:
    loc, post = _post(call)
    body = call.json
    state: dict[str, Any] = {}
    if "status" in body or "scheduleDate" in body:
        status = body.get("status") if "status" in body else post["status"]
        went_out = post["status"] == "published" and status in (None, "", "published")
        if not went_out:  # a published post keeps the time it went out
            schedule = body.get("scheduleDate", post.get("scheduleDate"))
            state = _status_fields(post["_id"], status, schedule, loc.clock.now_ms())
    fields = {**_post_fields(call, loc, str(post.get("createdBy") or "")), **state}
    loc.collection(SOCIAL_POSTS).update(post["_id"], fields)
    return _envelope(call, "Updated Post")


def _mark_deleted(loc: LocationState, post_id: str) -> None:
    loc.collection(SOCIAL_POSTS).update(post_id, {"status": "deleted", "deleted": True})


def delete_post(call: Call) -> Reply:
    loc, post = _post(call)
    _mark_deleted(loc, post["_id"])
    return _envelope(call, "Deleted Post", {"postId": post["_id"]})


def bulk_delete_posts(call: Call) -> Reply:
    loc = call.location()
    posts = loc.collection(SOCIAL_POSTS)
    ids = [str(i) for i in call.json.get("postIds") or []]
    live = [i for i in ids if (p := posts.get(i)) is not None and not p["deleted"]]
    if ids and not live:
        raise call.not_found("Posts not found")
    for post_id in live:
        _mark_deleted(loc, post_id)
    return _envelope(call, "Posts Deleted Successfully", {"deletedCount": len(live)})


def _listed(post: Record, kind: str) -> bool:
    if kind == "deleted":
        return bool(post["deleted"])
    if post["deleted"]:
        return False
    if kind == "all":
        return True
    if kind == "recent":
        return post["status"] in ("published", "failed")
    return bool(post["status"] == kind)


def _user(user_id: str) -> dict[str, Any]:
    """The posting user as `includeUsers` adds it (a stable made-up person per id)."""
    rng = random.Random(derive_seed("socialPostUser", user_id))
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    return {
        "id": user_id,
        "firstName": first,
        "lastName": last,
        "email": f"{first}.{last}@example.com".lower(),
        "phone": f"+1555{rng.randrange(10**6, 10**7)}",
        "profilePhoto": f"https://sandbox.example/avatars/{user_id}.png",
        "title": rng.choice(("Mr", "Ms", "Dr")),
    }


def list_posts(call: Call) -> Reply:
    """POST .../posts/list: posts shown between fromDate and toDate, newest first."""
    loc = call.location()
    settle_posts(loc, loc.clock.now_ms())
    body = call.json
    start = require_ms(body.get("fromDate"), "fromDate")
    end = require_ms(body.get("toDate"), "toDate")
    kind = str(body.get("type") or "all")
    _check_choice(kind, "type", LIST_TYPES)
    accounts = {a.strip() for a in str(body.get("accounts") or "").split(",") if a.strip()}
    post_type = body.get("postType")
    rows = [
        p
        for p in loc.collection(SOCIAL_POSTS)
        if _listed(p, kind)
        and start <= _display_ms(p) <= end
        and (not accounts or accounts & set(p["accountIds"]))
        and (post_type in (None, "") or p.get("type") == post_type)
    ]
    rows.sort(key=lambda p: (_display_ms(p), p["_id"]), reverse=True)
    page = _page(call, body, rows, "_id")
    if str(body.get("includeUsers")).lower() == "true":
        page = [{**p, "user": _user(str(p.get("createdBy") or ""))} for p in page]
    return _envelope(call, "Fetched Posts", {"posts": page, "count": len(rows)})


# -- seeding ----------------------------------------------------------------------------------
def seed_social_tags(loc: LocationState, count: int) -> None:
    for i in range(count):
        name = DEMO_TAG_NAMES[i % len(DEMO_TAG_NAMES)]
        add_social_tag(loc, name if i < len(DEMO_TAG_NAMES) else f"{name} {i}")


def seed_social_planner(loc: LocationState, count: int) -> None:
    """Accounts and categories always; with demo data on, weeks of posts over the accounts.

    Posts 0-13 went out every ~23 hours back from now (so both the statistics' current and
    previous seven days hold some), 14-16 are scheduled over the coming days, then two
    drafts and a failed post.
    """
    accounts = [add_social_account(loc, platform, kind=kind) for platform, kind in DEMO_ACCOUNTS]
    categories = [add_social_category(loc, name, color) for name, color in DEMO_CATEGORIES]
    if count <= 0:
        return
    tags = [t["_id"] for t in loc.collection(SOCIAL_TAGS)]
    user = loc.new_id()
    now = loc.clock.now_ms()
    posts = loc.collection(SOCIAL_POSTS)
    spreads = ((0,), (1,), (2,), (0, 1), (0, 1, 2))
    for i in range(DEMO_POSTS):
        chosen = [accounts[j] for j in spreads[i % len(spreads)]]
        post_id = hex_id(loc)
        fields: dict[str, Any] = {
            "accountIds": [a["id"] for a in chosen],
            "accountId": chosen[0]["id"],
            "platform": chosen[0]["platform"],
            "summary": _SUMMARIES[i % len(_SUMMARIES)],
            "media": [],
            "tags": [tags[i % len(tags)]] if tags else [],
            "categoryId": categories[i % len(categories)]["_id"],
            "type": "post",
            "source": "composer",
            "createdBy": user,
            "deleted": False,
            "error": "",
        }
        if i < 14:
            fields.update(_published(post_id, now - (i * 23 + 2) * 3600 * 1000))
        elif i < 17:
            due = now + (i - 13) * DAY_MS
            fields.update(status="scheduled", scheduleDate=iso(due), displayDate=iso(due))
        else:
            failed = i == DEMO_POSTS - 1
            fields.update(
                status="failed" if failed else "draft",
                error="Failed due to auth token" if failed else "",
                displayDate=iso(now),
            )
        posts.create(fields, record_id=post_id)


HANDLERS: dict[str, Handler] = {
    "social_media_posting.get_tags_location_id": list_tags,
    "social_media_posting.get_tags_by_ids": tags_by_ids,
    "social_media_posting.get_categories_location_id": list_categories,
    "social_media_posting.get_categories_id": get_category,
    "social_media_posting.get_account": list_accounts,
    "social_media_posting.delete_account": delete_account,
    "social_media_posting.create_post": create_post,
    "social_media_posting.get_post": get_post,
    "social_media_posting.edit_post": edit_post,
    "social_media_posting.delete_post": delete_post,
    "social_media_posting.bulk_delete_social_planner_posts": bulk_delete_posts,
    "social_media_posting.get_posts": list_posts,
}
SEEDERS: tuple[Seeder, ...] = (seed_social_tags, seed_social_planner)
