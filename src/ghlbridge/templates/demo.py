"""The demo's flows: connections to a sandbox and the demo partner app, and templates
installed against them, in one ghlbridge home (``ghlbridge demo`` runs them with the server).

    names = await install_demo(home, sandbox_url, partner_url, SandboxCredentials(...))

Connections made (replaced if they exist): ``sandbox`` (the sandbox location's PIT),
``sandbox-agency`` (an agency OAuth install on the sandbox, made headlessly: the sandbox's
authorize page approves at once; only when the OAuth client is given), ``partner`` (an http
connection to the partner app, API key auth, private addresses allowed: it runs on this
machine) and ``clickbank`` (the INS secret key `DEMO_CLICKBANK_SECRET`, so demo
notifications encrypted with it can be sent to ``POST /webhooks/clickbank/clickbank``).

`install_contact_webhook_flow` adds a flow that is not a template: GHL's ContactCreate
webhook -> a signed ``webhook.send`` to the partner's ``POST /webhooks`` (through the
``partner-webhooks`` connection, hmac auth), so the demo also shows the webhook path.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from sqlalchemy.engine import Engine

from ghlbridge.client import GHLClient
from ghlbridge.client.oauth import OAuthApp
from ghlbridge.connectors.http import ApiKeyAuth, HmacAuth, HttpApp
from ghlbridge.partner.app import API_KEY_HEADER, DEFAULT_API_KEY
from ghlbridge.store import (
    ConnectionNotFoundError,
    ConnectionStore,
    SQLTokenStore,
    Vault,
    create_engine,
    database_url,
    migrate,
    token_key,
)
from ghlbridge.templates.library import install

DEMO_CLICKBANK_SECRET = "GHLBRIDGEDEMO01"
GHL_CONNECTION = "sandbox"
AGENCY_CONNECTION = "sandbox-agency"
PARTNER_CONNECTION = "partner"
CLICKBANK_CONNECTION = "clickbank"
PARTNER_WEBHOOKS_CONNECTION = "partner-webhooks"
CONTACT_WEBHOOK_FLOW = "new-contact-to-partner"
_CONTACT_WEBHOOK_RECIPE = f"""\
# ghlbridge demo: GHL's ContactCreate webhook -> a signed webhook to the partner app.
name: {CONTACT_WEBHOOK_FLOW}
description: Each contact created in GHL (ContactCreate webhook) is announced to your app.
connection: {GHL_CONNECTION}
trigger:
  webhook: {{event: ContactCreate}}
steps:
  - id: notify
    action: webhook.send
    connection: {PARTNER_WEBHOOKS_CONNECTION}
    on_error: retry
    retry: {{max_attempts: 3, backoff: 1s}}
    with:
      path: /webhooks
      json:
        event: contact.created
        locationId: "{{{{ trigger.locationId }}}}"
        contactId: "{{{{ trigger.id }}}}"
        email: "{{{{ trigger.email }}}}"
        tags: "{{{{ trigger.tags or [] }}}}"
"""
_REDIRECT = "http://127.0.0.1/ghlbridge-demo/callback"  # never opened: the code is read


@dataclass(frozen=True)
class SandboxCredentials:
    """What `ghlbridge sandbox` prints: the location and its PIT; the company and the
    OAuth client for the agency install (optional)."""

    location_id: str
    location_token: str
    company_id: str | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = None


async def install_demo(
    home: Path,
    sandbox_base_url: str,
    partner_base_url: str,
    sandbox: SandboxCredentials,
    *,
    partner_api_key: str = DEFAULT_API_KEY,
    every: str = "10s",
    db: Engine | None = None,
) -> list[str]:
    """Store the demo connections in `home` and install the demo templates into
    ``home/flows`` (replacing earlier demo flows); returns the installed flow names.

    Polls and schedules use `every` (tests may go faster with GHLBRIDGE_TEST_POLL_INTERVAL).
    """
    engine = db or create_engine(database_url({"GHLBRIDGE_HOME": str(home)}))
    migrate(engine)
    vault = Vault.from_env(home=home)
    store = ConnectionStore(engine, vault)
    ghl_base = sandbox_base_url.rstrip("/")
    _replace(
        store,
        GHL_CONNECTION,
        "ghl",
        "pit",
        {"token": sandbox.location_token},
        location_id=sandbox.location_id,
        company_id=sandbox.company_id,
    )
    partner = HttpApp(
        base_url=partner_base_url,
        auth=ApiKeyAuth(partner_api_key, API_KEY_HEADER),
        allow_private=True,
    )
    _replace(store, PARTNER_CONNECTION, "http", "static", partner.to_dict())
    ins_key = {"secret_key": DEMO_CLICKBANK_SECRET}
    _replace(store, CLICKBANK_CONNECTION, "clickbank", "static", ins_key)
    flows_dir = home / "flows"
    common = {"partner_connection": PARTNER_CONNECTION}
    ghl = {**common, "ghl_connection": GHL_CONNECTION}
    installed = [
        ("social-tag-details-to-partner", {**ghl, "every": every}),
        ("social-stats-to-partner", {**ghl, "every": every}),
        ("posts-stats-to-partner", {**ghl, "every": every}),
        ("partner-tag-details-request", ghl),
    ]
    workflow = await _first_workflow(ghl_base, sandbox)
    if workflow is not None:
        installed.append(
            (
                "clickbank-sale-to-contact",
                {
                    "ghl_connection": GHL_CONNECTION,
                    "clickbank_connection": CLICKBANK_CONNECTION,
                    "workflow_id": workflow,
                },
            )
        )
    if sandbox.oauth_client_id and sandbox.oauth_client_secret:
        await _agency_install(store, engine, vault, ghl_base, sandbox)
        installed.append(
            (
                "new-location-tags-to-partner",
                {**common, "agency_connection": AGENCY_CONNECTION, "every": every},
            )
        )
    names = []
    for template, values in installed:
        install(template, values, flows_dir, force=True)
        names.append(template)
    return names


async def install_contact_webhook_flow(
    home: Path, partner_base_url: str, webhook_secret: str, *, db: Engine | None = None
) -> str:
    """Store the ``partner-webhooks`` connection (hmac auth with `webhook_secret`, which the
    partner app verifies) and write the ContactCreate flow into ``home/flows``; returns the
    flow's name."""
    engine = db or create_engine(database_url({"GHLBRIDGE_HOME": str(home)}))
    migrate(engine)
    store = ConnectionStore(engine, Vault.from_env(home=home))
    hooks = HttpApp(base_url=partner_base_url, auth=HmacAuth(webhook_secret), allow_private=True)
    _replace(store, PARTNER_WEBHOOKS_CONNECTION, "http", "static", hooks.to_dict())
    flows_dir = home / "flows"
    flows_dir.mkdir(parents=True, exist_ok=True)
    (flows_dir / f"{CONTACT_WEBHOOK_FLOW}.yaml").write_text(_CONTACT_WEBHOOK_RECIPE)
    return CONTACT_WEBHOOK_FLOW


def demo_hints(
    partner_base_url: str,
    partner_api_key: str = DEFAULT_API_KEY,
    *,
    server_url: str | None = None,
    admin_token: str | None = None,
    home: Path | None = None,
) -> list[str]:
    """Where a newcomer looks to see the demo flows' results (`server_url`, `admin_token`:
    the server ``ghlbridge demo`` runs; `home`: its GHLBRIDGE_HOME, when not the default)."""
    base = partner_base_url.rstrip("/")
    key = f"-H '{API_KEY_HEADER}: {partner_api_key}'"
    env = f"GHLBRIDGE_HOME={home} " if home is not None else ""
    lines = [
        f"what arrived at the partner app: curl {key} {base}/received",
        f"  one kind: {base}/received?kind=tag_details (also location_tags, statistics, "
        "post_stats, tag_details_response, webhook)",
        f"the runs: {env}ghlbridge runs list; one run's steps: {env}ghlbridge runs show ID",
        f"the stored events: {env}ghlbridge events list",
    ]
    if server_url is not None:
        server = server_url.rstrip("/")
        auth = f"-H 'Authorization: Bearer {admin_token or '<admin token>'}'"
        lines += [
            f"the server's API docs: {server}/docs",
            f"the runs over the API: curl {auth} {server}/api/runs",
            f"a report on demand: curl -X POST {auth} "
            f"{server}/api/flows/social-stats-to-partner/run",
        ]
    else:
        lines.append("a report on demand: ghlbridge flows run social-stats-to-partner")
    lines.append("the templates: ghlbridge templates list; ghlbridge templates show NAME")
    return lines


def _replace(
    store: ConnectionStore,
    name: str,
    provider: str,
    auth_type: Any,
    secret: dict[str, Any],
    **fields: Any,
) -> None:
    with contextlib.suppress(ConnectionNotFoundError):
        store.remove(name)
    store.add(name, provider, auth_type, secret, **fields)


async def _first_workflow(base_url: str, sandbox: SandboxCredentials) -> str | None:
    """A published workflow of the sandbox location (the ClickBank flow enrols buyers)."""
    async with GHLClient(
        sandbox.location_token, base_url=base_url, location_id=sandbox.location_id
    ) as ghl:
        found = await ghl.call("workflows.get_workflow", {})
    workflows = [w for w in (found or {}).get("workflows") or [] if isinstance(w, dict)]
    published = [w for w in workflows if w.get("status") == "published"] or workflows
    return str(published[0]["id"]) if published else None


async def _agency_install(
    store: ConnectionStore,
    engine: Engine,
    vault: Vault,
    base_url: str,
    sandbox: SandboxCredentials,
) -> None:
    """Install the sandbox's OAuth app on its agency, as a browser would (the sandbox's
    authorize page approves at once), and store the tokens and the connection."""
    assert sandbox.oauth_client_id and sandbox.oauth_client_secret
    app = OAuthApp(
        sandbox.oauth_client_id,
        sandbox.oauth_client_secret,
        _REDIRECT,
        base_url=base_url,
        marketplace_url=base_url,
    )
    try:
        url = app.authorize_url("demo") + "&userType=Company"
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, allow_redirects=False) as answer,
        ):
            location = answer.headers.get("Location", "")
        code = parse_qs(urlsplit(location).query).get("code", [""])[0]
        if not code:
            raise RuntimeError(f"the sandbox's authorize page gave no code (HTTP {answer.status})")
        tokens = await app.exchange_code(code, user_type="Company")
    finally:
        await app.close()
    company = tokens.company_id or sandbox.company_id
    if not company:
        raise RuntimeError("the sandbox's token answer names no company")
    # Removing a connection also removes its tokens: so before the new ones are saved.
    with contextlib.suppress(ConnectionNotFoundError):
        store.remove(AGENCY_CONNECTION)
    await SQLTokenStore(engine, vault).save(token_key(AGENCY_CONNECTION, company), tokens)
    store.add(
        AGENCY_CONNECTION,
        "ghl",
        "oauth",
        {"client_id": sandbox.oauth_client_id, "client_secret": sandbox.oauth_client_secret},
        company_id=company,
    )


__all__ = [
    "AGENCY_CONNECTION",
    "CLICKBANK_CONNECTION",
    "CONTACT_WEBHOOK_FLOW",
    "DEMO_CLICKBANK_SECRET",
    "GHL_CONNECTION",
    "PARTNER_CONNECTION",
    "PARTNER_WEBHOOKS_CONNECTION",
    "SandboxCredentials",
    "demo_hints",
    "install_contact_webhook_flow",
    "install_demo",
]
