"""The ClickBank trigger: what a run sees as `trigger.*`, which flows a notification starts,
and that a notification (retried by ClickBank, or handed over twice) runs each flow once."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ghlbridge.connectors.clickbank import (
    decrypt_notification,
    encrypt_notification,
    parse_notification,
)
from ghlbridge.flows.engine import EngineSettings, FlowEngine
from ghlbridge.flows.recipe import RecipeError, parse_recipe
from ghlbridge.flows.store import FlowStore
from ghlbridge.flows.triggers.clickbank import event_key, trigger_payload
from tests.connectors.ins_vectors import cart
from tests.flows.conftest import SandboxWorld

SECRET = "SECRET42KEY"


def received(data: dict[str, Any]) -> dict[str, Any]:
    """A notification as the server has it: encrypted by ClickBank, decrypted with the key."""
    return decrypt_notification(encrypt_notification(data, SECRET), SECRET)


def test_the_trigger_data_keeps_clickbanks_fields_and_adds_what_recipes_need() -> None:
    data = received(cart(8.0))
    payload = trigger_payload(parse_notification(data), connection="cb")
    json.dumps(payload)  # JSON-able
    assert payload["connection"] == "cb"
    assert payload["receipt"] == "CWOGBZLN" and payload["transactionType"] == "SALE"
    assert (payload["status"], payload["access"], payload["test"]) == ("sale", "grant", False)
    assert payload["email"] == "ana@example.com"  # billing first
    assert (payload["firstName"], payload["lastName"]) == ("Ana", "Lima")
    assert payload["phone"] == "+15555550100"  # billing has none: shipping's
    assert payload["itemNos"] == ["book1", "bump2", "club3"]
    assert payload["totalOrderAmount"] == "121.94" and payload["totalShippingAmount"] == "0.00"
    item = payload["lineItems"][2]
    assert item["lineItemType"] == "UPSELL" and item["recurring"] is True
    assert item["accountAmount"] == "34.20" and item["nextPaymentDate"].startswith("2024-07-05")
    assert payload["customer"]["shipping"]["address"]["postalCode"] == "83702"
    assert payload["upsell"]["upsellOriginalReceipt"] == "CWOGBZLN"
    assert payload["vendorVariables"] == {"v1": "spring", "utm_source": "fb"}
    assert payload["hopfeed"] == {"hopfeedClickId": "abc"}  # unknown fields stay
    assert payload["transactionTime"] == "2024-06-05T10:15:30-07:00"
    # Read again (the server may pass either form), it is the same.
    assert trigger_payload(payload) == payload
    assert trigger_payload({**data, "connection": "cb"}) == payload


@pytest.mark.parametrize(
    ("kind", "status", "access"),
    [
        ("BILL", "rebill", "grant"),
        ("RFND", "refunded", "revoke"),
        ("CGBK", "chargeback", "revoke"),
        ("INSF", "chargeback", "revoke"),
        ("CANCEL-REBILL", "cancelled", "revoke"),
        ("UNCANCEL-REBILL", "uncancelled", "none"),
        ("TEST_SALE", "sale", "grant"),
        ("BRAND-NEW-TYPE", "brand-new-type", "none"),
    ],
)
def test_each_transaction_type_has_a_status_and_an_access_effect(
    kind: str, status: str, access: str
) -> None:
    payload = trigger_payload({**cart(7.0), "transactionType": kind})
    assert (payload["status"], payload["access"]) == (status, access)
    assert payload["test"] == kind.startswith("TEST")


def test_the_event_key_ignores_the_attempt_count_but_not_the_items() -> None:
    first = cart(7.0)
    retry = {**copy.deepcopy(first), "attemptCount": 3}
    one_item = {**copy.deepcopy(first), "lineItems": first["lineItems"][:1]}
    assert event_key(first) == event_key(retry) == event_key(trigger_payload(first))
    assert event_key(one_item) != event_key(first)
    assert event_key({**first, "transactionType": "RFND"}) != event_key(first)


RECIPE = """
name: {name}
trigger:
  clickbank: {spec}
steps:
  - id: skip
    action: http.request
    if: false
    with: {{url: "https://partner.test/"}}
"""


async def test_a_notification_starts_the_flows_of_its_connection_and_types_once(
    store: FlowStore, world: SandboxWorld
) -> None:
    recipes = [
        parse_recipe(RECIPE.format(name="sales", spec="{connection: cb, types: [SALE, BILL]}")),
        parse_recipe(RECIPE.format(name="refunds", spec="{connection: cb, types: [RFND]}")),
        parse_recipe(RECIPE.format(name="any-account", spec="{}")),
        parse_recipe(RECIPE.format(name="other", spec="{connection: other}")),
    ]
    engine = FlowEngine(
        store,
        recipes,
        world.clients(),
        settings=EngineSettings(claim_every=0.05),
        environ=world.env,
    )
    sale = received(cart(7.0))
    try:
        first = await engine.ingest_event(
            "clickbank", {**sale, "connection": "cb"}, dedupe_key=event_key(sale)
        )
        again = await engine.ingest_event(
            "clickbank", {**sale, "connection": "cb", "attemptCount": 2}, dedupe_key=event_key(sale)
        )
        # Handed over again under another event key: each flow still runs once.
        other_key = await engine.ingest_event(
            "clickbank", {**sale, "connection": "cb"}, dedupe_key="another-key"
        )
        runs = await engine.run_until_settled(first.run_ids)
    finally:
        await engine.stop()
    assert sorted(r.flow for r in runs) == ["any-account", "sales"]
    assert all(r.status == "succeeded" for r in runs)
    assert all(r.location_id == world.sb.location_id for r in runs)  # the GHL connection's
    assert runs[0].trigger["connection"] == "cb" and runs[0].trigger["status"] == "sale"
    assert again.duplicate and not again.run_ids
    assert not other_key.duplicate and other_key.run_ids == []
    [event] = [e for e in store.list_events(source="clickbank") if e["id"] == first.event_id]
    assert event["type"] == "SALE" and event["location_id"] is None


def test_unknown_transaction_types_are_named_when_the_recipe_loads() -> None:
    text = RECIPE.format(name="x", spec="{types: [SALE, REFUND]}")
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, "x.yaml")
    assert "trigger.clickbank.types[1]: unknown transactionType 'REFUND'" in str(info.value)
