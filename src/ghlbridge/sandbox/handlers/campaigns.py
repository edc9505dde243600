"""Campaigns: ``GET /campaigns/`` lists a location's campaigns, optionally by `status`.

GHL's API cannot create a campaign, so each new location is seeded with two; `add_campaign`
lets tests and the demo add more. Contact enrolment checks `campaignId` against this
``campaigns`` collection.
"""

from __future__ import annotations

from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec, Seeder

CAMPAIGNS = ResourceSpec("campaigns", created_field=None, updated_field=None)
DEMO_CAMPAIGNS = (("Welcome Sequence", "published"), ("Holiday Promo", "draft"))


def add_campaign(loc: LocationState, name: str, status: str = "published") -> Record:
    return loc.collection(CAMPAIGNS).create({"name": name, "status": status})


def seed_campaigns(loc: LocationState, count: int) -> None:
    for name, status in DEMO_CAMPAIGNS:
        add_campaign(loc, name, status)


def list_campaigns(call: Call) -> Reply:
    status = call.query.get("status")
    campaigns = call.location().collection(CAMPAIGNS)
    return call.ok({"campaigns": [c for c in campaigns if status in (None, "", c["status"])]})


HANDLERS: dict[str, Handler] = {"campaigns.get_campaigns": list_campaigns}
SEEDERS: tuple[Seeder, ...] = (seed_campaigns,)
