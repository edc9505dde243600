"""ClickBank INS notifications as a flow trigger.

The server's ``POST /webhooks/clickbank/{connection}`` decrypts a notification with that
connection's secret key and hands it over with `ingest` (or, the same thing by hand,
``engine.ingest_event("clickbank", trigger_payload(n, connection=name),
dedupe_key=event_key(n))``). The event is stored once per receipt, transaction type and line
items (`event_key`; never the attempt count, which changes between ClickBank's retries), and
each flow whose trigger is ``clickbank: {connection: NAME, types: [...]}`` gets one run.

A run's ``trigger`` is `trigger_payload`: the notification's own fields under ClickBank's
names (``receipt``, ``transactionType``, ``lineItems[].itemNo``, ``customer.billing.email``,
...), amounts as decimal text, plus fields a recipe needs most: ``connection``, ``email``,
``firstName``, ``lastName``, ``phone``, ``itemNos``, ``status``, ``access``, ``test``.
`trigger_payload` is idempotent (its output read again gives the same output), so the server
may pass either it or the decrypted JSON plus ``connection``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields as dataclass_fields
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from ghlbridge.connectors.clickbank.notification import (
    InsNotification,
    LineItem,
    Party,
    dedupe_key,
    parse_notification,
)
from ghlbridge.flows.recipe import Recipe
from ghlbridge.flows.store import Claim, NewRun
from ghlbridge.flows.triggers.keys import Target

if TYPE_CHECKING:
    from ghlbridge.flows.engine import FlowEngine
    from ghlbridge.flows.store import Accepted

SOURCE = "clickbank"
Access = Literal["grant", "revoke", "none"]

# transactionType -> (status word, what it means for access). TEST_* behave like the real
# type so a vendor's test purchase can run a flow end to end; `test` tells them apart.
_EFFECTS: dict[str, tuple[str, Access]] = {
    "SALE": ("sale", "grant"),
    "BILL": ("rebill", "grant"),
    "RFND": ("refunded", "revoke"),
    "CGBK": ("chargeback", "revoke"),
    "INSF": ("chargeback", "revoke"),
    "CANCEL-REBILL": ("cancelled", "revoke"),
    "UNCANCEL-REBILL": ("uncancelled", "none"),
    "SUBSCRIPTION-CHG": ("changed", "none"),
    "ABANDONED_ORDER": ("abandoned", "none"),
    "TEST": ("test", "none"),
    "TEST_SALE": ("sale", "grant"),
    "TEST_BILL": ("rebill", "grant"),
    "TEST_RFND": ("refunded", "revoke"),
    "CANCEL-TEST-REBILL": ("cancelled", "revoke"),
    "UNCANCEL-TEST-REBILL": ("uncancelled", "none"),
}
_PARTY = {
    "first_name": "firstName",
    "last_name": "lastName",
    "full_name": "fullName",
    "phone_number": "phoneNumber",
    "email": "email",
}
_ADDRESS = {"postal_code": "postalCode"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _plain(value: Any) -> Any:
    """JSON-able: amounts as decimal text (exact), tuples as lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _party(party: Party | None) -> dict[str, Any] | None:
    if party is None:
        return None
    out: dict[str, Any] = {camel: getattr(party, name) for name, camel in _PARTY.items()}
    address = party.address
    out["address"] = {
        _ADDRESS.get(f.name, f.name): getattr(address, f.name) for f in dataclass_fields(address)
    }
    return out


def _line_item(item: LineItem) -> dict[str, Any]:
    return {_camel(f.name): _plain(getattr(item, f.name)) for f in dataclass_fields(item)}


def _first(n: InsNotification, attr: str) -> str | None:
    for party in (n.customer.billing, n.customer.shipping):
        value = getattr(party, attr, None) if party is not None else None
        if value:
            return str(value)
    return None


def trigger_payload(
    notification: InsNotification | Mapping[str, Any], *, connection: str | None = None
) -> dict[str, Any]:
    """A run's ``trigger`` data for a notification (see the module docstring for fields)."""
    if isinstance(notification, InsNotification):
        n = notification
    else:
        n = parse_notification(notification)
        connection = connection or _text(notification.get("connection"))
    status, access = _EFFECTS.get(n.transaction_type, (n.transaction_type.lower(), "none"))
    items = [_line_item(i) for i in n.line_items]
    payload: dict[str, Any] = {
        **{k: _plain(v) for k, v in n.raw.items() if k not in ("lineItems", "customer")},
        "connection": connection,
        "receipt": n.receipt,
        "transactionType": n.transaction_type,
        "transactionTime": n.transaction_time.isoformat() if n.transaction_time else None,
        "version": n.version,
        "vendor": n.vendor,
        "affiliate": n.affiliate,
        "role": n.role,
        "currency": n.currency,
        "paymentMethod": n.payment_method,
        "totalAccountAmount": _plain(n.total_account_amount),
        "totalOrderAmount": _plain(n.total_order_amount),
        "totalTaxAmount": _plain(n.total_tax_amount),
        "totalShippingAmount": _plain(n.total_shipping_amount),
        "attemptCount": n.attempt_count,
        "trackingCodes": list(n.tracking_codes),
        "lineItems": items,
        "itemNos": [i["itemNo"] for i in items if i["itemNo"]],
        "customer": {
            "billing": _party(n.customer.billing),
            "shipping": _party(n.customer.shipping),
        },
        "upsell": (
            None
            if n.upsell is None
            else {
                "upsellOriginalReceipt": n.upsell.original_receipt,
                "upsellFlowId": n.upsell.flow_id,
                "upsellSession": n.upsell.session,
                "upsellPath": n.upsell.path,
            }
        ),
        "vendorVariables": _plain(n.vendor_variables),
        "email": n.email,
        "firstName": _first(n, "first_name"),
        "lastName": _first(n, "last_name"),
        "phone": _first(n, "phone_number"),
        "status": status,
        "access": access,
        "test": n.is_test,
        "knownType": n.is_known_type,
    }
    return payload


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None


def event_key(notification: InsNotification | Mapping[str, Any]) -> str:
    """The notification's dedupe key: receipt, type and every line item (one string)."""
    return "|".join(dedupe_key(notification))


def event_type(payload: Mapping[str, Any]) -> str | None:
    value = payload.get("transactionType")
    return str(value) if value else None


def runs_for(
    payload: Mapping[str, Any], flows: Sequence[tuple[Recipe, Sequence[Target]]]
) -> list[NewRun]:
    """One run per (flow, target) listening to this notification's connection and type.

    Each run also claims the notification's key for its flow and location, so a flow runs
    once per notification even if it were handed over twice under different event keys.
    """
    data = trigger_payload(payload)
    kind, connection = data["transactionType"], data["connection"]
    key = event_key(payload)
    runs: list[NewRun] = []
    for recipe, targets in flows:
        trig = recipe.trigger.clickbank
        if trig is None or not recipe.enabled:
            continue
        if trig.connection is not None and trig.connection != connection:
            continue
        if trig.types and kind not in trig.types:
            continue
        for target in targets:
            claim = Claim(recipe.name, f"cb:{target.location_id or '-'}:{key}")
            runs.append(NewRun(recipe.name, data, target.location_id, claim))
    return runs


async def ingest(engine: FlowEngine, notification: InsNotification, *, connection: str) -> Accepted:
    """Store a decrypted notification and the runs it starts; returns after the commit."""
    payload = trigger_payload(notification, connection=connection)
    return await engine.ingest_event(SOURCE, payload, dedupe_key=event_key(notification))


__all__ = ["SOURCE", "event_key", "event_type", "ingest", "runs_for", "trigger_payload"]
