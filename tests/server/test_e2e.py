"""End to end over real sockets: the sandbox (GHL) on one port sends signed webhooks to the
server on another, configured with the sandbox's public keys through the two environment
variables; a flow runs; refused webhooks never show in `ghlbridge events list --json`; an
OAuth install against the sandbox yields working location tokens; UNINSTALL removes them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from ghlbridge.cli.main import app as cli
from ghlbridge.client import GHLClient
from ghlbridge.client.auth import AgencyAuth, OAuthSession
from ghlbridge.client.oauth import OAuthApp
from ghlbridge.sandbox.testing import serve_sandbox
from ghlbridge.server import ServerSettings, create_app, services_of
from ghlbridge.server.runner import running
from ghlbridge.store.tokens import token_key
from tests.server.conftest import CLIENT_ID, CLIENT_SECRET, TAG_NEW_CONTACTS, sandbox_settings

SCOPES = "contacts.readonly contacts.write locations.readonly oauth.readonly oauth.write"


async def _until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


def _events_cli() -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, ["events", "list", "--json", "--limit", "1000"])
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output))


def _set_keys(monkeypatch: pytest.MonkeyPatch, keys: Any, base_url: str) -> None:
    monkeypatch.setenv("GHLBRIDGE_WEBHOOK_ED25519_PUBLIC_KEY", keys.ed25519)
    monkeypatch.setenv("GHLBRIDGE_WEBHOOK_RSA_PUBLIC_KEY", keys.rsa)
    monkeypatch.setenv("GHL_BASE_URL", base_url)
    monkeypatch.setenv("GHL_MARKETPLACE_URL", base_url)


async def test_sandbox_webhooks_verify_and_drive_a_flow_and_refused_ones_are_not_stored(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (isolated_env / "flows").mkdir()
    (isolated_env / "flows" / "tag.yaml").write_text(TAG_NEW_CONTACTS)
    with serve_sandbox(sandbox_settings()) as (sandbox_url, sb):
        _set_keys(monkeypatch, sb.webhooks.public_keys(), sandbox_url)
        app = create_app(ServerSettings.from_env())
        token = services_of(app).admin.ensure()
        auth = {"Authorization": f"Bearer {token}"}
        async with running(app) as served, httpx.AsyncClient(base_url=served.url) as http:
            sb.webhooks.add_url(f"{served.url}/webhooks/ghl")
            created = await http.post(
                "/api/connections",
                headers=auth,
                json={
                    "name": "main",
                    "token": sb.location_token.value,
                    "location_id": sb.location_id,
                },
            )
            assert created.status_code == 201
            async with GHLClient(
                sb.location_token.value, base_url=sandbox_url, location_id=sb.location_id
            ) as ghl:
                made = await ghl.call("contacts.create_contact", body={"email": "e2e@example.com"})
                contact_id = made["contact"]["id"]

                async def tagged() -> bool:
                    found = await ghl.call("contacts.get_contact", {"contactId": contact_id})
                    return "welcomed" in found["contact"]["tags"]

                await _until(tagged)
            assert await sb.webhooks.drain(10)
            delivered = [d for d in sb.webhooks.deliveries() if d.status == "delivered"]
            assert {d.event_type for d in delivered} >= {"ContactCreate", "ContactTagUpdate"}
            runs = (await http.get("/api/runs", headers=auth)).json()
            assert [r["status"] for r in runs] == ["succeeded"]

            # a delivery sent again (same webhookId, same signatures) is acknowledged only
            first = next(d for d in delivered if d.event_type == "ContactCreate")
            signatures = first.envelope.signatures or {}
            replayed = await http.post(
                "/webhooks/ghl",
                content=first.envelope.body,
                headers={**signatures, "content-type": "application/json"},
            )
            assert replayed.status_code == 200 and replayed.json()["status"] == "duplicate"

            # an event signed with the RSA key only is accepted too
            fresh = {
                "type": "NoteCreate",
                "locationId": sb.location_id,
                "id": "rsa-only",
                "webhookId": "wh-rsa-only",
                "timestamp": datetime.now(UTC).isoformat(),
            }
            body = json.dumps(fresh).encode()
            rsa_only = {"x-wh-signature": sb.webhooks.keys.sign(body)["x-wh-signature"]}
            accepted = await http.post("/webhooks/ghl", content=body, headers=rsa_only)
            assert accepted.status_code == 200 and accepted.json()["scheme"] == "rsa"

            # refused: each carries a marker that must not be stored
            def event(marker: str, **extra: Any) -> bytes:
                payload = {**fresh, "id": marker, "webhookId": f"wh-{marker}", **extra}
                return json.dumps(payload).encode()

            old = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
            refusals = {
                "unsigned": (event("unsigned"), {}),
                "forged": (
                    event("forged"),
                    sb.webhooks.keys.sign(event("forged-other")),
                ),
                "malformed": (
                    b'{"id": "malformed", ',
                    sb.webhooks.keys.sign(b'{"id": "malformed", '),
                ),
                "stale": (
                    event("stale", timestamp=old),
                    sb.webhooks.keys.sign(event("stale", timestamp=old)),
                ),
                "oversized": (event("oversized", pad="x" * 1_100_000), {}),
            }
            for name, (sent, headers) in refusals.items():
                answer = await http.post("/webhooks/ghl", content=sent, headers=headers)
                assert 400 <= answer.status_code < 500, (name, answer.status_code)
            metrics = (await http.get("/metrics", headers=auth)).text
            assert 'reason="bad_signature"} 1' in metrics and 'reason="oversized"} 1' in metrics

        listed = await asyncio.to_thread(_events_cli)
    text = json.dumps(listed)
    for marker in refusals:
        assert f'"{marker}"' not in text, marker
    webhook_ids = [e["payload"].get("webhookId") for e in listed]
    assert webhook_ids.count(first.webhook_id) == 1
    assert "wh-rsa-only" in webhook_ids


async def _install(
    http: httpx.AsyncClient, served_url: str, *, agency: bool = False
) -> dict[str, Any]:
    """/oauth/start -> the sandbox's authorize page -> /oauth/callback, as a browser would."""
    start = await http.get(f"{served_url}/oauth/start")
    assert start.status_code == 307
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == [CLIENT_ID] and query["scope"] == [SCOPES]
    assert query["redirect_uri"] == [f"{served_url}/oauth/callback"] and query["state"]
    if agency:
        authorize += "&userType=Company"  # the sandbox's stand-in for picking the agency
    chosen = await http.get(authorize)
    assert chosen.status_code == 302
    callback = chosen.headers["location"]
    assert callback.startswith(f"{served_url}/oauth/callback?code=")
    finished = await http.get(callback)
    assert finished.status_code == 200, finished.text
    again = await http.get(callback)  # the state is single-use
    assert again.status_code == 400
    return dict(finished.json())


async def test_an_oauth_install_against_the_sandbox_yields_working_location_tokens(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_sandbox(sandbox_settings()) as (sandbox_url, sb):
        _set_keys(monkeypatch, sb.webhooks.public_keys(), sandbox_url)
        monkeypatch.setenv("GHLBRIDGE_OAUTH_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("GHLBRIDGE_OAUTH_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("GHLBRIDGE_OAUTH_SCOPES", SCOPES)
        app = create_app(ServerSettings.from_env())
        services = services_of(app)
        auth = {"Authorization": f"Bearer {services.admin.ensure()}"}
        async with running(app) as served, httpx.AsyncClient() as http:
            sb.webhooks.add_url(f"{served.url}/webhooks/ghl")
            installed = await _install(http, served.url)
            loc = sb.location_id
            assert installed["user_type"] == "Location" and installed["location_id"] == loc
            assert installed["scopes"] == sorted(SCOPES.split())
            name = installed["connection"]
            assert name == f"ghl-{loc.lower()}"

            stored = await services.tokens.load(token_key(name, loc))
            assert stored is not None and stored.refresh_token
            app_client = OAuthApp(CLIENT_ID, CLIENT_SECRET, "", base_url=sandbox_url)
            session = OAuthSession(app_client, services.tokens, token_key(name, loc))
            async with GHLClient(session, base_url=sandbox_url, location_id=loc) as ghl:
                contacts = await ghl.call("contacts.get_contacts", {"locationId": loc})
            assert "contacts" in contacts
            tested = (
                await http.post(f"{served.url}/api/connections/{name}/test", headers=auth)
            ).json()
            assert tested["ok"] and tested["scopes_source"] == "token"

            agency = await _install(http, served.url, agency=True)
            assert agency["user_type"] == "Company" and agency["location_id"] is None
            assert agency["company_id"] == sb.company_id and loc in agency["locations"]
            company_key = token_key(agency["connection"], sb.company_id)
            agency_auth = AgencyAuth(
                app_client, services.tokens, company_key, company_id=sb.company_id
            )
            async with GHLClient(agency_auth, base_url=sandbox_url, location_id=loc) as ghl:
                await ghl.call("contacts.get_contacts", {"locationId": loc})  # minted token
            minted = await services.tokens.load(f"{company_key}:{loc}")
            assert minted is not None and minted.location_id == loc
            await app_client.close()

            assert await sb.webhooks.drain(10)
            rows = (await http.get(f"{served.url}/api/installations", headers=auth)).json()
            by_account = {r["account_id"]: r for r in rows}
            assert by_account[loc]["connection"] == name
            assert by_account[sb.company_id]["install_type"] == "Company"

            await asyncio.to_thread(sb.uninstall)  # GHL's UNINSTALL of the location

            async def gone() -> bool:
                listed = (await http.get(f"{served.url}/api/connections", headers=auth)).json()
                return name not in {c["name"] for c in listed}

            await _until(gone)
            assert await services.tokens.load(token_key(name, loc)) is None
            assert await services.tokens.load(f"{company_key}:{loc}") is None
            left = (await http.get(f"{served.url}/api/installations", headers=auth)).json()
            assert loc not in {r["account_id"] for r in left}
