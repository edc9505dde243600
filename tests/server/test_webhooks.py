"""POST /webhooks/ghl in-process: signed events are stored once and drive flows; unsigned,
forged, malformed, oversized and stale ones get a 4xx and store nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from ghlbridge.flows.store import FlowStore
from tests.server.conftest import CLIENT_ID, ServerHarness, ghl_event


def stored(h: ServerHarness) -> list[dict[str, Any]]:
    return FlowStore(h.services.db).list_events(limit=500)


async def _contact(h: ServerHarness, email: str) -> dict[str, Any]:
    async with h.ghl() as ghl:
        made = await ghl.call("contacts.create_contact", body={"email": email})
    return dict(made["contact"])


async def test_a_signed_contact_create_is_stored_and_tags_the_contact(
    harness: ServerHarness,
) -> None:
    h = harness
    await h.add_pit_connection()
    contact = await _contact(h, "ada@example.com")
    event = ghl_event("ContactCreate", location_id=h.sb.location_id, **contact)
    answer = await h.webhook(event)
    assert answer.status_code == 200, answer.text
    ack = answer.json()
    assert ack["status"] == "accepted" and ack["runs"] == 1 and ack["scheme"] == "ed25519"
    (event_row,) = stored(h)
    assert event_row["id"] == ack["event_id"] and event_row["dedupe_key"] == (
        f"ghl:{event['webhookId']}"
    )
    (run,) = await h.wait_runs("tag-new-contacts")
    assert run["status"] == "succeeded", run
    async with h.ghl() as ghl:
        found = await ghl.call("contacts.get_contact", {"contactId": contact["id"]})
    assert "welcomed" in found["contact"]["tags"]


async def test_a_replayed_webhook_id_is_acknowledged_but_stored_and_run_once(
    harness: ServerHarness,
) -> None:
    h = harness
    await h.add_pit_connection()
    contact = await _contact(h, "bob@example.com")
    body = json.dumps(ghl_event("ContactCreate", location_id=h.sb.location_id, **contact))
    first = await h.webhook(body.encode())
    again = await h.webhook(body.encode())
    assert first.json()["status"] == "accepted"
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert again.json()["event_id"] == first.json()["event_id"]
    assert len(stored(h)) == 1
    runs = await h.wait_runs("tag-new-contacts")
    assert len(runs) == 1


@pytest.mark.parametrize("header", ["x-ghl-signature", "x-wh-signature"])
async def test_either_signature_alone_is_accepted(harness: ServerHarness, header: str) -> None:
    h = harness
    body = json.dumps(ghl_event("NoteCreate", location_id=h.sb.location_id, id="n1")).encode()
    only = {header: h.sign(body)[header], "content-type": "application/json"}
    answer = await h.webhook(body, headers=only)
    assert answer.status_code == 200, answer.text
    assert answer.json()["scheme"] == ("ed25519" if header == "x-ghl-signature" else "rsa")


def _forged_ed25519(body: bytes) -> str:
    return base64.b64encode(ed25519.Ed25519PrivateKey.generate().sign(body)).decode()


async def test_refused_webhooks_get_a_4xx_and_nothing_is_stored(harness: ServerHarness) -> None:
    h = harness
    loc = h.sb.location_id

    def body_of(marker: str, **extra: Any) -> bytes:
        return json.dumps(ghl_event("ContactCreate", location_id=loc, id=marker, **extra)).encode()

    unsigned = body_of("unsigned")
    forged = body_of("forged")
    tampered = body_of("tampered")
    stale = body_of(
        "stale",
        timestamp=(datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
    )
    future = body_of("future", timestamp=(datetime.now(UTC) + timedelta(minutes=30)).isoformat())
    bad_stamp = body_of("badstamp", timestamp="yesterday")
    not_json = b'{"type": "ContactCreate", "id": "notjson"'
    not_object = b'["ContactCreate", "notobject"]'
    cases: list[tuple[bytes, dict[str, str], int]] = [
        (unsigned, {}, 401),
        (forged, {"x-ghl-signature": _forged_ed25519(forged)}, 401),
        # A forged Ed25519 header is not rescued by a valid RSA one (no downgrade).
        (
            forged,
            {
                "x-ghl-signature": _forged_ed25519(forged),
                "x-wh-signature": h.sign(forged)["x-wh-signature"],
            },
            401,
        ),
        (tampered + b" ", h.sign(tampered), 401),
        (tampered, {"x-ghl-signature": "not base64!!"}, 401),
        (tampered, {"x-wh-signature": base64.b64encode(b"short").decode()}, 401),
        (stale, h.sign(stale), 400),
        (future, h.sign(future), 400),
        (bad_stamp, h.sign(bad_stamp), 400),
        (not_json, h.sign(not_json), 400),
        (not_object, h.sign(not_object), 400),
    ]
    for body, headers, status in cases:
        answer = await h.webhook(body, headers={**headers, "content-type": "application/json"})
        assert answer.status_code == status, (body[:60], answer.text)
        assert "detail" in answer.json()
    assert stored(h) == []
    failures = h.services.counters.verification_failures
    assert failures["ghl:unsigned"] == 1 and failures["ghl:bad_signature"] == 3
    assert failures["ghl:malformed_signature"] == 2 and failures["ghl:stale"] == 3
    assert failures["ghl:malformed_body"] == 2


async def test_an_oversized_body_is_refused_before_it_is_read_in_full(
    harness: ServerHarness,
) -> None:
    h = harness
    limit = h.services.settings.max_body_bytes
    big = json.dumps(
        ghl_event("ContactCreate", location_id=h.sb.location_id, id="big", pad="x" * limit)
    ).encode()
    declared = await h.webhook(big)
    assert declared.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while streaming
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    streamed = await h.http.post(
        "/webhooks/ghl", content=chunks(), headers={**h.sign(big), "content-type": "text/json"}
    )
    assert streamed.status_code == 413
    assert stored(h) == []
    assert h.services.counters.verification_failures["ghl:oversized"] == 2


async def test_a_payload_without_webhook_id_is_deduplicated_by_its_body(
    harness: ServerHarness,
) -> None:
    h = harness
    event = ghl_event("NoteCreate", location_id=h.sb.location_id, id="n2")
    del event["webhookId"]
    body = json.dumps(event).encode()
    assert (await h.webhook(body)).json()["status"] == "accepted"
    assert (await h.webhook(body)).json()["status"] == "duplicate"
    assert len(stored(h)) == 1


async def test_webhooks_are_rate_limited_per_source_with_a_429(tmp_path: Path) -> None:
    async with ServerHarness(tmp_path, webhook_rate_limit="3/minute") as h:
        codes = [(await h.http.post("/webhooks/ghl", content=b"{}")).status_code for _ in range(5)]
        assert codes == [401, 401, 401, 429, 429]
        limited = await h.http.post("/webhooks/ghl", content=b"{}")
        assert int(limited.headers["retry-after"]) >= 1
        # another route has its own budget
        assert (await h.http.get("/oauth/start")).status_code == 409
        assert h.services.counters.rate_limited["/webhooks/ghl"] == 3


async def test_install_and_uninstall_record_and_remove_the_installation(
    harness: ServerHarness,
) -> None:
    h = harness
    app_id = CLIENT_ID.split("-")[0]
    install = ghl_event(
        "INSTALL", location_id=h.sb.location_id, appId=app_id, companyId=h.sb.company_id
    )
    assert (await h.webhook(install)).status_code == 200
    rows = (await h.api("GET", "/api/installations")).json()
    assert [(r["account_id"], r["install_type"], r["source"]) for r in rows] == [
        (h.sb.location_id, "Location", "webhook")
    ]
    uninstall = ghl_event("UNINSTALL", location_id=h.sb.location_id, appId=app_id)
    assert (await h.webhook(uninstall)).status_code == 200
    assert (await h.api("GET", "/api/installations")).json() == []
    assert [e["type"] for e in stored(h)] == ["UNINSTALL", "INSTALL"]


async def test_an_event_that_cannot_be_stored_gets_a_429_so_ghl_delivers_it_again(
    harness: ServerHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness

    async def broken(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(h.services.engine, "ingest_event", broken)
    answer = await h.webhook(ghl_event("NoteCreate", location_id=h.sb.location_id, id="n3"))
    assert answer.status_code == 429 and answer.headers["retry-after"] == "60"
    assert stored(h) == []
