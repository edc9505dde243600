"""install_demo: a sandbox and the demo partner on real ports, the demo's connections and
flows installed in a fresh home, then the engine `ghlbridge serve` would run (build_engine on
that home) shows data arriving at the partner within seconds, with no credentials typed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ghlbridge.client import GHLClient
from ghlbridge.connectors.clickbank import parse_notification
from ghlbridge.flows.engine import EngineSettings
from ghlbridge.flows.service import build_engine, load_all
from ghlbridge.flows.triggers.clickbank import ingest
from ghlbridge.partner import DEFAULT_API_KEY, PartnerSettings, serve_partner
from ghlbridge.sandbox import SandboxSettings
from ghlbridge.sandbox.testing import serve_sandbox
from ghlbridge.store import ConnectionStore, Vault, create_engine, database_url
from ghlbridge.store.vault import generate_key
from ghlbridge.templates.demo import (
    CLICKBANK_CONNECTION,
    SandboxCredentials,
    demo_hints,
    install_demo,
)
from tests.connectors.ins_vectors import cart
from tests.templates.conftest import baselines_taken, eventually

KINDS = ("tag_details", "post_stats", "statistics", "location_tags")


async def test_the_demo_installs_every_template_and_data_reaches_the_partner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "demo-home"
    monkeypatch.setenv("GHLBRIDGE_HOME", str(home))
    monkeypatch.setenv("GHLBRIDGE_SECRET_KEY", generate_key())
    monkeypatch.delenv("GHLBRIDGE_DATABASE_URL", raising=False)
    with (
        serve_sandbox(SandboxSettings(seed=9, demo_records=0)) as (sandbox_url, sb),
        serve_partner(PartnerSettings()) as (partner_url, partner),
    ):
        monkeypatch.setenv("GHL_BASE_URL", sandbox_url)
        creds = SandboxCredentials(
            location_id=sb.location_id,
            location_token=sb.location_token.value,
            company_id=sb.company_id,
            oauth_client_id=sb.oauth_client.client_id,
            oauth_client_secret=sb.oauth_client.client_secret,
        )
        names = await install_demo(home, sandbox_url, partner_url, creds, every="10s")
        assert sorted(names) == sorted(
            [
                "social-tag-details-to-partner",
                "social-stats-to-partner",
                "posts-stats-to-partner",
                "partner-tag-details-request",
                "clickbank-sale-to-contact",
                "new-location-tags-to-partner",
            ]
        )
        again = await install_demo(home, sandbox_url, partner_url, creds, every="10s")
        assert again == names  # a second demo replaces the first
        recipes, problems = load_all([home / "flows"])
        assert not problems and sorted(r.name for r in recipes) == sorted(names)
        db = create_engine(database_url())
        stored = {c.name: c.provider for c in ConnectionStore(db, Vault.from_env()).list()}
        assert stored == {
            "sandbox": "ghl",
            "sandbox-agency": "ghl",
            "partner": "http",
            "clickbank": "clickbank",
        }

        engine = build_engine(
            db, recipes, settings=EngineSettings(claim_every=0.05, poll_interval_override=0.2)
        )
        await engine.start()
        try:
            await baselines_taken(engine)
            await act_in_ghl(sandbox_url, creds, sb.agency_token.value)
            await eventually(
                lambda: all(partner.received(k) for k in KINDS),
                f"deliveries of {', '.join(KINDS)}",
                timeout=20,
            )
            sale = parse_notification({**cart(8.0), "transactionType": "SALE"})
            accepted = await ingest(engine, sale, connection=CLICKBANK_CONNECTION)
            [run] = await engine.run_until_settled(accepted.run_ids)
        finally:
            await engine.stop()
        db.dispose()
    assert run.status == "succeeded", run.error
    [tag] = [b for b in partner.received("tag_details") if b["details"]["tag"] == "Launch"]
    assert tag["locationId"] == sb.location_id
    assert any(b["metrics"]["posts"] >= 1 for b in partner.received("post_stats"))
    [new_location] = partner.received("location_tags")
    assert new_location["name"] == "Demo Clinic" and new_location["tags"] == []
    hints = "\n".join(demo_hints(partner_url))
    assert f"{partner_url}/received" in hints and DEFAULT_API_KEY in hints


async def act_in_ghl(base_url: str, creds: SandboxCredentials, agency_token: str) -> None:
    """What a user does in GHL: a post with a new tag; a new location (as the agency)."""
    async with GHLClient(
        creds.location_token, base_url=base_url, location_id=creds.location_id
    ) as ghl:
        accounts = await ghl.call("social_media_posting.get_account", {})
        account: dict[str, Any] = accounts["results"]["accounts"][0]
        await ghl.call(
            "social_media_posting.create_post",
            body={
                "accountIds": [account["id"]],
                "summary": "We launch today",
                "type": "post",
                "userId": "demo-user",
                "tags": ["Launch"],
            },
        )
    async with GHLClient(agency_token, base_url=base_url, company_id=creds.company_id) as ghl:
        await ghl.call("locations.create_location", body={"name": "Demo Clinic"})
