"""``POST /webhooks/ghl``: GHL's webhooks, verified, deduplicated and stored before the 2xx.

Order of checks (each refusal is a 4xx and stores nothing): per-source rate limit (429) ->
body size (413, before it is read in full) -> signature over the raw bytes (401) -> JSON
object (400) -> ``timestamp`` within the window (400). Then the event is stored with its
runs in one transaction (`FlowEngine.ingest_event`, deduplicated on ``webhookId``) and only
then answered 200. If it cannot be stored the answer is 429: the one status GHL retries.
INSTALL and UNINSTALL then create or remove the installation and its connections/tokens.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel

from ghlbridge.server.deps import BodyTooLarge, ServicesDep, limit_source, raw_body, store_failed
from ghlbridge.server.services import Services
from ghlbridge.server.verify import VerificationError

router = APIRouter(tags=["webhooks"])
log = logging.getLogger("ghlbridge.server.webhooks")
SOURCE = "ghl"

_JSON_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed body, or timestamp outside the window"},
    401: {"description": "Unsigned, or the signature does not verify"},
    413: {"description": "Body too large"},
    429: {"description": "Rate limited, or the event could not be stored (GHL retries)"},
}


class WebhookAck(BaseModel):
    status: Literal["accepted", "duplicate"]
    event_id: str | None
    runs: int
    scheme: Literal["ed25519", "rsa"]


def parse_timestamp(value: Any) -> float | None:
    """Seconds since the epoch from ISO 8601 text or epoch seconds/milliseconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) / 1000 if value > 1e11 else float(value)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.replace(".", "", 1).isdigit():
            return parse_timestamp(float(text))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None
        return parsed.timestamp()
    return None


def check_timestamp(payload: dict[str, Any], tolerance: float, now: float) -> str | None:
    """Why the payload's ``timestamp`` is unacceptable, or None. A payload without one is
    accepted (its dedupe key still stops replays)."""
    if "timestamp" not in payload:
        return None
    stamp = parse_timestamp(payload["timestamp"])
    if stamp is None:
        return "timestamp is neither ISO 8601 with a time zone nor epoch time"
    if abs(now - stamp) > tolerance:
        return f"timestamp is {abs(now - stamp):.0f} s from now (window: {tolerance:.0f} s)"
    return None


def parse_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(status_code=400, detail="body is not valid JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(status_code=400, detail="body is not a JSON object")
    return data


def dedupe_key(payload: dict[str, Any], body: bytes) -> str:
    """GHL's ``webhookId``, else a hash of the exact body."""
    webhook_id = payload.get("webhookId")
    if isinstance(webhook_id, str | int) and str(webhook_id):
        return str(webhook_id)[:200]
    return "sha256:" + hashlib.sha256(body).hexdigest()


@router.post(
    "/webhooks/ghl",
    response_model=WebhookAck,
    responses=_REFUSALS,
    openapi_extra=_JSON_BODY,
    dependencies=[Depends(limit_source)],
    summary="Receive a GHL webhook (signed with x-ghl-signature or x-wh-signature)",
)
async def receive_ghl_webhook(request: Request, services: ServicesDep) -> WebhookAck:
    counters = services.counters
    try:
        body = await raw_body(request, services)
    except BodyTooLarge:
        counters.verification_failed(SOURCE, "oversized")
        raise
    try:
        scheme = services.verifier.verify(body, request.headers)
    except VerificationError as exc:
        counters.verification_failed(SOURCE, exc.reason)
        raise HTTPException(status_code=401, detail=str(exc)) from None
    try:
        payload = parse_object(body)
    except HTTPException:
        counters.verification_failed(SOURCE, "malformed_body")
        raise
    problem = check_timestamp(payload, services.settings.timestamp_tolerance, time.time())
    if problem is not None:
        counters.verification_failed(SOURCE, "stale")
        raise HTTPException(status_code=400, detail=problem)
    try:
        accepted = await services.engine.ingest_event(
            SOURCE, payload, dedupe_key=dedupe_key(payload, body)
        )
    except Exception as exc:
        raise store_failed(services, exc, what="a GHL webhook", status=429) from None
    counters.webhook(SOURCE, "duplicate" if accepted.duplicate else "accepted")
    if not accepted.duplicate:
        await _apply_lifecycle(services, payload)
    return WebhookAck(
        status="duplicate" if accepted.duplicate else "accepted",
        event_id=accepted.event_id,
        runs=len(accepted.run_ids),
        scheme=scheme,
    )


async def _apply_lifecycle(services: Services, payload: dict[str, Any]) -> None:
    """INSTALL / UNINSTALL: the event is stored already; a failure here is logged only."""
    kind = payload.get("type")
    if kind not in ("INSTALL", "UNINSTALL"):
        return
    try:
        config = await asyncio.to_thread(services.oauth_config)
        expected = config.app_id if config is not None else None
        if kind == "INSTALL":
            ignored = await asyncio.to_thread(services.installations.on_install, payload, expected)
            if ignored:
                log.warning("INSTALL ignored: %s", ignored)
        else:
            result = await services.installations.on_uninstall(payload, expected)
            if result.ignored:
                log.warning("UNINSTALL ignored: %s", result.ignored)
            elif result.removed_connections:
                log.info("UNINSTALL removed connections %s", ", ".join(result.removed_connections))
    except Exception as exc:
        log.error("applying %s failed: %s", kind, type(exc).__name__)


__all__ = ["WebhookAck", "check_timestamp", "dedupe_key", "parse_timestamp", "router"]
