"""Locations are real state: read, searched with skip/limit, created (a usable location),
updated and deleted by the agency; and the company reads back from the world."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import pytest

from ghlbridge.catalog import load_catalog
from ghlbridge.client import ASGITransport, BadRequestError, ForbiddenError, GHLClient
from ghlbridge.sandbox import Change, RateLimit, Sandbox, SandboxSettings, core, create_app
from ghlbridge.sandbox.handlers import HANDLERS, SEEDERS, contacts, locations, oauth, users
from ghlbridge.sandbox.validation import schema_problems

BASE = "http://sandbox"


@dataclass
class Env:
    sb: Sandbox
    agency: GHLClient
    location: GHLClient

    def client(self, token: str, location_id: str | None = None) -> GHLClient:
        return GHLClient(
            token, transport=self.agency.transport, base_url=BASE, location_id=location_id
        )


@pytest.fixture
async def env(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    seeders = (locations.seed_location_profile, *SEEDERS, users.seed_users)
    monkeypatch.setattr(core, "SEEDERS", tuple(dict.fromkeys(seeders)))
    handlers = {
        **HANDLERS,
        **contacts.HANDLERS,
        **locations.HANDLERS,
        **users.HANDLERS,
        **oauth.HANDLERS,
    }
    settings = SandboxSettings(seed=31, rate_limit=RateLimit(100_000, 10.0), demo_records=1)
    sb = Sandbox(settings, handlers=handlers)
    transport = ASGITransport(cast(Any, create_app(sandbox=sb)))
    agency = GHLClient(
        sb.agency_token.value, transport=transport, base_url=BASE, company_id=sb.company_id
    )
    location = GHLClient(
        sb.location_token.value, transport=transport, base_url=BASE, location_id=sb.location_id
    )
    yield Env(sb, agency, location)
    sb.close()


def _fits(op_id: str, answer: Any) -> Any:
    schema = load_catalog().get(op_id).response.schema
    assert schema is not None and schema_problems(schema, answer) == [], op_id
    return answer


async def test_get_location_answers_its_profile(env: Env) -> None:
    answer = await env.location.call("locations.get_location", {"locationId": env.sb.location_id})
    location = _fits("locations.get_location", answer)["location"]
    assert location["id"] == env.sb.location_id and location["companyId"] == env.sb.company_id
    assert location["name"] == "Sandbox Location"
    assert location["settings"]["allowDuplicateContact"] is False
    assert location["business"]["name"] == "Sandbox Location"
    same = await env.agency.call("locations.get_location", {"locationId": env.sb.location_id})
    assert same == answer


async def test_search_pages_every_location_once_in_either_order(env: Env) -> None:
    names = [f"Branch {i}" for i in range(6)]
    for name in names:
        env.sb.add_location(name=name)
    every = ["Sandbox Location", *names]
    pager = env.agency.pager("locations.search_locations", {"limit": 3})
    assert [loc["name"] async for loc in pager.items()] == every
    newest = await env.agency.call(
        "locations.search_locations", {"order": "desc", "skip": 1, "limit": 2}
    )
    _fits("locations.search_locations", newest)
    assert [loc["name"] for loc in newest["locations"]] == ["Branch 4", "Branch 3"]
    mine = await env.location.call("locations.search_locations")
    assert [loc["id"] for loc in mine["locations"]] == [env.sb.location_id]
    by_email = await env.agency.call(
        "locations.search_locations", {"email": "HELLO@branch2.example.com"}
    )
    assert [loc["name"] for loc in by_email["locations"]] == ["Branch 2"]


async def test_created_location_is_seeded_announced_and_usable(env: Env) -> None:
    changes: list[Change] = []
    env.sb.world.subscribe(changes.append)
    body = {
        "companyId": env.sb.company_id,
        "name": "Austin Dental",
        "city": "Austin",
        "prospectInfo": {"firstName": "Pat", "lastName": "Doe", "email": "pat@dental.test"},
        "settings": {"allowDuplicateContact": True},
    }
    created = _fits(
        "locations.create_location", await env.agency.call("locations.create_location", body=body)
    )
    new_id = created["id"]
    assert created["name"] == "Austin Dental" and created["city"] == "Austin"
    assert created["email"] == "pat@dental.test"
    assert created["settings"]["allowDuplicateContact"] is True
    location_changes = [c for c in changes if c.resource == "locations"]
    assert [(c.action, c.location_id) for c in location_changes] == [("create", new_id)]
    assert location_changes[0].record["name"] == "Austin Dental"
    assert changes[0].resource == "locations"  # announced before the location's contents
    assert [c.resource for c in changes[1:]].count("users") == 1  # the seeded user
    found = await env.agency.call("locations.search_locations", {"limit": 10})
    assert new_id in [loc["id"] for loc in found["locations"]]

    token = env.sb.tokens.issue(
        env.sb.oauth_client,
        company_id=env.sb.company_id,
        location_id=None,
        scopes=env.sb.all_scopes,
    ).access.value
    exchanged = await env.client(token).call(
        "oauth.get_location_access_token",
        body={"companyId": env.sb.company_id, "locationId": new_id},
    )
    branch = env.client(exchanged["access_token"], new_id)
    first = await branch.call("contacts.create_contact", body={"email": "twin@example.com"})
    twin = await branch.call("contacts.create_contact", body={"email": "twin@example.com"})
    assert first["contact"]["locationId"] == twin["contact"]["locationId"] == new_id
    users_there = await branch.call("users.get_user_by_location")
    assert len(users_there["users"]) == 1


async def test_update_location_changes_profile_and_behaviour(env: Env) -> None:
    ref = {"locationId": env.sb.location_id}
    changes: list[Change] = []
    env.sb.world.subscribe(changes.append)
    updated = await env.agency.call(
        "locations.put_location",
        ref,
        {
            "companyId": env.sb.company_id,
            "name": "Renamed HQ",
            "settings": {"allowDuplicateContact": True},
            "social": {"twitter": "@hq"},
        },
    )
    _fits("locations.put_location", updated)
    assert updated["name"] == "Renamed HQ" and updated["social"] == {"twitter": "@hq"}
    assert updated["settings"]["allowDuplicateOpportunity"] is False  # untouched, kept
    assert env.sb.location().name == "Renamed HQ"
    for _ in range(2):  # duplicates are now allowed in this location
        await env.location.call("contacts.create_contact", body={"email": "dup@example.com"})
    update = next(c for c in changes if c.resource == "locations")
    assert update.action == "update" and update.previous is not None
    assert update.previous["name"] == "Sandbox Location"


async def test_deleted_location_leaves_the_world(env: Env) -> None:
    doomed, pit = env.sb.add_location(name="Doomed")
    answer = await env.agency.call(
        "locations.delete_location", {"locationId": doomed.id, "deleteTwilioAccount": False}
    )
    assert _fits("locations.delete_location", answer)["success"] is True
    assert doomed.id not in env.sb.world.locations
    found = await env.agency.call("locations.search_locations", {"limit": 50})
    assert doomed.id not in [loc["id"] for loc in found["locations"]]
    with pytest.raises(ForbiddenError):
        await env.client(pit.value, doomed.id).call("contacts.create_contact", body={})


async def test_location_write_routes_need_an_agency_token(env: Env) -> None:
    with pytest.raises(Exception, match="agency"):
        await env.location.call(
            "locations.put_location",
            {"locationId": env.sb.location_id},
            {"companyId": env.sb.company_id, "name": "x"},
        )


async def test_company_reads_back_from_the_world(env: Env) -> None:
    env.sb.add_location(name="Second")
    answer = await env.agency.call("companies.get_company", {"companyId": env.sb.company_id})
    company = _fits("companies.get_company", answer)["company"]
    assert company["id"] == env.sb.company_id and company["locationCount"] == 2
    with pytest.raises((ForbiddenError, BadRequestError)):
        await env.agency.call("companies.get_company", {"companyId": "another-company"})
