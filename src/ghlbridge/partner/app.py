"""A demo partner app ("Your App", Clienty, Rankr): the other side of the templates.

A test double, kept small: it receives what ghlbridge's template flows push, stores it, and
lets a test or the demo read it back. It behaves like a careful partner API:

- every call but ``GET /health`` needs ``X-API-Key`` (401 without it);
- a POST that repeats an ``Idempotency-Key`` is not processed again: the first answer is
  sent back with ``Idempotent-Replayed: true`` (a different request under the same key: 422;
  one still in progress: 409);
- bodies are checked for the fields each endpoint needs (422 names the missing ones).

Endpoints (see `state.KINDS`):

    POST /tag-details                          {locationId, tagId, details, timestamp}
    POST /locations/{locationId}/tags          {tags, timestamp}
    POST /statistics                           {locationId, dateRange, metrics, timestamp}
    POST /post-stats                           {locationId, postId, metrics, timestamp}
    POST /tag-details-request                  {locationId, tagIds}: asks ghlbridge (below)
    POST /tag-details-requests/{id}/response   {details}: ghlbridge's answer
    GET  /tag-details-requests/{id}            the request and its answer
    POST /webhooks                             a signed ghlbridge webhook (no API key; the
                                               X-Ghlbridge-Signature is checked instead)
    GET  /received?kind=...&locationId=...     what arrived, oldest first
    GET  /health

``POST /tag-details-request`` is the partner starting a flow: it POSTs
``{requestId, locationId, tagIds}`` to `PartnerSettings.hook_url` (ghlbridge's
``POST /hooks/{flow}``), signed with `hook_secret` as ghlbridge's inbound hooks expect.
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ghlbridge.client.errors import TransportError
from ghlbridge.connectors.errors import ConnectorError
from ghlbridge.connectors.http.webhook import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    OutboundWebhook,
    verify_outbound_signature,
)
from ghlbridge.partner.state import KINDS, PartnerState, TagDetailsRequest

API_KEY_HEADER = "X-API-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
DEFAULT_API_KEY = "demo-partner-key"
REQUIRED = {
    "tag_details": ("locationId", "tagId", "details", "timestamp"),
    "location_tags": ("tags",),
    "statistics": ("locationId", "metrics"),
    "post_stats": ("locationId", "postId", "metrics"),
    "tag_details_request": ("locationId", "tagIds"),
    "tag_details_response": ("details",),
}
Handler = Callable[[Request, dict[str, Any]], Awaitable[tuple[int, Any]]]


@dataclass(frozen=True)
class PartnerSettings:
    """`hook_url`/`hook_secret`: where ``POST /tag-details-request`` asks ghlbridge;
    `webhook_secret`: verifies ``POST /webhooks`` deliveries."""

    api_key: str = DEFAULT_API_KEY
    name: str = "Your App (ghlbridge demo partner)"
    hook_url: str | None = None
    hook_secret: str | None = None
    webhook_secret: str | None = None


class Partner:
    """The app's settings and state; `create_partner_app` serves it."""

    def __init__(self, settings: PartnerSettings | None = None) -> None:
        self.settings = settings or PartnerSettings()
        self.state = PartnerState()

    def received(self, kind: str | None = None, location_id: str | None = None) -> list[Any]:
        """The bodies that arrived (of one kind, for one location), oldest first."""
        return [r.body for r in self.state.received(kind, location_id)]

    # -- plumbing -----------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        given = request.headers.get(API_KEY_HEADER, "")
        return hmac.compare_digest(given.encode(), self.settings.api_key.encode())

    async def _post(self, request: Request, kind: str, handler: Handler) -> Response:
        """Auth, idempotency, JSON and required fields around one POST handler."""
        raw = await request.body()
        refused = self._signature_refused(request, raw) if kind == "webhook" else None
        if refused is not None:  # checked before the key, so a forgery cannot claim it
            return refused
        if kind != "webhook" and not self._authorized(request):
            return _error(401, f"missing or wrong {API_KEY_HEADER}")
        key = request.headers.get("idempotency-key")
        if key:
            earlier = self.state.begin(key, request.url.path, raw)
            if earlier is not None:
                if earlier.fingerprint != self.state.fingerprint(request.url.path, raw):
                    return _error(422, "Idempotency-Key was used with a different request")
                if earlier.pending:
                    return _error(409, "a request with this Idempotency-Key is in progress")
                return JSONResponse(earlier.body, earlier.status, headers={REPLAYED_HEADER: "true"})
        status, answer = await self._answer(request, kind, raw, handler)
        if key:
            self.state.finish(key, status, answer)
        return JSONResponse(answer, status)

    async def _answer(
        self, request: Request, kind: str, raw: bytes, handler: Handler
    ) -> tuple[int, Any]:
        try:
            body = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            return 400, {"error": "body is not JSON"}
        if not isinstance(body, dict):
            return 422, {"error": "body must be a JSON object"}
        body = {**body, **request.path_params}
        missing = [f for f in REQUIRED.get(kind, ()) if body.get(f) in (None, "")]
        if missing:
            return 422, {"error": f"missing fields: {', '.join(missing)}"}
        return await handler(request, body)

    def _store(self, kind: str) -> Handler:
        async def store(request: Request, body: dict[str, Any]) -> tuple[int, Any]:
            item = self.state.add(
                kind,
                body,
                location_id=_text(body.get("locationId")),
                idempotency_key=request.headers.get("idempotency-key"),
            )
            return 201, {"id": item.id, "kind": kind, "received": True}

        return store

    # -- tag details requested by the partner -------------------------------------------

    async def _ask_for_details(self, request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        url, secret = self.settings.hook_url, self.settings.hook_secret
        if not url or not secret:
            return 409, {"error": "no ghlbridge hook is configured (hook_url, hook_secret)"}
        tag_ids = body["tagIds"] if isinstance(body["tagIds"], list) else [body["tagIds"]]
        location = str(body["locationId"])
        ask = TagDetailsRequest(str(uuid.uuid4()), location, [str(t) for t in tag_ids])
        self.state.requests[ask.id] = ask
        payload = {"requestId": ask.id, "locationId": ask.location_id, "tagIds": ask.tag_ids}
        self.state.add("tag_details_request", payload, location_id=ask.location_id)
        # A demo double on the user's machine: ghlbridge's hook is local, so allow it.
        async with OutboundWebhook(url, secret, allow_private=True, timeout=15.0) as hook:
            try:
                answer = await hook.send(payload, delivery_id=ask.id)
                ask.sent_status = answer.status
                if not answer.ok:
                    ask.error = f"ghlbridge answered HTTP {answer.status}"
            except (ConnectorError, TransportError) as exc:
                ask.error = str(exc)
        return (202 if ask.error is None else 502), ask.to_dict()

    async def _details_answered(self, request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        ask = self.state.requests.get(str(body["id"]))
        if ask is None:
            return 404, {"error": f"no tag details request {body['id']!r}"}
        ask.response = body["details"]
        self.state.add(
            "tag_details_response",
            body,
            location_id=ask.location_id,
            idempotency_key=request.headers.get("idempotency-key"),
        )
        return 200, ask.to_dict()

    def _signature_refused(self, request: Request, raw: bytes) -> Response | None:
        secret = self.settings.webhook_secret
        if not secret:
            return _error(409, "no webhook secret is configured")
        try:
            verify_outbound_signature(raw, request.headers.get(SIGNATURE_HEADER), secret)
        except ConnectorError as exc:
            return _error(401, str(exc))
        return None

    async def _webhook(self, request: Request, body: dict[str, Any]) -> tuple[int, Any]:
        item = self.state.add(
            "webhook",
            body,
            location_id=_text(body.get("locationId")),
            idempotency_key=request.headers.get(DELIVERY_HEADER),
        )
        return 200, {"id": item.id, "received": True}

    # -- reads ----------------------------------------------------------------------------

    async def _read(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, f"missing or wrong {API_KEY_HEADER}")
        kind = request.query_params.get("kind")
        if kind is not None and kind not in KINDS:
            return _error(400, f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
        items = self.state.received(kind, request.query_params.get("locationId"))
        return JSONResponse({"items": [i.to_dict() for i in items], "count": len(items)})

    async def _request_status(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, f"missing or wrong {API_KEY_HEADER}")
        ask = self.state.requests.get(request.path_params["id"])
        if ask is None:
            return _error(404, "no such tag details request")
        return JSONResponse(ask.to_dict())

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "name": self.settings.name, "kinds": KINDS})

    def routes(self) -> list[Route]:
        def post(path: str, kind: str, handler: Handler | None = None) -> Route:
            async def endpoint(request: Request) -> Response:
                return await self._post(request, kind, handler or self._store(kind))

            return Route(path, endpoint, methods=["POST"])

        return [
            Route("/health", self._health, methods=["GET"]),
            Route("/received", self._read, methods=["GET"]),
            post("/tag-details", "tag_details"),
            post("/locations/{locationId}/tags", "location_tags"),
            post("/statistics", "statistics"),
            post("/post-stats", "post_stats"),
            post("/tag-details-request", "tag_details_request", self._ask_for_details),
            post(
                "/tag-details-requests/{id}/response",
                "tag_details_response",
                self._details_answered,
            ),
            Route("/tag-details-requests/{id}", self._request_status, methods=["GET"]),
            post("/webhooks", "webhook", self._webhook),
        ]


def create_partner_app(
    settings: PartnerSettings | None = None, *, partner: Partner | None = None
) -> Starlette:
    """The ASGI app (for uvicorn or the client's `ASGITransport`); `partner_of(app)` is its
    state."""
    partner = partner or Partner(settings)
    app = Starlette(routes=partner.routes())
    app.state.partner = partner
    return app


def partner_of(app: Starlette) -> Partner:
    found: Partner = app.state.partner
    return found


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


__all__ = [
    "API_KEY_HEADER",
    "DEFAULT_API_KEY",
    "REPLAYED_HEADER",
    "Partner",
    "PartnerSettings",
    "create_partner_app",
    "partner_of",
]
