"""The ClickBank REST API 1.3 as data: one row per action, read by the one request path.

A row says the method, the path under ``/rest/1.3`` (``{name}`` is a path parameter), the
query parameters it takes (ClickBank reads parameters only from the query string), which are
required or must come together, whether it pages with the ``Page`` request header (206 = more
pages), where a page's rows are, and what a fixed parameter is (``tickets.refund`` is
``tickets.create`` with ``type=rfnd``). Names and facts follow ClickBank's API reference as
mirrored by the community OpenAPI spec; ``orders2``/``shipping3`` are the current variants.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["read", "write"]
Result = Literal["body", "active"]
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One API action; `records` is the dotted path to a page's rows (None: the whole body)."""

    action: str
    method: str
    path: str
    params: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    together: tuple[tuple[str, ...], ...] = ()
    paged: bool = False
    records: str | None = None
    fixed: Mapping[str, str] = field(default_factory=dict)
    result: Result = "body"

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(_PLACEHOLDER.findall(self.path))

    @property
    def kind(self) -> Kind:
        return "read" if self.method in ("GET", "HEAD") else "write"


_ORDER_FILTERS = "startDate endDate type vendor affiliate lastName item email tid role postalCode"
_DATES = (("startDate", "endDate"),)
_ANALYTICS = "account startDate endDate dimensionFilter select orderBy sortAscending"
_SUBSCRIPTION = "account orderBy sortDirection"
_TICKET = "type reason sku comment refundType refundAmount retainSubscription"
_PRODUCT_FIELDS = (
    "site currency price language title digital physical digitalRecurring physicalRecurring "
    "categories skipConfirmationPage thankYouPage mobileThankYouPage rebillPrice "
    "rebillCommission trialPeriod frequency duration shippingProfile purchaseCommission "
    "description image pitchPage mobilePitchPage saleRefundDaysLimit rebillRefundDaysLimit "
    "deliveryMethod deliverySpeed preRebillNotificationOverride preRebillNotificationLeadTime"
)


def _ep(
    action: str,
    route: str,
    params: str = "",
    *,
    required: str = "",
    together: tuple[tuple[str, ...], ...] = (),
    paged: bool = False,
    records: str | None = None,
    fixed: Mapping[str, str] | None = None,
    result: Result = "body",
) -> Endpoint:
    method, path = route.split(" ", 1)
    return Endpoint(
        action,
        method,
        path,
        tuple(p for p in params.split() if p not in (fixed or {})),
        tuple(required.split()),
        together,
        paged,
        records,
        dict(fixed or {}),
        result,
    )


ENDPOINTS: dict[str, Endpoint] = {
    e.action: e
    for e in (
        # Orders
        _ep("orders.list", "GET /orders2/list", f"{_ORDER_FILTERS} amount", together=_DATES,
            paged=True, records="orderData"),
        _ep("orders.count", "GET /orders2/count", _ORDER_FILTERS, together=_DATES),
        _ep("orders.get", "GET /orders2/{receipt}", "sku", records="orderData"),
        _ep("orders.upsells", "GET /orders2/{receipt}/upsells", records="orderData"),
        # 204 = still active; 403 = refunded, charged back, cancelled, unknown or not ours.
        _ep("orders.is_active", "HEAD /orders2/{receipt}", "sku", result="active"),
        _ep("orders.change_product", "POST /orders2/{receipt}/changeProduct",
            "oldSku newSku carryAffiliate applyProratedRefund nextRebillDate",
            required="oldSku newSku"),
        _ep("orders.change_date", "POST /orders2/{receipt}/changeDate", "changeDate sku",
            required="changeDate"),
        _ep("orders.pause", "POST /orders2/{receipt}/pause", "restartDate sku"),
        _ep("orders.extend", "POST /orders2/{receipt}/extend", "numPeriods sku",
            required="numPeriods"),
        _ep("orders.reinstate", "POST /orders2/{receipt}/reinstate", "sku"),
        _ep("orders.change_address", "POST /orders2/{receipt}/changeAddress",
            "address1 address2 city county province postalCode countryCode firstName lastName"),
        # Products
        _ep("products.list", "GET /products/list", "site type", paged=True,
            records="products.product"),
        _ep("products.get", "GET /products/{sku}", "site"),
        _ep("products.update", "PUT /products/{sku}", _PRODUCT_FIELDS),
        _ep("products.delete", "DELETE /products/{sku}", "site"),
        # Tickets (refunds and cancels)
        _ep("tickets.create", "POST /tickets/{receipt}", _TICKET, required="type"),
        _ep("tickets.refund", "POST /tickets/{receipt}", _TICKET, fixed={"type": "rfnd"}),
        _ep("tickets.cancel", "POST /tickets/{receipt}", _TICKET, fixed={"type": "cncl"}),
        _ep("tickets.refund_amounts", "GET /tickets/refundAmounts/{receipt}",
            "refundType refundAmount sku"),
        _ep("tickets.list", "GET /tickets/list",
            "type status receipt createDateFrom createDateTo updateDateFrom updateDateTo "
            "closeDateFrom closeDateTo", paged=True, records="ticketData"),
        _ep("tickets.count", "GET /tickets/count", "type status receipt"),
        _ep("tickets.get", "GET /tickets/{id}"),
        _ep("tickets.update", "PUT /tickets/{id}", "action comment type", required="action"),
        _ep("tickets.returned", "POST /tickets/{id}/returned"),
        # Analytics
        _ep("analytics.status", "GET /analytics/status"),
        _ep("analytics.report", "GET /analytics/{role}/{dimension}", _ANALYTICS,
            required="account", together=_DATES, paged=True, records="rows.row"),
        _ep("analytics.summary", "GET /analytics/{role}/{dimension}/summary",
            f"{_ANALYTICS} summaryType", required="account summaryType", together=_DATES,
            paged=True, records="rows.row"),
        _ep("analytics.subscription_details", "GET /analytics/{role}/subscription/details",
            _SUBSCRIPTION, required="account", records="data.row"),
        # report: compthirty compsixty cancelthirty cancelsixty startdate canceldate
        # nextpmtdate status (the last four take startDate/endDate or status).
        _ep("analytics.subscription_report",
            "GET /analytics/{role}/subscription/details/{report}",
            f"{_SUBSCRIPTION} startDate endDate status", required="account", together=_DATES,
            records="data.row"),
        _ep("analytics.subscription_trends", "GET /analytics/{role}/subscription/trends",
            "account groupBy productId startDate endDate", required="account startDate endDate",
            paged=True, records="data.row"),
        # Quickstats
        _ep("quickstats.list", "GET /quickstats/list", "startDate endDate account",
            together=_DATES, paged=True, records="accountData"),
        _ep("quickstats.count", "GET /quickstats/count", "startDate endDate account",
            together=_DATES),
        _ep("quickstats.accounts", "GET /quickstats/accounts", records="accountData"),
        # Shipping
        _ep("shipping.list", "GET /shipping3/list", "status days startDate endDate receipt",
            together=_DATES, paged=True, records="orderShipData2"),
        _ep("shipping.count", "GET /shipping3/count", "status days startDate endDate receipt",
            together=_DATES),
        _ep("shipping.get_notice", "GET /shipping3/shipnotice/{receipt}",
            records="shippingNoticeData"),
        _ep("shipping.create_notice", "POST /shipping3/shipnotice/{receipt}",
            "date carrier tracking comments item fillOrder"),
        # Other
        _ep("images.list", "GET /images/list", "site type approvedOnly page",
            records="imageList.images"),
        _ep("debug", "GET /debug"),
    )
}  # fmt: skip
