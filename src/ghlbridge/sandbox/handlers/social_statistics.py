"""Social Planner statistics: ``POST /social-media-posting/statistics``.

GHL reports the last 7 days (today included, UTC) against the 7 before them, for the
connected accounts named by `profileIds` (the accounts' ``profileId``), optionally narrowed
to `platforms`. Here every published post counts on the day it went out, on each of its
accounts, with impressions, reach, likes, comments and shares drawn from a seed of (post,
account): the same posts always give the same numbers, and a new post moves them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.dates import DAY_MS, day_label, day_start, to_ms
from ghlbridge.sandbox.handlers.social_planner import SOCIAL_ACCOUNTS, SOCIAL_POSTS, settle_posts
from ghlbridge.sandbox.ids import derive_seed
from ghlbridge.sandbox.state import Record

DAYS = 7
METRICS = ("impressions", "reach", "likes", "comments", "shares", "posts")
_AGES = ("13-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_AGE_WEIGHTS = (2, 18, 31, 23, 14, 8, 4)
_PLATFORM_REACH = {"facebook": 1.0, "instagram": 1.4, "linkedin": 0.6, "tiktok": 2.0}


def post_metrics(post_id: str, account_id: str, platform: str) -> dict[str, int]:
    """One post's numbers on one account: stable for the pair, scaled per network."""
    rng = random.Random(derive_seed("socialPostStats", post_id, account_id))
    impressions = int(rng.randint(300, 4000) * _PLATFORM_REACH.get(platform, 1.0))
    likes = int(impressions * rng.uniform(0.02, 0.08))
    return {
        "impressions": impressions,
        "reach": int(impressions * rng.uniform(0.55, 0.9)),
        "likes": likes,
        "comments": int(likes * rng.uniform(0.05, 0.3)),
        "shares": int(likes * rng.uniform(0.02, 0.2)),
        "posts": 1,
    }


def followers(account: Record, day: int) -> int:
    """An account's follower count `day` days after the report's first day (may be < 0)."""
    rng = random.Random(derive_seed("socialFollowers", account["profileId"]))
    base, growth = rng.randint(800, 12_000), rng.randint(1, 25)
    return max(base + growth * day, 0)


def change(current: float, previous: float) -> float:
    """Percent change from the previous period (100 when it starts from nothing)."""
    if previous == 0:
        return 100.0 if current else 0.0
    return round((current - previous) / previous * 100, 2)


@dataclass
class Tally:
    """Sums per platform for the current days (one series each) and the previous period."""

    platforms: list[str]
    series: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    previous: dict[str, dict[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for p in self.platforms:
            self.series[p] = {m: [0] * DAYS for m in METRICS}
            self.previous[p] = dict.fromkeys(METRICS, 0)

    def add(self, platform: str, day: int, numbers: dict[str, int]) -> None:
        for metric, value in numbers.items():
            if day >= 0:
                self.series[platform][metric][day] += value
            else:
                self.previous[platform][metric] += value

    def total(self, platform: str, metric: str) -> int:
        return sum(self.series[platform][metric])

    def grand(self, metric: str, *, previous: bool = False) -> int:
        if previous:
            return sum(self.previous[p][metric] for p in self.platforms)
        return sum(self.total(p, metric) for p in self.platforms)

    def daily(self, metric: str) -> list[int]:
        return [sum(self.series[p][metric][d] for p in self.platforms) for d in range(DAYS)]


def _breakdown(tally: Tally, metric: str) -> dict[str, Any]:
    return {
        "total": tally.grand(metric),
        "totalChange": change(tally.grand(metric), tally.grand(metric, previous=True)),
        "platforms": {
            p: {
                "value": tally.total(p, metric),
                "change": change(tally.total(p, metric), tally.previous[p][metric]),
            }
            for p in tally.platforms
        },
    }


def _engagement(tally: Tally, platform: str) -> dict[str, Any]:
    now = {m: tally.total(platform, m) for m in ("likes", "comments", "shares")}
    before = sum(tally.previous[platform][m] for m in ("likes", "comments", "shares"))
    return {**now, "change": change(sum(now.values()), before)}


def _demographics(reach: int) -> dict[str, Any]:
    weight = sum(_AGE_WEIGHTS)
    ages = {a: reach * w // weight for a, w in zip(_AGES, _AGE_WEIGHTS, strict=True)}
    split = {"female": reach * 52 // 100, "male": reach * 44 // 100}
    split["unknown"] = reach - split["female"] - split["male"]
    genders = {
        g: {"total": n, "percentage": round(n / reach * 100, 2) if reach else 0.0}
        for g, n in split.items()
    }
    return {"age": {"totals": ages}, "gender": {"totals": genders}}


def statistics(call: Call) -> Reply:
    loc = call.location()
    now = loc.clock.now_ms()
    settle_posts(loc, now)
    body = call.json
    profiles = {str(p) for p in body.get("profileIds") or []}
    wanted = set(body.get("platforms") or [])
    accounts = {
        a["id"]: a
        for a in loc.collection(SOCIAL_ACCOUNTS)
        if a["profileId"] in profiles and (not wanted or a["platform"] in wanted)
    }
    first_day = day_start(now) - (DAYS - 1) * DAY_MS
    tally = Tally(sorted({a["platform"] for a in accounts.values()}))
    for post in loc.collection(SOCIAL_POSTS):
        went_out = to_ms(post.get("publishedAt"))
        if post["status"] != "published" or went_out is None:
            continue
        day = (went_out - first_day) // DAY_MS
        if not -DAYS <= day < DAYS:
            continue
        for account_id in post.get("accountIds") or []:
            account = accounts.get(account_id)
            if account is not None:
                numbers = post_metrics(post["_id"], account_id, account["platform"])
                tally.add(account["platform"], int(day), numbers)
    follower_series = {
        p: [
            sum(followers(a, d) for a in accounts.values() if a["platform"] == p)
            for d in range(DAYS)
        ]
        for p in tally.platforms
    }

    def per_platform(metric: str) -> dict[str, Any]:
        return {
            p: {"total": tally.total(p, metric), "series": tally.series[p][metric]}
            for p in tally.platforms
        }

    results = {
        "dayRange": [day_label(first_day + d * DAY_MS) for d in range(DAYS)],
        "totals": {
            "posts": tally.grand("posts"),
            "likes": tally.grand("likes"),
            "comments": tally.grand("comments"),
            "impressions": tally.grand("impressions"),
            "followers": sum(s[-1] for s in follower_series.values()),
        },
        "postPerformance": {
            "posts": {p: tally.series[p]["posts"] for p in tally.platforms},
            "likes": tally.daily("likes"),
            "comments": tally.daily("comments"),
            "impressions": tally.daily("impressions"),
        },
        "breakdowns": {
            "impressions": _breakdown(tally, "impressions"),
            "reach": _breakdown(tally, "reach"),
            "posts": _breakdown(tally, "posts"),
            "engagement": {p: _engagement(tally, p) for p in tally.platforms},
        },
        "platformTotals": {
            "followers": {p: {"total": s[-1], "series": s} for p, s in follower_series.items()},
            "impressions": per_platform("impressions"),
            "likes": per_platform("likes"),
        },
        "demographics": _demographics(tally.grand("reach")),
    }
    return call.ok(
        {"message": "Analytics Built Successfully", "results": results, "traceId": call.trace_id()}
    )


HANDLERS: dict[str, Handler] = {
    "social_media_posting.get_social_media_statistics": statistics,
}
