"""The world the template tests run in: an in-process sandbox (mutated on the test's loop,
so nothing races), the demo partner app on 127.0.0.1, a migrated SQLite store with the
connections the templates name, and a flow engine built from installed templates.

The engine is the real one: its GHL clients come from the stored connections (the sandbox
reached through the client's ASGI transport), its connector steps go over the network to
the partner through the SSRF-guarded transport (the partner connection allows private
addresses), polls and interval schedules run every 0.2 s (the test-only override).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy.engine import Engine

from ghlbridge.client import GHLClient
from ghlbridge.client.transport import ASGITransport
from ghlbridge.connectors.http import ApiKeyAuth, HttpApp
from ghlbridge.flows.actions import ActionRunner
from ghlbridge.flows.clients import Clients
from ghlbridge.flows.engine import EngineSettings, FlowEngine
from ghlbridge.flows.service import load_all
from ghlbridge.flows.store import FlowStore
from ghlbridge.flows.triggers.polling import PollSpec
from ghlbridge.partner import API_KEY_HEADER, Partner, PartnerSettings, serve_partner
from ghlbridge.sandbox import Sandbox, SandboxSettings, create_app, sandbox_of
from ghlbridge.store import ConnectionStore, SQLTokenStore, Vault, create_engine, migrate
from ghlbridge.store.vault import generate_key
from ghlbridge.templates import install

SANDBOX = "http://sandbox.test"
PARTNER_KEY = "partner-key-3c9a7e51"
POLL = 0.2


class World:
    def __init__(self, tmp_path: Path, partner_url: str, partner: Partner) -> None:
        self.app = create_app(SandboxSettings(seed=5, demo_records=0))
        self.sb: Sandbox = sandbox_of(self.app)
        self.partner_url = partner_url
        self.partner = partner
        self.flows_dir = tmp_path / "flows"
        self.db: Engine = create_engine(f"sqlite:///{tmp_path / 'ghlbridge.db'}")
        migrate(self.db)
        self.vault = Vault([generate_key()])
        self.connections = ConnectionStore(self.db, self.vault)
        self.tokens = SQLTokenStore(self.db, self.vault)
        self.connections.add(
            "main",
            "ghl",
            "pit",
            {"token": self.sb.location_token.value},
            location_id=self.sb.location_id,
            company_id=self.sb.company_id,
        )
        partner_app = HttpApp(
            base_url=partner_url,
            auth=ApiKeyAuth(PARTNER_KEY, API_KEY_HEADER),
            allow_private=True,  # the partner runs on this machine
        )
        self.connections.add("partner", "http", "static", partner_app.to_dict())

    def transport(self) -> ASGITransport:
        return ASGITransport(cast(Any, self.app))

    def client(self) -> GHLClient:
        """A client of the sandbox location, as a user acting in GHL."""
        return GHLClient(
            self.sb.location_token.value,
            base_url=SANDBOX,
            location_id=self.sb.location_id,
            transport=self.transport(),
        )

    def install(self, template: str, **values: str) -> None:
        install(template, values, self.flows_dir)

    def engine(self, *, poll_every: float | None = POLL) -> FlowEngine:
        """An engine for the installed flows; `poll_every` overrides every poll and interval
        schedule (None: the recipes' own intervals)."""
        recipes, problems = load_all([self.flows_dir])
        assert not problems, problems
        clients = Clients(
            self.connections,
            environ={"GHL_BASE_URL": SANDBOX},
            transport=self.transport,
            token_store=self.tokens,
        )
        return FlowEngine(
            FlowStore(self.db),
            recipes,
            clients,
            settings=EngineSettings(claim_every=0.05, tick=0.05, poll_interval_override=poll_every),
            runner=ActionRunner(connections=self.connections),
            environ={},
        )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = PartnerSettings(api_key=PARTNER_KEY)
    with serve_partner(settings) as (url, partner):
        w = World(tmp_path, url, partner)
        try:
            yield w
        finally:
            w.db.dispose()


async def eventually(
    check: Callable[[], Any], what: str, timeout: float = 10.0, every: float = 0.05
) -> Any:
    """Wait (on the test's loop, so the engine keeps working) until `check()` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


async def polled(engine: FlowEngine, times: int = 1) -> None:
    """Until the engine has finished `times` more polls (the first one is the baseline)."""
    target = engine.polls_done + times
    await eventually(lambda: engine.polls_done >= target, f"{times} poll(s)")


async def baselines_taken(engine: FlowEngine, timeout: float = 10.0) -> None:
    """Until every polling flow has taken its baseline (so later changes are news)."""
    keys: list[str] = []
    for recipe in engine.flows.values():
        poll = recipe.trigger.poll
        if poll is None:
            continue
        spec = PollSpec.resolve(
            recipe.name, poll.op, poll.with_, catalog=engine.catalog, curated=engine.curated,
            mode=poll.mode, id_field=poll.id_field, updated_field=poll.updated_field,
            every=poll.every,
        )  # fmt: skip
        keys += [spec.checkpoint_key(t) for t in await engine.targets(recipe)]

    def taken() -> bool:
        return all((engine.store.checkpoint(k) or {}).get("baseline_done") for k in keys)

    await eventually(taken, f"the baselines of {len(keys)} polls", timeout=timeout)
