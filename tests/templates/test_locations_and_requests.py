"""new-location-tags-to-partner: a new location's Social Planner tags reach the partner
(read with a location token minted from the agency's OAuth token);
partner-tag-details-request: the partner asks for tag details and gets them stored back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ghlbridge.cli.serving import serving
from ghlbridge.connectors.http import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    WebhookSignatureError,
    verify_outbound_signature,
)
from ghlbridge.flows.engine import FlowEngine
from ghlbridge.partner import API_KEY_HEADER
from ghlbridge.sandbox.handlers.social_planner import add_social_tag
from ghlbridge.store import TokenSet, token_key
from tests.templates.conftest import PARTNER_KEY, World, baselines_taken, eventually, polled

HOOK_SECRET = "hook-secret-0b1c2d3e4f5a"


async def store_agency_connection(world: World) -> None:
    """An agency OAuth connection, as `connect ghl --oauth` leaves one after the install."""
    sb = world.sb
    client = sb.oauth_client
    world.connections.add(
        "agency",
        "ghl",
        "oauth",
        {"client_id": client.client_id, "client_secret": client.client_secret},
        company_id=sb.company_id,
    )
    pair = sb.tokens.issue(client, company_id=sb.company_id, location_id=None, scopes=sb.all_scopes)
    await world.tokens.save(
        token_key("agency", sb.company_id),
        TokenSet(
            pair.access.value,
            pair.refresh_token,
            pair.access.expires_at,
            user_type="Company",
            company_id=sb.company_id,
        ),
    )


async def test_a_new_locations_social_tags_are_sent_to_the_partner(world: World) -> None:
    await store_agency_connection(world)
    world.install("new-location-tags-to-partner", every="10s")
    engine = world.engine()
    await engine.start()
    try:
        await baselines_taken(engine)  # what exists now is recorded, not sent
        loc, _ = world.sb.add_location(name="Downtown Dental")
        tags = [add_social_tag(loc, name) for name in ("Promo", "Testimonial")]
        await eventually(lambda: world.partner.received("location_tags"), "the new tags")
        await polled(engine, 2)
        await engine.wait_idle()
    finally:
        await engine.stop()
    [item] = world.partner.state.received("location_tags")
    assert item.location_id == loc.id
    assert item.body["locationId"] == loc.id and item.body["name"] == "Downtown Dental"
    assert item.body["tags"] == ["Promo", "Testimonial"]
    assert item.body["tagIds"] == [t["_id"] for t in tags]
    assert item.body["timestamp"]


@asynccontextmanager
async def ghlbridge_hook(engine: FlowEngine) -> AsyncIterator[str]:
    """Stands in for the server's ``POST /hooks/{flow}``: verify the signature, start the
    flow with the JSON as its trigger data. Served on the test's loop, with the engine."""

    async def hook(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            verify_outbound_signature(body, request.headers.get(SIGNATURE_HEADER), HOOK_SECRET)
        except WebhookSignatureError as exc:
            return JSONResponse({"detail": str(exc)}, 401)
        assert request.headers.get(DELIVERY_HEADER)
        accepted = await engine.start_manual(request.path_params["flow"], json.loads(body))
        return JSONResponse({"status": "accepted", "run_ids": accepted.run_ids})

    app = Starlette(routes=[Route("/hooks/{flow}", hook, methods=["POST"])])
    async with serving(app) as url:
        yield url


async def test_the_partners_tag_details_request_is_answered_and_stored_back(
    world: World,
) -> None:
    loc = world.sb.location()
    tags = [add_social_tag(loc, name)["_id"] for name in ("Holiday", "Backstage", "Promo")]
    world.install("partner-tag-details-request")
    engine = world.engine()
    await engine.start()
    try:
        async with (
            ghlbridge_hook(engine) as hook_url,
            aiohttp.ClientSession(headers={API_KEY_HEADER: PARTNER_KEY}) as http,
        ):
            world.partner.settings = replace(
                world.partner.settings,
                hook_url=f"{hook_url}/hooks/partner-tag-details-request",
                hook_secret=HOOK_SECRET,
            )
            async with http.post(
                f"{world.partner_url}/tag-details-request",
                json={"locationId": world.sb.location_id, "tagIds": tags[:2]},
            ) as answer:
                assert answer.status == 202, await answer.text()
                request_id = (await answer.json())["requestId"]
            status_url = f"{world.partner_url}/tag-details-requests/{request_id}"
            for _ in range(100):
                async with http.get(status_url) as got:
                    state = await got.json()
                if state["status"] == "answered":
                    break
                await asyncio.sleep(0.05)
    finally:
        await engine.stop()
    assert state["status"] == "answered" and state["hookStatus"] == 200
    details = state["response"]
    assert [d["_id"] for d in details] == tags[:2]
    assert [d["tag"] for d in details] == ["Holiday", "Backstage"]
    received = world.partner.state.received
    [stored] = received("tag_details_response")
    assert stored.body["requestId"] == request_id and stored.body["count"] == 2
    assert stored.location_id == world.sb.location_id and stored.idempotency_key
    [asked] = received("tag_details_request")
    assert asked.body == {
        "requestId": request_id,
        "locationId": world.sb.location_id,
        "tagIds": tags[:2],
    }
