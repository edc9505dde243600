"""POST /webhooks/clickbank/{connection}: ClickBank INS notifications, encrypted with the
connection's secret key as ClickBank does, decrypted, stored once per receipt, type and line
items before the 200; refused ones (400, 404) store nothing and never echo the key or the
plain text; a clickbank-trigger flow runs from a posted SALE."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ghlbridge.cli.main import app as cli
from ghlbridge.connectors.clickbank import encrypt_notification
from ghlbridge.sandbox import create_app as create_sandbox
from ghlbridge.sandbox import sandbox_of
from ghlbridge.sandbox.handlers.contacts import CONTACTS
from ghlbridge.sandbox.handlers.enrollments import contact_workflows
from ghlbridge.sandbox.handlers.workflows import WORKFLOWS
from ghlbridge.templates import install
from tests.connectors.ins_vectors import cart
from tests.server.conftest import ServerHarness, sandbox_settings

SECRET = "CBINS7SECRET42"
URL = "/webhooks/clickbank/clickbank"
EMAIL = "ann.buyer@example.com"


def sale(version: Any, receipt: str, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(cart(version))
    data["receipt"] = receipt
    data["customer"]["billing"]["email"] = EMAIL
    data.update(changes)
    return data


def add_clickbank(h: ServerHarness, name: str = "clickbank", secret: str = SECRET) -> None:
    h.services.connections.add(name, "clickbank", "static", {"secret_key": secret})


async def post(h: ServerHarness, body: bytes, url: str = URL) -> Any:
    return await h.http.post(url, content=body, headers={"content-type": "application/json"})


def events_cli(db: Path) -> list[dict[str, Any]]:
    result = CliRunner().invoke(
        cli,
        ["events", "list", "--json", "--source", "clickbank"],
        env={"GHLBRIDGE_DATABASE_URL": f"sqlite:///{db}"},
    )
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output))


async def test_notifications_of_each_version_are_stored_once_even_when_posted_again(
    tmp_path: Path,
) -> None:
    async with ServerHarness(tmp_path) as h:
        add_clickbank(h)
        receipts = {"6.0": "RCPT6AAA", "7.0": "RCPT7BBB", "8.0": "RCPT8CCC"}
        first_ids = {}
        for version, receipt in receipts.items():
            data = sale(float(version), receipt)
            first = await post(h, encrypt_notification(data, SECRET))
            assert first.status_code == 200, first.text
            assert first.json()["status"] == "accepted" and first.json()["event_id"]
            first_ids[receipt] = first.json()["event_id"]
            again = await post(h, encrypt_notification(data, SECRET))  # a fresh IV
            retry = await post(h, encrypt_notification({**data, "attemptCount": 2}, SECRET))
            for answer in (again, retry):
                assert answer.status_code == 200, answer.text
                assert answer.json() == {
                    "status": "duplicate",
                    "event_id": first_ids[receipt],  # the event stored the first time
                    "runs": 0,
                }
        # Another line item (or another type) of a known receipt is a new event.
        fewer = sale(8.0, "RCPT8CCC")
        fewer["lineItems"] = fewer["lineItems"][:1]
        assert (await post(h, encrypt_notification(fewer, SECRET))).json()["status"] == "accepted"
        refund = sale(8.0, "RCPT8CCC", transactionType="RFND")
        assert (await post(h, encrypt_notification(refund, SECRET))).json()["status"] == "accepted"

        listed = events_cli(h.db_path)
        metrics = (await h.api("GET", "/metrics")).text
    assert len(listed) == 5
    by_id = {e["id"]: e for e in listed}
    for version, receipt in receipts.items():
        event = by_id[first_ids[receipt]]
        assert event["source"] == "clickbank" and event["type"] == "SALE"
        assert event["payload"]["receipt"] == receipt
        assert event["payload"]["version"] == version
        assert event["payload"]["connection"] == "clickbank"
        assert event["payload"]["itemNos"] == ["book1", "bump2", "club3"]
    assert 'ghlbridge_webhooks_received_total{source="clickbank",outcome="accepted"} 5' in metrics
    assert 'ghlbridge_webhooks_received_total{source="clickbank",outcome="duplicate"} 6' in metrics


def _bad_bodies() -> dict[str, tuple[bytes, str]]:
    good = sale(7.0, "RCPTBAD1")
    plain = json.dumps(good).encode()
    envelope = json.loads(encrypt_notification(good, SECRET))
    short_iv = {**envelope, "iv": base64.b64encode(b"12345678").decode()}
    other_iv = {**envelope, "iv": base64.b64encode(b"0123456789abcdef").decode()}
    return {
        "wrong secret": (encrypt_notification(good, "ANOTHERSECRET9"), "wrong secret key"),
        "short iv": (json.dumps(short_iv).encode(), "iv decodes to 8 bytes"),
        "wrong iv": (json.dumps(other_iv).encode(), "decrypt"),
        "bad base64": (
            json.dumps({**envelope, "notification": "%%%not-base64%%%"}).encode(),
            "notification is not valid base64",
        ),
        "plain json body": (plain, "body has no 'notification' string"),
        "not json at all": (b"receipt=RCPTBAD1", "body is not JSON"),
        "decrypts to non-json": (encrypt_notification(b"receipt=RCPTBAD1&x=1", SECRET), "not JSON"),
        "missing fields": (
            encrypt_notification({"vendor": "acmevendor", "version": 8.0}, SECRET),
            "notification lacks receipt, transactionType",
        ),
        "missing type": (
            encrypt_notification({"receipt": "RCPTBAD1"}, SECRET),
            "notification lacks transactionType",
        ),
    }


async def test_undecryptable_or_incomplete_notifications_are_refused_and_nothing_is_stored(
    tmp_path: Path,
) -> None:
    async with ServerHarness(tmp_path) as h:
        add_clickbank(h)
        for what, (body, reason) in _bad_bodies().items():
            answer = await post(h, body)
            assert answer.status_code == 400, (what, answer.text)
            detail = answer.json()["detail"]
            assert reason in detail, (what, detail)
            assert "\n" not in detail
            for leak in (SECRET, EMAIL, "acmevendor", "RCPTBAD1"):
                assert leak not in answer.text, (what, leak)
        assert (await h.api("GET", "/api/events")).json() == []
        assert (await h.api("GET", "/api/runs")).json() == []
        metrics = (await h.api("GET", "/metrics")).text
    assert events_cli(h.db_path) == []
    failures = [
        line
        for line in metrics.splitlines()
        if line.startswith('ghlbridge_webhook_verification_failures_total{source="clickbank"')
    ]
    assert sum(int(line.rsplit(" ", 1)[1]) for line in failures) == len(_bad_bodies())
    assert any('reason="wrong_key"' in line for line in failures)
    assert any('reason="missing_fields"' in line for line in failures)


async def test_an_unknown_or_non_clickbank_connection_answers_404(tmp_path: Path) -> None:
    async with ServerHarness(tmp_path) as h:
        add_clickbank(h)
        await h.add_pit_connection("main")
        h.services.connections.add("apionly", "clickbank", "static", {"api_key": "API-k3y"})
        body = encrypt_notification(sale(8.0, "RCPT404A"), SECRET)
        for name in ("nobody", "main", "apionly", "Bad%20Name"):
            answer = await post(h, body, f"/webhooks/clickbank/{name}")
            assert answer.status_code == 404, (name, answer.text)
        assert (await h.api("GET", "/api/events")).json() == []
    assert events_cli(h.db_path) == []


async def test_a_posted_sale_runs_the_clickbank_template_and_the_contact_gets_its_tags(
    tmp_path: Path,
) -> None:
    # The sandbox is made from its seed, so a probe of the same settings names its workflow.
    probe = sandbox_of(create_sandbox(sandbox_settings()))
    workflow = next(iter(probe.location().collection(WORKFLOWS)))["id"]
    probe.close()
    flows = tmp_path / "flows"
    flows.mkdir()
    install("clickbank-sale-to-contact", {"workflow_id": workflow}, flows)
    async with ServerHarness(tmp_path) as h:
        assert "clickbank-sale-to-contact" in h.services.engine.flows
        add_clickbank(h)
        h.services.connections.add(
            "main",
            "ghl",
            "pit",
            {"token": h.sb.location_token.value},
            location_id=h.sb.location_id,
        )
        body = encrypt_notification(sale(8.0, "RCPTFLOW1"), SECRET)
        answer = await post(h, body)
        assert answer.status_code == 200 and answer.json()["runs"] == 1, answer.text
        assert (await post(h, body)).json()["status"] == "duplicate"
        (run,) = await h.wait_runs("clickbank-sale-to-contact")
        loc = h.sb.location()
        [buyer] = [c for c in loc.collection(CONTACTS) if c.get("email") == EMAIL]
    assert run["status"] == "succeeded", run
    assert run["trigger"]["receipt"] == "RCPTFLOW1"
    assert (buyer["firstName"], buyer["lastName"]) == ("Ana", "Lima")
    assert set(buyer["tags"]) == {
        "cb-access",
        "cb-buyer",
        "cb-product-book1",
        "cb-product-bump2",
        "cb-product-club3",
    }
    assert contact_workflows(loc, buyer["id"]) == [workflow]


@pytest.mark.parametrize("size", [2 * 1024 * 1024])
async def test_an_oversized_notification_is_refused_before_it_is_read(
    tmp_path: Path, size: int
) -> None:
    async with ServerHarness(tmp_path) as h:
        add_clickbank(h)
        answer = await post(h, b"{" + b" " * size + b"}")
        assert answer.status_code == 413
        assert (await h.api("GET", "/api/events")).json() == []
