"""``POST /webhooks/clickbank/{connection}``: ClickBank's Instant Notifications (INS 6.0-8.0),
decrypted with the connection's secret key and stored before the 200.

ClickBank signs nothing: a body that decrypts, under the stored secret key, to a JSON object
holding ``receipt`` and ``transactionType`` is the proof it came from ClickBank (or someone
with the key). Order of checks (each refusal stores nothing): per-source rate limit (429) ->
a ``clickbank`` connection of that name with an INS secret key (404) -> body size (413) ->
decryption and the required fields (400, one line that never holds the key or the plain
text). Then the event and its runs are stored in one transaction
(`flows.triggers.clickbank.ingest`, deduplicated on receipt + type + line items, never the
attempt count) and only then answered 200. ClickBank delivers again after any non-2xx, so a
store that cannot take the event answers 503 (with Retry-After).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel

from ghlbridge.connectors.clickbank.errors import (
    BadBase64,
    BadEnvelope,
    BadIV,
    BadSecretKey,
    InsError,
    MissingFields,
    NotJSON,
    WrongKeyOrCorrupt,
)
from ghlbridge.connectors.clickbank.ins import decrypt_notification
from ghlbridge.connectors.clickbank.notification import parse_notification
from ghlbridge.flows.triggers.clickbank import SOURCE, ingest
from ghlbridge.server.deps import BodyTooLarge, ServicesDep, limit_source, raw_body, store_failed
from ghlbridge.server.services import Services
from ghlbridge.store import ConnectionNotFoundError, VaultError

router = APIRouter(tags=["webhooks"])
log = logging.getLogger("ghlbridge.server.clickbank")
PROVIDER = "clickbank"

_JSON_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"notification": {"type": "string"}, "iv": {"type": "string"}},
                    "required": ["notification", "iv"],
                }
            }
        },
    }
}
_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not an INS body, or it does not decrypt to a notification"},
    404: {"description": "No ClickBank connection of this name with an INS secret key"},
    413: {"description": "Body too large"},
    429: {"description": "Rate limited"},
    503: {"description": "The notification could not be stored (ClickBank delivers it again)"},
}
# The `reason` label of ghlbridge_webhook_verification_failures_total per refusal.
_REASONS: dict[type[InsError], str] = {
    BadSecretKey: "bad_secret_key",
    BadEnvelope: "malformed_body",
    BadBase64: "bad_base64",
    BadIV: "bad_iv",
    WrongKeyOrCorrupt: "wrong_key",
    NotJSON: "not_json",
    MissingFields: "missing_fields",
}


class InsAck(BaseModel):
    status: Literal["accepted", "duplicate"]
    event_id: str | None
    runs: int


def _secret_key(services: Services, name: str) -> str | None:
    """The connection's INS secret key; None when there is no such ClickBank connection."""
    try:
        conn = services.connections.get(name)
    except ConnectionNotFoundError:
        return None
    if conn.provider != PROVIDER:
        return None
    key = conn.secret().get("secret_key")
    return key if isinstance(key, str) and key else None


@router.post(
    "/webhooks/clickbank/{connection}",
    response_model=InsAck,
    responses=_REFUSALS,
    openapi_extra=_JSON_BODY,
    dependencies=[Depends(limit_source)],
    summary="Receive a ClickBank Instant Notification (INS 6.0-8.0, encrypted)",
)
async def receive_ins(connection: str, request: Request, services: ServicesDep) -> InsAck:
    counters = services.counters
    try:
        secret_key = await asyncio.to_thread(_secret_key, services, connection)
    except VaultError as exc:
        log.error("cannot read the secret key of connection %s: %s", connection, exc)
        raise HTTPException(
            status_code=503,
            detail="the connection's secret key cannot be read; try again later",
            headers={"Retry-After": "60"},
        ) from None
    if secret_key is None:
        counters.verification_failed(SOURCE, "unknown_connection")
        raise HTTPException(
            status_code=404,
            detail=f"no ClickBank connection {connection[:64]!r} with an INS secret key",
        )
    services.redactor.add([secret_key])
    services.engine.redactor.add([secret_key])
    try:
        body = await raw_body(request, services)
    except BodyTooLarge:
        counters.verification_failed(SOURCE, "oversized")
        raise
    try:
        notification = parse_notification(decrypt_notification(body, secret_key))
    except InsError as exc:  # messages never hold the key or decrypted content
        counters.verification_failed(SOURCE, _REASONS.get(type(exc), "malformed_body"))
        raise HTTPException(status_code=400, detail=str(exc)) from None
    try:
        accepted = await ingest(services.engine, notification, connection=connection)
    except Exception as exc:
        raise store_failed(services, exc, what="a ClickBank notification", status=503) from None
    counters.webhook(SOURCE, "duplicate" if accepted.duplicate else "accepted")
    return InsAck(
        status="duplicate" if accepted.duplicate else "accepted",
        event_id=accepted.event_id,
        runs=len(accepted.run_ids),
    )


__all__ = ["InsAck", "router"]
