"""Agency fan-out: one flow runs for each listed location, each with its own token, rate
budget, checkpoint and dedupe keys."""

from __future__ import annotations

from typing import Any, cast

from ghlbridge.client import GHLClient
from ghlbridge.client.transport import ASGITransport
from ghlbridge.flows.actions import ActionRunner
from ghlbridge.flows.clients import Clients
from ghlbridge.flows.engine import EngineSettings, FlowEngine
from ghlbridge.flows.recipe import parse_recipe
from ghlbridge.flows.store import FlowStore
from ghlbridge.sandbox.handlers.social_planner import add_social_tag
from ghlbridge.store import ConnectionStore, SQLTokenStore, TokenSet, Vault, token_key
from ghlbridge.store.vault import generate_key
from tests.flows.conftest import BASE, SandboxWorld
from tests.flows.receiver import Receiver


class PerLocationClients(Clients):
    """Stands in for an agency OAuth connection: a location token per location."""

    def __init__(self, world: SandboxWorld, tokens: dict[str, str]) -> None:
        super().__init__(environ=world.env)
        self._world = world
        self._tokens = tokens
        self.made: dict[str, GHLClient] = {}

    async def client(self, connection: str | None, location_id: str | None) -> GHLClient:
        assert location_id is not None
        if location_id not in self.made:
            self.made[location_id] = GHLClient(
                self._tokens[location_id],
                base_url=BASE,
                location_id=location_id,
                transport=ASGITransport(cast(Any, self._world.app)),
                app_key="agency",
            )
        return self.made[location_id]


async def test_a_flow_fans_out_to_each_listed_location(
    store: FlowStore, world: SandboxWorld
) -> None:
    sb = world.sb
    second, pit = sb.add_location()
    tokens = {sb.location_id: sb.location_token.value, second.id: pit.value}
    recipe = parse_recipe(f"""
name: agency-tags
locations: [{sb.location_id}, {second.id}]
trigger:
  poll: {{op: social_media_posting.get_tags_location_id, every: 1m}}
steps:
  - id: push
    action: http.request
    with: {{url: "http://receiver.test/hook", json: {{id: "{{{{ trigger._id }}}}",
            location: "{{{{ event.location_id }}}}"}}}}
""")
    receiver = Receiver()
    clients = PerLocationClients(world, tokens)
    engine = FlowEngine(
        store,
        [recipe],
        clients,
        settings=EngineSettings(claim_every=0.05),
        runner=ActionRunner(http=ASGITransport(cast(Any, receiver.app))),
        environ=world.env,
    )
    await engine.start(triggers=False)
    try:
        await engine.poll_now("agency-tags")
        a = add_social_tag(sb.location(), "in first")["_id"]
        b = add_social_tag(second, "in second")["_id"]
        results = await engine.poll_now("agency-tags")
        await engine.wait_idle()
    finally:
        await engine.stop()
    assert [r.runs for r in results] == [1, 1]
    assert dict(receiver.counts) == {a: 1, b: 1}
    runs = store.list_runs(flow="agency-tags")
    assert {r.location_id for r in runs} == {sb.location_id, second.id}
    budgets = {k for c in clients.made.values() for k in c.rate_limiter.snapshot()}
    assert budgets == {f"agency:{sb.location_id}", f"agency:{second.id}"}


async def test_an_agency_oauth_connection_fans_out_to_every_installed_location(
    sqlite_db: Any, world: SandboxWorld
) -> None:
    sb = world.sb
    second, _ = sb.add_location()
    vault = Vault([generate_key()])
    connections = ConnectionStore(sqlite_db, vault)
    client = sb.oauth_client
    connections.add(
        "agency",
        "ghl",
        "oauth",
        {"client_id": client.client_id, "client_secret": client.client_secret},
        company_id=sb.company_id,
    )
    pair = sb.tokens.issue(client, company_id=sb.company_id, location_id=None, scopes=sb.all_scopes)
    tokens = SQLTokenStore(sqlite_db, vault)
    await tokens.save(
        token_key("agency", sb.company_id),
        TokenSet(
            pair.access.value,
            pair.refresh_token,
            pair.access.expires_at,
            user_type="Company",
            company_id=sb.company_id,
        ),
    )
    recipe = parse_recipe("""
name: agency-all
connection: agency
locations: all
trigger:
  poll: {op: social_media_posting.get_tags_location_id, every: 1m}
steps:
  - id: details
    action: social_media_posting.get_tags_by_ids
    with: {locationId: "{{ event.location_id }}", tagIds: ["{{ trigger._id }}"]}
  - id: push
    action: http.request
    with: {url: "http://receiver.test/hook", json: "{{ steps.details.results.tags[0] }}"}
""")
    receiver = Receiver()
    store = FlowStore(sqlite_db)
    clients = Clients(
        connections,
        environ=world.env,
        token_store=tokens,
        transport=lambda: ASGITransport(cast(Any, world.app)),
    )
    engine = FlowEngine(
        store,
        [recipe],
        clients,
        settings=EngineSettings(claim_every=0.05),
        runner=ActionRunner(http=ASGITransport(cast(Any, receiver.app))),
        environ=world.env,
    )
    await engine.start(triggers=False)
    try:
        assert {t.location_id for t in await engine.targets(recipe)} == {sb.location_id, second.id}
        await engine.poll_now("agency-all")
        a = add_social_tag(sb.location(), "first")["_id"]
        b = add_social_tag(second, "second")["_id"]
        await engine.poll_now("agency-all")
        await engine.wait_idle()
    finally:
        await engine.stop()
    assert dict(receiver.counts) == {a: 1, b: 1}
    assert {r.status for r in store.list_runs()} == {"succeeded"}
    # each location got its own location token, minted from the agency token and stored
    for loc in (sb.location_id, second.id):
        assert await tokens.load(f"{token_key('agency', sb.company_id)}:{loc}") is not None
