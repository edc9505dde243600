"""The sandbox's own endpoints under ``/.sandbox/`` (no token, no rate limit, no faults):
the webhook public keys, the delivery log, the published events, and the registered URLs.

    GET    /.sandbox/webhook-keys          {"ed25519": PEM, "rsa": PEM, "headers": {...}}
    GET    /.sandbox/webhook-deliveries    {"deliveries": [...], "unfinished": n}  ?status= ?type=
    GET    /.sandbox/webhook-events        {"events": [...]}  ?type=
    GET    /.sandbox/webhook-urls          {"urls": {url: [types] | null}}
    POST   /.sandbox/webhook-urls          {"url": URL, "events": [types]?}
    DELETE /.sandbox/webhook-urls?url=URL
    POST   /.sandbox/install               {"locationId"?: L, "agency"?: bool} -> INSTALL event
    POST   /.sandbox/uninstall             same; revokes the app's tokens -> UNINSTALL event
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ghlbridge.sandbox.webhooks import ED25519_HEADER, RSA_HEADER

if TYPE_CHECKING:
    from ghlbridge.sandbox.core import Sandbox

PREFIX = "/.sandbox"


def admin_routes(sandbox: Sandbox) -> list[Route]:
    hooks = sandbox.webhooks

    async def webhook_keys(request: Request) -> Response:
        public = await asyncio.to_thread(hooks.public_keys)  # the first call makes the keys
        body = {**public.as_json(), "headers": {"ed25519": ED25519_HEADER, "rsa": RSA_HEADER}}
        return JSONResponse(body)

    async def webhook_deliveries(request: Request) -> Response:
        status, kind = request.query_params.get("status"), request.query_params.get("type")
        rows = [
            d.as_json()
            for d in hooks.deliveries()
            if (status is None or d.status == status) and (kind is None or d.event_type == kind)
        ]
        return JSONResponse({"deliveries": rows, "unfinished": hooks.sender.unfinished()})

    async def webhook_events(request: Request) -> Response:
        return JSONResponse({"events": hooks.events(request.query_params.get("type"))})

    async def webhook_urls(request: Request) -> Response:
        if request.method == "POST":
            body = await _json(request)
            url, events = body.get("url"), body.get("events")
            listed = isinstance(events, list) and all(isinstance(e, str) for e in events)
            if not isinstance(url, str) or not (events is None or listed):
                return _error(400, 'expected {"url": URL, "events": [event types]?}')
            try:
                hooks.add_url(url, events)
            except ValueError as exc:
                return _error(400, str(exc))
        elif request.method == "DELETE":
            url = request.query_params.get("url") or (await _json(request)).get("url")
            if not isinstance(url, str) or not hooks.remove_url(url):
                return _error(404, f"webhook URL {url!r} is not registered")
        return JSONResponse({"urls": hooks.urls()})

    async def install(request: Request) -> Response:
        body = await _json(request)
        location_id, agency = body.get("locationId"), bool(body.get("agency"))
        if location_id is not None and sandbox.world.location(str(location_id)) is None:
            return _error(404, f"Location {location_id} not found")
        where = str(location_id) if location_id else None
        if request.url.path.endswith("/uninstall"):
            return JSONResponse(sandbox.uninstall(where, agency=agency))
        return JSONResponse(sandbox.install(where, agency=agency))

    return [
        Route(f"{PREFIX}/install", install, methods=["POST"]),
        Route(f"{PREFIX}/uninstall", install, methods=["POST"]),
        Route(f"{PREFIX}/webhook-keys", webhook_keys, methods=["GET"]),
        Route(f"{PREFIX}/webhook-deliveries", webhook_deliveries, methods=["GET"]),
        Route(f"{PREFIX}/webhook-events", webhook_events, methods=["GET"]),
        Route(f"{PREFIX}/webhook-urls", webhook_urls, methods=["GET", "POST", "DELETE"]),
    ]


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error(status: int, message: str) -> Response:
    return JSONResponse({"statusCode": status, "message": message}, status_code=status)
