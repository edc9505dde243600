"""Fixtures for server tests: an isolated environment, an in-process sandbox as GHL, and a
`ServerHarness` that serves the server app in-process (httpx over ASGI, lifespan running)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from ghlbridge.client import ASGITransport, GHLClient
from ghlbridge.sandbox import Sandbox, SandboxSettings, sandbox_of
from ghlbridge.sandbox import create_app as create_sandbox
from ghlbridge.server import ServerSettings, Services, create_app, services_of
from ghlbridge.store.vault import generate_key

SANDBOX = "http://sandbox.test"
SEED = 21  # one seed for every test: the sandbox's RSA key is made once per process
CLIENT_ID = "64f0aa11bb22cc33dd44ee55-lm1abc"
CLIENT_SECRET = "oauth-client-secret-0f1e2d3c4b5a"

TAG_NEW_CONTACTS = """\
name: tag-new-contacts
connection: main
trigger:
  webhook: {event: ContactCreate}
steps:
  - id: tag
    action: add_tags_to_contact
    with:
      contactId: "{{ trigger.id }}"
      tags: [welcomed]
"""

MANUAL_NOTE = """\
name: manual-read
connection: main
trigger:
  manual: {}
steps:
  - id: read
    action: contacts.get_contact
    with:
      contactId: "{{ trigger.contactId }}"
"""

_CLEARED = (
    "GHL_TOKEN",
    "GHL_LOCATION_ID",
    "GHL_BASE_URL",
    "GHL_CLIENT_ID",
    "GHL_CLIENT_SECRET",
    "GHL_MARKETPLACE_URL",
    "GHLBRIDGE_DATABASE_URL",
    "GHLBRIDGE_HOST",
    "GHLBRIDGE_PORT",
    "GHLBRIDGE_PUBLIC_URL",
    "GHLBRIDGE_WEBHOOK_ED25519_PUBLIC_KEY",
    "GHLBRIDGE_WEBHOOK_RSA_PUBLIC_KEY",
    "GHLBRIDGE_OAUTH_CLIENT_ID",
    "GHLBRIDGE_OAUTH_CLIENT_SECRET",
    "GHLBRIDGE_OAUTH_SCOPES",
    "GHLBRIDGE_TEST_POLL_INTERVAL",
    "GHLBRIDGE_FLOW_CONCURRENCY",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh GHLBRIDGE_HOME and secret key; no GHL credentials from the outer shell."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GHLBRIDGE_HOME", str(home))
    monkeypatch.setenv("GHLBRIDGE_SECRET_KEY", generate_key())
    return home


def sandbox_settings(**extra: Any) -> SandboxSettings:
    values: dict[str, Any] = {
        "seed": SEED,
        "demo_records": 0,
        "oauth_client_id": CLIENT_ID,
        "oauth_client_secret": CLIENT_SECRET,
        "webhook_retry_interval": 0.05,
    }
    values.update(extra)
    return SandboxSettings(**values)


class ServerHarness:
    """The server app in-process, GHL played by an in-process sandbox."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        flows: Mapping[str, str] | None = None,
        sandbox: SandboxSettings | None = None,
        **settings: Any,
    ) -> None:
        self.sandbox_app = create_sandbox(sandbox or sandbox_settings())
        self.sb: Sandbox = sandbox_of(self.sandbox_app)
        flows_dir = tmp_path / "flows"
        flows_dir.mkdir(exist_ok=True)
        for name, text in (flows or {}).items():
            (flows_dir / f"{name}.yaml").write_text(text)
        keys = self.sb.webhooks.public_keys()
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{tmp_path / 'server.db'}",
            "flows_dirs": (flows_dir,),
            "ghl_base_url": SANDBOX,
            "marketplace_url": SANDBOX,
            "webhook_ed25519_key": keys.ed25519,
            "webhook_rsa_key": keys.rsa,
        }
        values.update(settings)
        self.db_path = tmp_path / "server.db"
        self.app = create_app(ServerSettings(**values), ghl_transport=self.ghl_transport)
        self.services: Services = services_of(self.app)
        self.token = self.services.admin.ensure() or self.services.admin.reset()
        self.client: httpx.AsyncClient | None = None
        self._lifespan: Any = None

    def ghl_transport(self) -> ASGITransport:
        return ASGITransport(cast(Any, self.sandbox_app))

    def ghl(self) -> GHLClient:
        """A client of the sandbox's location with its all-scopes PIT."""
        return GHLClient(
            self.sb.location_token.value,
            base_url=SANDBOX,
            location_id=self.sb.location_id,
            transport=self.ghl_transport(),
        )

    async def __aenter__(self) -> ServerHarness:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://server.test"
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.client is not None
        await self.client.aclose()
        await self._lifespan.__aexit__(None, None, None)
        self.sb.close()

    @property
    def http(self) -> httpx.AsyncClient:
        assert self.client is not None
        return self.client

    async def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        return await self.http.request(method, path, headers=headers, **kw)

    def sign(self, body: bytes) -> dict[str, str]:
        """Both GHL signature headers, made with the sandbox's private keys."""
        return self.sb.webhooks.keys.sign(body)

    async def webhook(
        self, payload: dict[str, Any] | bytes, *, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """POST a GHL webhook signed like GHL (unless `headers` are given)."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = dict(self.sign(body)) if headers is None else dict(headers)
        sent.setdefault("content-type", "application/json")
        return await self.http.post("/webhooks/ghl", content=body, headers=sent)

    async def add_pit_connection(self, name: str = "main") -> None:
        answer = await self.api(
            "POST",
            "/api/connections",
            json={
                "name": name,
                "token": self.sb.location_token.value,
                "location_id": self.sb.location_id,
                "scopes": ["contacts.readonly", "contacts.write", "locations.readonly"],
            },
        )
        assert answer.status_code == 201, answer.text

    async def wait_runs(
        self, flow: str, count: int = 1, *, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """The flow's runs, once `count` of them are final."""
        deadline = time.monotonic() + timeout
        while True:
            runs = (await self.api("GET", "/api/runs", params={"flow": flow})).json()
            done = [r for r in runs if r["status"] in ("succeeded", "failed", "dead")]
            if len(done) >= count:
                return list(runs)
            if time.monotonic() > deadline:
                raise AssertionError(f"runs of {flow} did not finish: {runs}")
            await asyncio.sleep(0.05)


def ghl_event(
    event_type: str, *, location_id: str, timestamp: str | None = None, **fields: Any
) -> dict[str, Any]:
    """A GHL-shaped webhook payload with a fresh webhookId and timestamp."""
    stamp = timestamp or datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        **fields,
        "type": event_type,
        "locationId": location_id,
        "webhookId": str(uuid.uuid4()),
        "timestamp": stamp,
    }


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[ServerHarness]:
    async with ServerHarness(
        tmp_path, flows={"tag-new-contacts": TAG_NEW_CONTACTS, "manual-read": MANUAL_NOTE}
    ) as h:
        yield h


__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "MANUAL_NOTE",
    "SANDBOX",
    "SEED",
    "TAG_NEW_CONTACTS",
    "ServerHarness",
    "ghl_event",
    "sandbox_settings",
]
