"""Outbound webhooks: POST a JSON event to a receiver's URL, signed so it can trust it.

Signature scheme (what a receiver implements; `verify_outbound_signature` is the reference):

    X-Ghlbridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>

``body`` is the exact bytes of the request body (verify before parsing the JSON). A receiver
recomputes the HMAC with the shared secret, compares in constant time, and rejects a ``t``
more than the tolerance (default 300 s) away from its clock, which stops replays of old
deliveries. Several ``v1=`` entries may appear (while a secret is being rotated); one match
is enough. ``X-Ghlbridge-Delivery`` carries the delivery id, also sent as ``Idempotency-Key``:
retries of one delivery repeat it, so receivers can drop duplicates.
"""

from __future__ import annotations

import hmac
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from ghlbridge.client.retry import RetryPolicy
from ghlbridge.client.transport import Transport
from ghlbridge.connectors.http.app import HttpApp, HttpAppClient, HttpResult
from ghlbridge.connectors.http.auth import Clock, hmac_signature
from ghlbridge.connectors.http.errors import HttpConfigError, WebhookSignatureError

SIGNATURE_HEADER = "X-Ghlbridge-Signature"
DELIVERY_HEADER = "X-Ghlbridge-Delivery"
DEFAULT_TOLERANCE = 300.0


def sign_outbound(body: bytes, secret: str, timestamp: int) -> str:
    """The `X-Ghlbridge-Signature` value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={hmac_signature(secret, body, str(timestamp))}"


def verify_outbound_signature(
    body: bytes,
    header: str | None,
    secret: str | Sequence[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check a delivery's signature; return its timestamp or raise `WebhookSignatureError`.

    `secret` may be several secrets (old and new during a rotation).
    """
    if not header:
        raise WebhookSignatureError(f"no {SIGNATURE_HEADER} header")
    stamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            stamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(stamps) != 1 or not stamps[0].isdigit():
        raise WebhookSignatureError(f"{SIGNATURE_HEADER} has no valid t=<timestamp>")
    if not signatures:
        raise WebhookSignatureError(f"{SIGNATURE_HEADER} has no v1=<signature>")
    timestamp = int(stamps[0])
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookSignatureError(
            f"signature timestamp is {abs(current - timestamp):.0f} s away from now "
            f"(tolerance {tolerance:.0f} s)"
        )
    secrets = [secret] if isinstance(secret, str) else list(secret)
    for candidate in secrets:
        expected = hmac_signature(candidate, body, stamps[0])
        # Compare every pair (no early exit on the first match) to keep timing flat.
        matched = [hmac.compare_digest(expected, given) for given in signatures]
        if any(matched):
            return timestamp
    raise WebhookSignatureError("signature does not match the body")


class OutboundWebhook:
    """Delivers signed JSON events to one URL, with the same SSRF guard as HTTP apps."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        allow_private: bool = False,
        allow_networks: tuple[str, ...] = (),
        timeout: float = 15.0,
        retry: RetryPolicy | None = None,
        transport: Transport | None = None,
        clock: Clock = time.time,
    ) -> None:
        if not secret:
            raise HttpConfigError("webhook secret is required")
        self._secret = secret
        self._clock = clock
        app = HttpApp(
            base_url=url,
            timeout=timeout,
            retry=retry or RetryPolicy(max_attempts=4),
            allow_private=allow_private,
            allow_networks=allow_networks,
            follow_redirects=False,  # a receiver's URL is exact; a redirect is a misconfiguration
        )
        self._client = HttpAppClient(app, transport=transport)

    async def __aenter__(self) -> OutboundWebhook:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, payload: Any, *, delivery_id: str | None = None) -> HttpResult:
        """POST `payload` as JSON; retried (same id, same signature) on 429/5xx/timeouts."""
        delivery = delivery_id or str(uuid.uuid4())
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str)
        raw = body.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_outbound(raw, self._secret, int(self._clock())),
            DELIVERY_HEADER: delivery,
        }
        return await self._client.request(
            "POST", "", content=raw, headers=headers, idempotency_key=delivery
        )
