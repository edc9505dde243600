"""``POST /hooks/{flow}``: a generic inbound webhook that starts one flow, signed with the
flow's own HMAC secret (set with ``PUT /api/flows/{flow}/hook-secret``).

The signature is ghlbridge's outbound scheme, so one ghlbridge can call another::

    X-Ghlbridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{raw body}")>

``t`` must be within the timestamp window. The event is deduplicated on
``X-Ghlbridge-Delivery`` or ``Idempotency-Key`` when sent, else on (t, body), and stored with
its runs before the 200. A JSON object body is the trigger data as is; any other JSON value
arrives as ``{"body": value}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel

from ghlbridge.connectors.http.errors import WebhookSignatureError
from ghlbridge.connectors.http.webhook import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    verify_outbound_signature,
)
from ghlbridge.server.deps import BodyTooLarge, ServicesDep, limit_source, raw_body, store_failed

router = APIRouter(tags=["webhooks"])
SOURCE = "hook"

_JSON_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}}
_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Body is not JSON"},
    401: {"description": "Signature missing, wrong, or outside the timestamp window"},
    404: {"description": "No inbound hook for this flow"},
    409: {"description": "The flow is disabled"},
    413: {"description": "Body too large"},
    429: {"description": "Rate limited, or the event could not be stored"},
}


class HookAck(BaseModel):
    status: Literal["accepted", "duplicate"]
    event_id: str | None
    run_ids: list[str]


@router.post(
    "/hooks/{flow}",
    response_model=HookAck,
    responses=_REFUSALS,
    openapi_extra=_JSON_BODY,
    dependencies=[Depends(limit_source)],
    summary="Start a flow from a signed inbound webhook",
)
async def receive_hook(flow: str, request: Request, services: ServicesDep) -> HookAck:
    counters = services.counters
    secret = await asyncio.to_thread(services.hook_secrets.get, flow)
    if secret is None or flow not in services.recipes:
        raise HTTPException(status_code=404, detail=f"no inbound hook for flow {flow!r}")
    try:
        body = await raw_body(request, services)
    except BodyTooLarge:
        counters.verification_failed(SOURCE, "oversized")
        raise
    try:
        stamp = verify_outbound_signature(
            body,
            request.headers.get(SIGNATURE_HEADER),
            secret,
            tolerance=services.settings.timestamp_tolerance,
        )
    except WebhookSignatureError as exc:
        counters.verification_failed(SOURCE, "bad_signature")
        raise HTTPException(status_code=401, detail=str(exc)) from None
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        counters.verification_failed(SOURCE, "malformed_body")
        raise HTTPException(status_code=400, detail="body is not valid JSON") from None
    payload = data if isinstance(data, dict) else {"body": data}
    if not services.flow_enabled(flow):
        raise HTTPException(status_code=409, detail=f"flow {flow!r} is disabled")
    delivery = request.headers.get(DELIVERY_HEADER) or request.headers.get("idempotency-key")
    key = delivery[:100] if delivery else hashlib.sha256(f"{stamp}.".encode() + body).hexdigest()
    try:
        accepted = await services.engine.ingest_for_flow(
            flow, payload, source=SOURCE, dedupe_key=key
        )
    except KeyError:  # disabled meanwhile
        raise HTTPException(status_code=409, detail=f"flow {flow!r} is disabled") from None
    except Exception as exc:
        raise store_failed(services, exc, what="a hook event", status=429) from None
    counters.webhook(SOURCE, "duplicate" if accepted.duplicate else "accepted")
    return HookAck(
        status="duplicate" if accepted.duplicate else "accepted",
        event_id=accepted.event_id,
        run_ids=accepted.run_ids,
    )


__all__ = ["HookAck", "router"]
