"""Webhook-triggered flows: a change whose webhook the sandbox failed to deliver is still
processed, exactly once, through the catch-up poll; redelivered webhooks run once.

The first test feeds `engine.ingest_event` from `World.subscribe` (what the server's POST
/webhooks/ghl will do after verifying signatures) and drops chosen deliveries; the last one
uses the sandbox's own signed deliveries with its fault injection.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ghlbridge.cli.serving import serving
from ghlbridge.client import ASGITransport, GHLClient
from ghlbridge.flows.engine import EngineSettings, FlowEngine
from ghlbridge.flows.recipe import parse_recipe
from ghlbridge.flows.store import FlowStore
from ghlbridge.sandbox import Change, SandboxSettings
from tests.flows.conftest import BASE, SandboxWorld

RECIPE = """
name: tag-new-contacts
trigger:
  webhook:
    event: ContactCreate
    catch_up:
      op: contacts.get_contacts
      every: 10m
steps:
  - id: tag
    action: add_tags_to_contact
    with:
      contactId: "{{ trigger.id }}"
      tags: [welcomed]
"""


async def test_a_dropped_webhook_is_caught_up_once_and_a_redelivery_runs_once(
    store: FlowStore, world: SandboxWorld
) -> None:
    delivered: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []

    def on_change(change: Change) -> None:
        if change.resource != "contacts" or change.action != "create":
            return
        payload = {**change.record, "type": "ContactCreate", "webhookId": str(uuid.uuid4())}
        created = len(delivered) + len(dropped)
        (dropped if created % 3 == 2 else delivered).append(payload)

    world.sb.world.subscribe(on_change)
    engine = FlowEngine(
        store,
        [parse_recipe(RECIPE)],
        world.clients(),
        settings=EngineSettings(claim_every=0.05),
        environ=world.env,
    )
    await engine.start(triggers=False)
    try:
        await engine.poll_now("tag-new-contacts")  # the catch-up's baseline: no contacts yet
        async with GHLClient(
            world.sb.location_token.value,
            base_url=BASE,
            location_id=world.sb.location_id,
            transport=ASGITransport(world.app),  # type: ignore[arg-type]
        ) as ghl:
            for i in range(9):
                await ghl.call("contacts.create_contact", body={"email": f"c{i}@example.com"})
            late = dropped.pop()  # this one's webhook arrives after the catch-up found it
            for payload in delivered:
                assert (
                    await engine.ingest_event("ghl", payload, dedupe_key=payload["webhookId"])
                ).run_ids
            again = await engine.ingest_event(
                "ghl", delivered[0], dedupe_key=delivered[0]["webhookId"]
            )
            assert again.duplicate and not again.run_ids
            [catch_up] = await engine.poll_now("tag-new-contacts")
            assert catch_up.runs == len(dropped) + 1
            late_result = await engine.ingest_event("ghl", late, dedupe_key=late["webhookId"])
            assert not late_result.run_ids and not late_result.duplicate
            [nothing_new] = await engine.poll_now("tag-new-contacts")
            assert nothing_new.runs == 0
            await engine.wait_idle()
            contacts = [c async for c in ghl.paginate("contacts.get_contacts", {"limit": 100})]
    finally:
        await engine.stop()
    assert len(contacts) == 9 and all(c["tags"] == ["welcomed"] for c in contacts)
    runs = store.list_runs(flow="tag-new-contacts", limit=100)
    assert sorted(r.trigger["id"] for r in runs) == sorted(c["id"] for c in contacts)
    assert {r.status for r in runs} == {"succeeded"}
    sources = [e["source"] for e in store.list_events(limit=100)]
    assert sources.count("catch_up") == 3 and sources.count("ghl") == 7  # 6 + the late one


async def test_identical_update_events_inside_the_window_run_once(
    store: FlowStore, world: SandboxWorld
) -> None:
    recipe = parse_recipe(
        RECIPE.replace("ContactCreate", "ContactUpdate")
        .replace("    catch_up:\n      op: contacts.get_contacts\n      every: 10m\n", "")
        .replace("webhook:\n    event: ContactUpdate\n", "webhook:\n    event: ContactUpdate\n")
    )
    engine = FlowEngine(store, [recipe], world.clients(), environ=world.env)
    payload = {
        "type": "ContactUpdate",
        "locationId": world.sb.location_id,
        "id": "c1",
        "email": "a@b.co",
    }
    first = await engine.ingest_event("ghl", {**payload, "webhookId": "w1"}, dedupe_key="w1")
    same = await engine.ingest_event("ghl", {**payload, "webhookId": "w2"}, dedupe_key="w2")
    changed = await engine.ingest_event(
        "ghl", {**payload, "email": "new@b.co", "webhookId": "w3"}, dedupe_key="w3"
    )
    assert len(first.run_ids) == 1 and not same.run_ids and len(changed.run_ids) == 1
    assert not same.duplicate  # a distinct delivery, stored, but the same change


async def test_signed_sandbox_webhooks_with_drops_are_made_up_by_the_catch_up_exactly_once(
    store: FlowStore,
) -> None:
    """The same, driven by the sandbox's own webhook deliveries (30 % dropped) to a minimal
    ingress that calls `ingest_event` (the server issue adds signature checks to it)."""
    world = SandboxWorld(SandboxSettings(seed=5, demo_records=0, webhook_fault_rate=0.3))
    engine = FlowEngine(
        store,
        [parse_recipe(RECIPE)],
        world.clients(),
        settings=EngineSettings(claim_every=0.05),
        environ=world.env,
    )

    async def hook(request: Request) -> Response:
        payload = json.loads(await request.body())
        await engine.ingest_event("ghl", payload, dedupe_key=payload.get("webhookId"))
        return Response(status_code=200)

    ingress = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    await engine.start(triggers=False)
    try:
        async with serving(ingress) as url:
            world.sb.webhooks.add_url(f"{url}/hook")
            await engine.poll_now("tag-new-contacts")
            async with GHLClient(
                world.sb.location_token.value,
                base_url=BASE,
                location_id=world.sb.location_id,
                transport=ASGITransport(world.app),  # type: ignore[arg-type]
            ) as ghl:
                for i in range(12):
                    await ghl.call("contacts.create_contact", body={"email": f"s{i}@example.com"})
                assert await world.sb.webhooks.drain(20)
                await engine.wait_idle()
                creates = [
                    d for d in world.sb.webhooks.deliveries() if d.event_type == "ContactCreate"
                ]
                dropped = sum(d.status == "dropped" for d in creates)
                assert len(creates) == 12 and 0 < dropped < 12
                [catch_up] = await engine.poll_now("tag-new-contacts")
                assert catch_up.runs == dropped
                await engine.wait_idle()
                assert await world.sb.webhooks.drain(20)
                contacts = [c async for c in ghl.paginate("contacts.get_contacts", {"limit": 100})]
    finally:
        await engine.stop()
        world.sb.close()
    assert len(contacts) == 12 and all(c["tags"] == ["welcomed"] for c in contacts)
    runs = store.list_runs(flow="tag-new-contacts", limit=100)
    assert sorted(r.trigger["id"] for r in runs) == sorted(c["id"] for c in contacts)
    assert {r.status for r in runs} == {"succeeded"}
