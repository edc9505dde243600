"""Outbound webhooks: signed deliveries a receiver can verify, retried with the same id."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import pytest

from ghlbridge.client.retry import RetryPolicy
from ghlbridge.connectors.http import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    BlockedAddressError,
    HttpConfigError,
    OutboundWebhook,
    WebhookSignatureError,
    sign_outbound,
    verify_outbound_signature,
)
from tests.connectors.app_server import AppServer

SECRET = "whsec-test-1"
NOW = 1_700_000_000


@pytest.fixture
async def server() -> AsyncIterator[AppServer]:
    async with AppServer() as srv:
        yield srv


def hook(server: AppServer, path: str = "/echo/hook", **kw: object) -> OutboundWebhook:
    return OutboundWebhook(
        f"{server.base_url}{path}",
        SECRET,
        allow_private=True,
        retry=RetryPolicy(max_attempts=3, base_delay=0.0),
        **kw,  # type: ignore[arg-type]
    )


async def test_delivery_is_signed_json_that_the_receiver_verifies(server: AppServer) -> None:
    async with hook(server) as wh:
        result = await wh.send({"event": "sale", "amount": "19.99", "name": "Zoë"})
    seen = result.json
    body = seen["body"].encode()
    assert json.loads(body) == {"event": "sale", "amount": "19.99", "name": "Zoë"}
    assert seen["headers"]["Content-Type"] == "application/json"
    assert seen["path"] == "/echo/hook"  # the URL is used exactly as given
    header = seen["headers"][SIGNATURE_HEADER]
    stamp = verify_outbound_signature(body, header, SECRET)
    expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert header == f"t={stamp},v1={expected}"
    assert seen["headers"][DELIVERY_HEADER] == seen["headers"]["Idempotency-Key"]


async def test_failed_delivery_is_retried_with_the_same_id_and_signature(server: AppServer) -> None:
    server.flaky = 2
    async with hook(server, "/flaky") as wh:
        result = await wh.send({"n": 1}, delivery_id="dlv-9")
    attempts = [r["headers"] for r in server.requests]
    assert result.ok and len(attempts) == 3
    assert {a[DELIVERY_HEADER] for a in attempts} == {"dlv-9"}
    assert len({a[SIGNATURE_HEADER] for a in attempts}) == 1


async def test_webhook_to_a_private_address_is_refused_by_default(server: AppServer) -> None:
    async with OutboundWebhook(f"{server.base_url}/echo/hook", SECRET) as wh:
        with pytest.raises(BlockedAddressError):
            await wh.send({"n": 1})
    assert server.requests == []


def test_empty_webhook_secret_is_refused() -> None:
    with pytest.raises(HttpConfigError, match="secret is required"):
        OutboundWebhook("https://hooks.example.com/x", "")


def test_verify_accepts_a_good_signature_and_a_rotated_secret() -> None:
    body = b'{"a":1}'
    header = sign_outbound(body, SECRET, NOW)
    assert verify_outbound_signature(body, header, SECRET, now=NOW + 10) == NOW
    assert verify_outbound_signature(body, header, ["new-secret", SECRET], now=NOW) == NOW
    both = f"{header},v1={'0' * 64}"
    assert verify_outbound_signature(body, both, SECRET, now=NOW) == NOW


@pytest.mark.parametrize(
    ("body", "header", "secret", "now", "words"),
    [
        (b'{"a":2}', sign_outbound(b'{"a":1}', SECRET, NOW), SECRET, NOW, "does not match"),
        (b'{"a":1}', sign_outbound(b'{"a":1}', SECRET, NOW), "other", NOW, "does not match"),
        (b'{"a":1}', sign_outbound(b'{"a":1}', SECRET, NOW), SECRET, NOW + 301, "301 s away"),
        (b'{"a":1}', sign_outbound(b'{"a":1}', SECRET, NOW), SECRET, NOW - 400, "400 s away"),
        (b'{"a":1}', None, SECRET, NOW, "no X-Ghlbridge-Signature header"),
        (b'{"a":1}', "v1=abc", SECRET, NOW, "no valid t="),
        (b'{"a":1}', f"t={NOW}", SECRET, NOW, "no v1="),
        (b'{"a":1}', "t=soon,v1=ab", SECRET, NOW, "no valid t="),
    ],
)
def test_verify_rejects_tampering_wrong_secrets_stale_times_and_bad_headers(
    body: bytes, header: str | None, secret: str, now: int, words: str
) -> None:
    with pytest.raises(WebhookSignatureError, match=words):
        verify_outbound_signature(body, header, secret, now=now)
