"""clickbank-sale-to-contact: a ClickBank SALE upserts the buyer, tags it and enrols it in
the workflow; the refund of that order takes the access away again.

Notifications go the way the server's INS endpoint sends them: encrypted with the
connection's secret key, decrypted, parsed, then `engine.ingest_event("clickbank", ...)`.
"""

from __future__ import annotations

import copy
from typing import Any

from ghlbridge.connectors.clickbank import (
    decrypt_notification,
    encrypt_notification,
    parse_notification,
)
from ghlbridge.flows.engine import FlowEngine
from ghlbridge.flows.store import Accepted
from ghlbridge.flows.triggers.clickbank import event_key, ingest, trigger_payload
from ghlbridge.sandbox.handlers.contacts import CONTACTS
from ghlbridge.sandbox.handlers.enrollments import contact_workflows
from ghlbridge.sandbox.handlers.workflows import WORKFLOWS
from tests.connectors.ins_vectors import cart
from tests.templates.conftest import World

SECRET = "CB7SECRETKEY42"
EMAIL = "ann.buyer@example.com"


def notification(kind: str, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(cart(7.0))
    data["transactionType"] = kind
    data["customer"]["billing"]["email"] = EMAIL
    data.update(changes)
    return data


async def deliver(engine: FlowEngine, data: dict[str, Any], connection: str) -> Accepted:
    """As the server will: decrypt the INS body with the secret, read it, ingest it."""
    body = encrypt_notification(data, SECRET)
    n = parse_notification(decrypt_notification(body, SECRET))
    return await engine.ingest_event(
        "clickbank", trigger_payload(n, connection=connection), dedupe_key=event_key(n)
    )


def contact(world: World) -> dict[str, Any]:
    loc = world.sb.location()
    [found] = [c for c in loc.collection(CONTACTS) if c.get("email") == EMAIL]
    return found


async def test_a_sale_then_its_refund_grant_then_revoke_access_in_ghl(world: World) -> None:
    loc = world.sb.location()
    workflow = next(iter(loc.collection(WORKFLOWS)))["id"]
    world.connections.add("clickbank", "clickbank", "static", {"secret_key": SECRET})
    world.install("clickbank-sale-to-contact", workflow_id=workflow)
    engine = world.engine()
    await engine.start(triggers=False)
    try:
        sale = await deliver(engine, notification("SALE"), "clickbank")
        [settled] = await engine.run_until_settled(sale.run_ids)
        assert settled.status == "succeeded", settled.error
        buyer = contact(world)
        assert (buyer["firstName"], buyer["lastName"]) == ("Ana", "Lima")  # billing block
        assert set(buyer["tags"]) == {
            "cb-access",
            "cb-buyer",
            "cb-product-book1",
            "cb-product-bump2",
            "cb-product-club3",
        }
        assert contact_workflows(loc, buyer["id"]) == [workflow]

        retry = await deliver(engine, notification("SALE", attemptCount=2), "clickbank")
        assert retry.duplicate and not retry.run_ids  # ClickBank's retry: stored once

        refund = await deliver(engine, notification("RFND"), "clickbank")
        [settled] = await engine.run_until_settled(refund.run_ids)
        assert settled.status == "succeeded", settled.error
    finally:
        await engine.stop()
    after = contact(world)
    assert after["id"] == buyer["id"]  # the same contact, upserted by email
    assert "cb-access" not in after["tags"]
    assert {"cb-refunded", "cb-buyer", "cb-product-book1"} <= set(after["tags"])
    assert contact_workflows(loc, buyer["id"]) == []


async def test_only_the_connection_and_types_a_recipe_names_start_it(world: World) -> None:
    workflow = next(iter(world.sb.location().collection(WORKFLOWS)))["id"]
    world.install("clickbank-sale-to-contact", workflow_id=workflow)
    engine = world.engine()
    await engine.start(triggers=False)
    try:
        other = await deliver(engine, notification("SALE"), "another-account")
        test_ipn = await deliver(engine, notification("TEST", receipt="********"), "clickbank")
        uncancel = await deliver(engine, notification("UNCANCEL-REBILL"), "clickbank")
        n = parse_notification(notification("CGBK", receipt="CHARGED1"))
        chargeback = await ingest(engine, n, connection="clickbank")  # the server's helper
        assert chargeback.run_ids
        [settled] = await engine.run_until_settled(chargeback.run_ids)
    finally:
        await engine.stop()
    assert [a.run_ids for a in (other, test_ipn, uncancel)] == [[], [], []]
    assert all(a.event_id for a in (other, test_ipn, uncancel))  # stored all the same
    assert settled.status == "succeeded", settled.error
    assert settled.trigger["status"] == "chargeback" and settled.trigger["access"] == "revoke"
    assert "cb-chargeback" in contact(world)["tags"]
