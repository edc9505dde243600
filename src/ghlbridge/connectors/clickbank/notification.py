"""The decrypted INS notification as typed data, and the keys that make its effects happen once.

Reading is tolerant: a field of an unexpected type becomes None (and is logged by name, never
by value), unknown fields stay in `raw`, and an unknown `version` or `transactionType` is kept
and flagged, not rejected -- ClickBank keeps adding both. Only `receipt` and `transactionType`
are required. Money is `Decimal`, made from the JSON number's shortest text and given at least two
decimals (so 19.99 stays 19.99 and 1.00, read by JSON as 1.0, is 1.00 again).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ghlbridge.connectors.clickbank.errors import MissingFields

logger = logging.getLogger(__name__)

SUPPORTED_VERSIONS = ("6.0", "7.0", "8.0")
TRANSACTION_TYPES = frozenset(
    {
        "SALE",
        "BILL",
        "RFND",
        "CGBK",
        "INSF",
        "CANCEL-REBILL",
        "UNCANCEL-REBILL",
        "SUBSCRIPTION-CHG",
        "ABANDONED_ORDER",
        "CUSTOMER_AUTH_FAILURE",
        "CUSTOMER_EMAIL_UPDATE",
        "CUSTOMER_UPDATE_CC_NOTIFICATION",
        "PURCHASE_DETAILS_EMAIL_RESPONSE",
        "TEST",
        "TEST_SALE",
        "TEST_BILL",
        "TEST_RFND",
        "CANCEL-TEST-REBILL",
        "UNCANCEL-TEST-REBILL",
    }
)
REQUIRED_FIELDS = ("receipt", "transactionType")
_CENTS = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Address:
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    county: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Party:
    """A customer's billing or shipping block (billing often holds fewer fields)."""

    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    phone_number: str | None = None
    email: str | None = None
    address: Address = field(default_factory=Address)


@dataclass(frozen=True, slots=True)
class Customer:
    billing: Party | None = None
    shipping: Party | None = None


@dataclass(frozen=True, slots=True)
class LineItem:
    item_no: str | None
    product_title: str | None = None
    line_item_type: str | None = None  # ORIGINAL | CART | BUMP | UPSELL (kept if new)
    quantity: int | None = None
    account_amount: Decimal | None = None
    product_price: Decimal | None = None
    product_discount: Decimal | None = None
    tax_amount: Decimal | None = None
    shipping_amount: Decimal | None = None
    affiliate_payout: Decimal | None = None
    jv_payout: Decimal | None = None
    shippable: bool | None = None
    shipping_liable: bool | None = None
    recurring: bool | None = None
    download_url: str | None = None
    payments_processed: int | None = None
    payments_remaining: int | None = None
    next_payment_date: str | None = None


@dataclass(frozen=True, slots=True)
class Upsell:
    original_receipt: str | None = None
    flow_id: str | None = None
    session: str | None = None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class InsNotification:
    """One INS notification (6.0-8.0); `raw` is the decrypted JSON as received."""

    receipt: str
    transaction_type: str
    transaction_time: datetime | None
    version: str | None
    vendor: str | None = None
    affiliate: str | None = None
    role: str | None = None
    currency: str | None = None
    payment_method: str | None = None
    total_account_amount: Decimal | None = None
    total_order_amount: Decimal | None = None
    total_tax_amount: Decimal | None = None
    total_shipping_amount: Decimal | None = None
    order_language: str | None = None
    attempt_count: int | None = None
    declined_consent: bool | None = None
    tracking_codes: tuple[str, ...] = ()
    line_items: tuple[LineItem, ...] = ()
    customer: Customer = field(default_factory=Customer)
    upsell: Upsell | None = None
    vendor_variables: dict[str, Any] = field(default_factory=dict)
    tracking_parameters: dict[str, Any] | None = None  # 8.0 `commonTrackingParameters`
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_test(self) -> bool:
        """Sent by the Test IPN button or a test purchase."""
        return "TEST" in self.transaction_type

    @property
    def is_known_type(self) -> bool:
        return self.transaction_type in TRANSACTION_TYPES

    @property
    def version_supported(self) -> bool:
        return self.version in SUPPORTED_VERSIONS

    @property
    def email(self) -> str | None:
        """The contact key for GHL: the billing email, else the shipping email."""
        for party in (self.customer.billing, self.customer.shipping):
            if party is not None and party.email:
                return party.email
        return None


def parse_notification(data: Mapping[str, Any]) -> InsNotification:
    """Typed view of a decrypted notification; `MissingFields` without receipt/transactionType."""
    if not isinstance(data, Mapping):
        raise MissingFields(REQUIRED_FIELDS)
    missing = missing_fields(data)
    if missing:
        raise MissingFields(missing)
    r = _Reader(data, "")
    version = _version(data.get("version"))
    if version not in SUPPORTED_VERSIONS:
        logger.warning(
            "ClickBank INS version %s is not one of %s; reading it like 8.0",
            version or "(none)",
            ", ".join(SUPPORTED_VERSIONS),
        )
    if data["transactionType"] not in TRANSACTION_TYPES:
        logger.warning("ClickBank INS transactionType %.40s is new to us", data["transactionType"])
    customer = data.get("customer")
    customer = customer if isinstance(customer, Mapping) else {}
    upsell = data.get("upsell")
    items = data.get("lineItems")
    if isinstance(items, Mapping):  # a single item sent as an object
        items = [items]
    return InsNotification(
        receipt=str(data["receipt"]),
        transaction_type=str(data["transactionType"]),
        transaction_time=r.timestamp("transactionTime"),
        version=version,
        vendor=r.text("vendor"),
        affiliate=r.text("affiliate"),
        role=r.text("role"),
        currency=r.text("currency"),
        payment_method=r.text("paymentMethod"),
        total_account_amount=r.amount("totalAccountAmount"),
        total_order_amount=r.amount("totalOrderAmount"),
        total_tax_amount=r.amount("totalTaxAmount"),
        total_shipping_amount=r.amount("totalShippingAmount"),
        order_language=r.text("orderLanguage"),
        attempt_count=r.integer("attemptCount"),
        declined_consent=r.flag("declinedConsent"),
        tracking_codes=r.texts("trackingCodes"),
        line_items=tuple(
            _line_item(item, f"lineItems[{i}]")
            for i, item in enumerate(items if isinstance(items, list) else [])
            if isinstance(item, Mapping)
        ),
        customer=Customer(
            billing=_party(customer.get("billing"), "customer.billing"),
            shipping=_party(customer.get("shipping"), "customer.shipping"),
        ),
        upsell=_upsell(upsell) if isinstance(upsell, Mapping) else None,
        vendor_variables=dict(r.obj("vendorVariables") or {}),
        tracking_parameters=r.obj("commonTrackingParameters"),
        raw=dict(data),
    )


def missing_fields(data: Mapping[str, Any]) -> list[str]:
    """The required fields (receipt, transactionType) that are absent, empty or not text."""
    return [name for name in REQUIRED_FIELDS if not _text(data.get(name))]


def dedupe_key(notification: InsNotification | Mapping[str, Any]) -> list[str]:
    """One idempotency key per line item: receipt + transactionType + item (never attemptCount).

    A notification without line items gets one key. TEST notifications carry a masked receipt
    ("********"), so their keys also hold the transaction time: each Test IPN press is new.
    """
    n = (
        notification
        if isinstance(notification, InsNotification)
        else parse_notification(notification)
    )
    base = ["clickbank", n.receipt, n.transaction_type]
    if set(n.receipt) <= {"*"}:
        base.append(str(n.raw.get("transactionTime") or ""))
    if not n.line_items:
        return [_join(base)]
    seen: Counter[str] = Counter()
    keys = []
    for index, item in enumerate(n.line_items):
        item_id = item.item_no or f"#{index}"
        seen[item_id] += 1
        if seen[item_id] > 1:  # the same SKU twice in one cart
            item_id = f"{item_id}~{seen[item_id]}"
        keys.append(_join([*base, item_id]))
    return keys


def _join(parts: list[str]) -> str:
    """Parts joined by ':', with ':' and '%' inside a part escaped so keys never collide."""
    return ":".join(p.replace("%", "%25").replace(":", "%3A") for p in parts)


def _line_item(data: Mapping[str, Any], where: str) -> LineItem:
    r = _Reader(data, where)
    return LineItem(
        item_no=r.text("itemNo"),
        product_title=r.text("productTitle"),
        line_item_type=r.text("lineItemType"),
        quantity=r.integer("quantity"),
        account_amount=r.amount("accountAmount"),
        product_price=r.amount("productPrice"),
        product_discount=r.amount("productDiscount"),
        tax_amount=r.amount("taxAmount"),
        shipping_amount=r.amount("shippingAmount"),
        affiliate_payout=r.amount("affiliatePayout"),
        jv_payout=r.amount("jvPayout"),
        shippable=r.flag("shippable"),
        shipping_liable=r.flag("shippingLiable"),
        recurring=r.flag("recurring"),
        download_url=r.text("downloadUrl"),
        payments_processed=r.integer("paymentsProcessed"),
        payments_remaining=r.integer("paymentsRemaining"),
        next_payment_date=r.text("nextPaymentDate"),
    )


def _party(data: Any, where: str) -> Party | None:
    if not isinstance(data, Mapping):
        return None
    r = _Reader(data, where)
    address = r.obj("address") or {}
    a = _Reader(address, f"{where}.address")
    return Party(
        first_name=r.text("firstName"),
        last_name=r.text("lastName"),
        full_name=r.text("fullName"),
        phone_number=r.text("phoneNumber"),
        email=r.text("email"),
        address=Address(
            address1=a.text("address1"),
            address2=a.text("address2"),
            city=a.text("city"),
            county=a.text("county"),
            state=a.text("state"),
            postal_code=a.text("postalCode"),
            country=a.text("country"),
        ),
    )


def _upsell(data: Mapping[str, Any]) -> Upsell:
    r = _Reader(data, "upsell")
    return Upsell(
        original_receipt=r.text("upsellOriginalReceipt"),
        flow_id=r.text("upsellFlowId"),
        session=r.text("upsellSession"),
        path=r.text("upsellPath"),
    )


def _text(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value) != ""


def _version(value: Any) -> str | None:
    """7.0 (a JSON number), 7 or "7.0" all read as "7.0"; anything else is kept as text."""
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return f"{number:.1f}" if number == number.to_integral_value() else str(number)


class _Reader:
    """Typed, tolerant field access: a wrong type is logged by field name and read as None."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self._data = data
        self._where = where

    def _bad(self, name: str, expected: str) -> None:
        path = f"{self._where}.{name}" if self._where else name
        logger.warning("ClickBank INS field %s is not %s; ignored", path, expected)

    def text(self, name: str) -> str | None:
        value = self._data.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        self._bad(name, "a string")
        return None

    def texts(self, name: str) -> tuple[str, ...]:
        value = self._data.get(name)
        if value is None:
            return ()
        if isinstance(value, list):
            return tuple(str(v) for v in value if v is not None)
        self._bad(name, "a list")
        return ()

    def amount(self, name: str) -> Decimal | None:
        value = self._data.get(name)
        if value is None:
            return None
        if isinstance(value, int | float | str | Decimal) and not isinstance(value, bool):
            try:
                number = Decimal(str(value))
            except InvalidOperation:
                number = Decimal("NaN")
            if number.is_finite():
                # JSON 1.00 arrives as the float 1.0: give back ClickBank's two decimals.
                exponent = number.as_tuple().exponent
                return (
                    number.quantize(_CENTS)
                    if isinstance(exponent, int) and exponent > -2
                    else number
                )
        self._bad(name, "an amount")
        return None

    def integer(self, name: str) -> int | None:
        value = self._data.get(name)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        self._bad(name, "an integer")
        return None

    def flag(self, name: str) -> bool | None:
        value = self._data.get(name)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self._bad(name, "a boolean")
        return None

    def obj(self, name: str) -> dict[str, Any] | None:
        value = self._data.get(name)
        if value is None:
            return None
        if isinstance(value, Mapping):
            return dict(value)
        self._bad(name, "an object")
        return None

    def timestamp(self, name: str) -> datetime | None:
        value = self._data.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            try:  # both basic (20220810T162015-0700) and extended ISO-8601 forms
                return datetime.fromisoformat(value.strip())
            except ValueError:
                pass
        self._bad(name, "an ISO-8601 time")
        return None
