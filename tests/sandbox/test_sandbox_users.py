"""Users are real state: create, read, update, delete, search with skip/limit, filter by
email, list by location; location tokens see only their location's users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import pytest

from ghlbridge.catalog import load_catalog
from ghlbridge.client import ASGITransport, BadRequestError, ForbiddenError, GHLClient
from ghlbridge.sandbox import Change, RateLimit, Sandbox, SandboxSettings, core, create_app
from ghlbridge.sandbox.handlers import HANDLERS, SEEDERS, users
from ghlbridge.sandbox.validation import schema_problems

BASE = "http://sandbox"


@dataclass
class Env:
    sb: Sandbox
    agency: GHLClient
    location: GHLClient

    def client(self, token: str, location_id: str) -> GHLClient:
        return GHLClient(
            token, transport=self.agency.transport, base_url=BASE, location_id=location_id
        )


@pytest.fixture
async def env(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    monkeypatch.setattr(core, "SEEDERS", tuple(dict.fromkeys((*SEEDERS, users.seed_users))))
    settings = SandboxSettings(seed=23, rate_limit=RateLimit(100_000, 10.0), demo_records=0)
    sb = Sandbox(settings, handlers={**HANDLERS, **users.HANDLERS})
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


async def _user(env: Env, first: str, email: str, **extra: Any) -> dict[str, Any]:
    body = {
        "companyId": env.sb.company_id,
        "firstName": first,
        "lastName": "Tester",
        "email": email,
        "password": "pa55-word",
        "type": "account",
        "role": "user",
        "locationIds": [env.sb.location_id],
        **extra,
    }
    made: dict[str, Any] = _fits(
        "users.create_user", await env.agency.call("users.create_user", body=body)
    )
    return made


async def test_user_crud_reads_back_and_announces_its_creation(env: Env) -> None:
    changes: list[Change] = []
    env.sb.world.subscribe(changes.append)
    user = await _user(env, "Uma", "uma@example.com", permissions={"campaignsEnabled": False})
    assert user["name"] == "Uma Tester" and "password" not in user
    assert user["roles"] == {
        "type": "account",
        "role": "user",
        "locationIds": [env.sb.location_id],
        "restrictSubAccount": False,
    }
    assert user["permissions"]["campaignsEnabled"] is False
    assert user["permissions"]["contactsEnabled"] is True  # the catalog's default
    ref = {"userId": user["id"]}
    assert _fits("users.get_user", await env.location.call("users.get_user", ref)) == user
    updated = await env.agency.call(
        "users.update_user", ref, {"lastName": "Upton", "role": "admin", "phone": "+15550001111"}
    )
    assert updated["name"] == "Uma Upton" and updated["roles"]["role"] == "admin"
    deleted = await env.agency.call("users.delete_user", ref)
    assert deleted["succeded"] is True and "uma@example.com" in deleted["message"]
    with pytest.raises(BadRequestError, match="User not found"):
        await env.agency.call("users.get_user", ref)
    assert [(c.resource, c.action) for c in changes] == [
        ("users", "create"),
        ("users", "update"),
        ("users", "delete"),
    ]
    assert changes[0].location_id == env.sb.location_id


async def test_search_pages_every_user_once_and_filters(env: Env) -> None:
    made = [await _user(env, f"User{i}", f"user{i}@example.com") for i in range(7)]
    params = {"companyId": env.sb.company_id, "limit": 3}
    pager = env.agency.pager("users.search_users", params)
    seen = [u["id"] async for u in pager.items()]
    assert seen == [u["id"] for u in made] and pager.pages_fetched == 3
    page = _fits(
        "users.search_users", await env.agency.call("users.search_users", {**params, "skip": 6})
    )
    assert page["count"] == 7 and [u["id"] for u in page["users"]] == [made[6]["id"]]
    found = await env.agency.call(
        "users.search_users", {"companyId": env.sb.company_id, "query": "USER3@"}
    )
    assert [u["id"] for u in found["users"]] == [made[3]["id"]]
    by_ids = await env.agency.call(
        "users.search_users",
        {"companyId": env.sb.company_id, "ids": f"{made[1]['id']},{made[5]['id']}"},
    )
    assert {u["id"] for u in by_ids["users"]} == {made[1]["id"], made[5]["id"]}
    newest = await env.agency.call(
        "users.search_users", {"companyId": env.sb.company_id, "sortDirection": "desc", "limit": 1}
    )
    assert newest["users"][0]["id"] == made[-1]["id"]


async def test_filter_by_email_finds_users_case_insensitively(env: Env) -> None:
    ann = await _user(env, "Ann", "Ann@Example.com")
    await _user(env, "Ben", "ben@example.com")
    cid = await _user(env, "Cid", "cid@example.com")
    found = await env.agency.call(
        "users.filter_users_by_email",
        body={"companyId": env.sb.company_id, "emails": "ann@example.com, CID@example.com"},
    )
    _fits("users.filter_users_by_email", found)
    assert [u["id"] for u in found["users"]] == [ann["id"], cid["id"]] and found["count"] == 2
    none = await env.agency.call(
        "users.filter_users_by_email",
        body={"companyId": env.sb.company_id, "emails": "nobody@example.com"},
    )
    assert none == {"users": [], "count": 0}


async def test_users_by_location_and_location_tokens_see_only_their_users(env: Env) -> None:
    other, pit = env.sb.add_location(name="Branch")
    here = await _user(env, "Here", "here@example.com")
    there = await _user(env, "There", "there@example.com", locationIds=[other.id])
    both = await _user(env, "Both", "both@example.com", locationIds=[env.sb.location_id, other.id])
    listed = await env.location.call("users.get_user_by_location")
    assert [u["id"] for u in listed["users"]] == [here["id"], both["id"]]
    branch = env.client(pit.value, other.id)
    assert [u["id"] for u in (await branch.call("users.get_user_by_location"))["users"]] == [
        there["id"],
        both["id"],
    ]
    with pytest.raises(ForbiddenError):
        await env.location.call("users.get_user", {"userId": there["id"]})
    visible = await env.location.call("users.search_users", {"companyId": env.sb.company_id})
    assert [u["id"] for u in visible["users"]] == [here["id"], both["id"]]


async def test_duplicate_email_and_unknown_location_are_refused(env: Env) -> None:
    await _user(env, "One", "same@example.com")
    with pytest.raises(BadRequestError, match="already exists"):
        await _user(env, "Two", "SAME@example.com")
    with pytest.raises(BadRequestError, match="Location nowhere not found"):
        await _user(env, "Three", "three@example.com", locationIds=["nowhere"])


async def test_deleting_a_location_moves_its_users_to_their_other_locations(env: Env) -> None:
    other, _ = env.sb.add_location(name="Closing")
    moving = await _user(env, "Mo", "mo@example.com", locationIds=[other.id, env.sb.location_id])
    gone = await _user(env, "Go", "go@example.com", locationIds=[other.id])
    users.rehome_users(env.sb.world, other)
    del env.sb.world.locations[other.id]
    kept = await env.agency.call("users.get_user", {"userId": moving["id"]})
    assert kept["roles"]["locationIds"] == [env.sb.location_id]
    with pytest.raises(BadRequestError):
        await env.agency.call("users.get_user", {"userId": gone["id"]})


async def test_new_locations_are_seeded_with_users(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "SEEDERS", tuple(dict.fromkeys((*SEEDERS, users.seed_users))))
    sb = Sandbox(SandboxSettings(seed=4, demo_records=3))
    try:
        loc, _ = sb.add_location(name="Second")
        for location in (sb.location(), loc):
            seeded = list(location.collection(users.USERS))
            assert [u["roles"]["role"] for u in seeded] == ["admin", "user", "user"]
            assert all(u["roles"]["locationIds"] == [location.id] for u in seeded)
        emails = [u["email"] for _, u in users.all_users(sb.world, sb.company_id)]
        assert len(emails) == len(set(emails)) == 6
    finally:
        sb.close()
