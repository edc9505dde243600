"""The demo partner app behaves like a careful partner API: API key, idempotency keys,
required fields, signed webhooks, and a read-back of what arrived."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from ghlbridge.connectors.http import SIGNATURE_HEADER, sign_outbound
from ghlbridge.partner import (
    API_KEY_HEADER,
    REPLAYED_HEADER,
    Partner,
    PartnerSettings,
    create_partner_app,
    partner_of,
)

KEY = "k-123456"
AUTH = {API_KEY_HEADER: KEY}
DETAILS = {"locationId": "L1", "tagId": "t1", "details": {"tag": "Promo"}, "timestamp": "now"}


class Client:
    """The partner app in process, and shortcuts that return (status, JSON, headers)."""

    def __init__(self, **settings: str) -> None:
        app = create_partner_app(PartnerSettings(api_key=KEY, **settings))
        self.partner: Partner = partner_of(app)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://partner"
        )

    async def post(
        self, path: str, body: Any, *, auth: bool = True, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        sent = {**(AUTH if auth else {}), **(headers or {})}
        if isinstance(body, bytes):
            return await self.http.post(path, content=body, headers=sent)
        return await self.http.post(path, json=body, headers=sent)

    async def get(self, path: str, *, auth: bool = True, **params: str) -> httpx.Response:
        return await self.http.get(path, params=params, headers=AUTH if auth else {})


async def test_every_call_but_health_needs_the_api_key() -> None:
    c = Client()
    assert (await c.get("/health", auth=False)).status_code == 200
    assert (await c.post("/tag-details", DETAILS, auth=False)).status_code == 401
    wrong = await c.post("/tag-details", DETAILS, auth=False, headers={API_KEY_HEADER: "x"})
    assert wrong.status_code == 401
    assert (await c.get("/received", auth=False)).status_code == 401
    assert (await c.post("/tag-details", DETAILS)).status_code == 201


async def test_a_repeated_idempotency_key_is_answered_from_memory_and_stored_once() -> None:
    c = Client()
    key = {"Idempotency-Key": "key-1"}
    first = await c.post("/tag-details", DETAILS, headers=key)
    again = await c.post("/tag-details", DETAILS, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers[REPLAYED_HEADER] == "true"
    other = await c.post("/tag-details", {**DETAILS, "tagId": "t2"}, headers=key)
    assert other.status_code == 422 and "different request" in other.json()["error"]
    assert len(c.partner.received("tag_details")) == 1 and c.partner.state.replays == 1
    listed = (await c.get("/received", kind="tag_details")).json()
    assert listed["count"] == 1 and listed["items"][0]["idempotencyKey"] == "key-1"
    assert listed["items"][0]["body"] == DETAILS and listed["items"][0]["locationId"] == "L1"


async def test_missing_fields_bad_json_and_unknown_kinds_are_named() -> None:
    c = Client()
    missing = await c.post("/tag-details", {"locationId": "L1"})
    assert missing.status_code == 422
    assert missing.json()["error"] == "missing fields: tagId, details, timestamp"
    assert (await c.post("/statistics", b"{nope")).status_code == 400
    assert (await c.post("/locations/L9/tags", {"tags": ["a"]})).status_code == 201
    only = (await c.get("/received", locationId="L9")).json()
    assert [i["kind"] for i in only["items"]] == ["location_tags"]
    assert (await c.get("/received", kind="nope")).status_code == 400


async def test_webhooks_are_accepted_only_with_a_valid_signature() -> None:
    c = Client(webhook_secret="wh-secret-99")
    body = json.dumps({"event": "sale", "locationId": "L1"}).encode()
    now = int(time.time())
    delivery = {"Idempotency-Key": "d-1"}  # a forgery must not claim the delivery's key
    bad = {SIGNATURE_HEADER: sign_outbound(body, "another-secret", now), **delivery}
    good = {SIGNATURE_HEADER: sign_outbound(body, "wh-secret-99", now), **delivery}
    assert (await c.post("/webhooks", body, auth=False, headers=bad)).status_code == 401
    assert (await c.post("/webhooks", body, auth=False, headers=good)).status_code == 200
    assert c.partner.received("webhook") == [{"event": "sale", "locationId": "L1"}]


async def test_a_tag_details_request_needs_a_configured_hook() -> None:
    c = Client()
    asked = await c.post("/tag-details-request", {"locationId": "L1", "tagIds": ["t1"]})
    assert asked.status_code == 409 and "hook" in asked.json()["error"]
    answer = await c.post("/tag-details-requests/none/response", {"details": []})
    assert answer.status_code == 404
