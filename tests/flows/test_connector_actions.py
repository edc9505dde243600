"""Connector steps: `http.request` through a stored http connection (auth preset, templated
path/query/body, response mapping, the step's Idempotency-Key, SSRF guard), a plain `url`
behind the same guard, `webhook.send` signed with HMAC, `clickbank.<action>` REST calls; and
the load-time checks of their inputs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from ghlbridge.connectors.http import ApiKeyAuth, HttpApp
from ghlbridge.flows.actions import ActionRunner, DryRunLog
from ghlbridge.flows.clients import Clients
from ghlbridge.flows.connector_actions import ALLOW_PRIVATE_ENV
from ghlbridge.flows.engine import EngineSettings, FlowEngine
from ghlbridge.flows.executor import idempotency_key
from ghlbridge.flows.recipe import RecipeError, parse_recipe
from ghlbridge.flows.runs import RunState
from ghlbridge.flows.store import FlowStore, RunRecord
from ghlbridge.partner import API_KEY_HEADER, Partner, PartnerSettings, serve_partner
from ghlbridge.store import ConnectionStore, Vault
from ghlbridge.store.vault import generate_key
from tests.connectors.fake_clickbank import FakeClickBank

KEY = "partner-key-77aa"
HOOK_SECRET = "webhook-secret-5511"


@pytest.fixture
def partner() -> Iterator[tuple[str, Partner]]:
    with serve_partner(PartnerSettings(api_key=KEY, webhook_secret=HOOK_SECRET)) as served:
        yield served


@pytest.fixture
def connections(sqlite_db: Engine) -> ConnectionStore:
    return ConnectionStore(sqlite_db, Vault([generate_key()]))


def add_partner(
    connections: ConnectionStore, name: str, url: str, *, allow_private: bool = True
) -> None:
    app = HttpApp(base_url=url, auth=ApiKeyAuth(KEY, API_KEY_HEADER), allow_private=allow_private)
    connections.add(name, "http", "static", app.to_dict())


async def run_once(
    db: Engine,
    connections: ConnectionStore,
    recipe: str,
    data: dict[str, Any] | None = None,
    *,
    env: dict[str, str] | None = None,
    runner: ActionRunner | None = None,
) -> tuple[RunRecord, FlowStore]:
    store = FlowStore(db)
    engine = FlowEngine(
        store,
        [parse_recipe(recipe)],
        Clients(environ={}),
        settings=EngineSettings(claim_every=0.05),
        runner=runner or ActionRunner(connections=connections),
        environ=env or {},
    )
    try:
        accepted = await engine.start_manual(parse_recipe(recipe).name, data or {})
        [run] = await engine.run_until_settled(accepted.run_ids)
    finally:
        await engine.stop()
    return run, store


PUSH = """
name: push-tags
trigger: {manual: {}}
steps:
  - id: push
    action: http.request
    connection: partner
    with:
      path: /locations/{loc}/tags
      path_params: {loc: "{{ trigger.location }}"}
      query: {source: flow}
      json: {tags: ["{{ trigger.tag }}"], timestamp: "t0"}
      response: {id: id, kind: kind, code: $status, missing: nope.nothing}
"""


async def test_http_request_through_a_connection_authenticates_maps_and_sends_the_step_key(
    sqlite_db: Engine, connections: ConnectionStore, partner: tuple[str, Partner]
) -> None:
    url, app = partner
    add_partner(connections, "partner", url)
    run, store = await run_once(
        sqlite_db, connections, PUSH, {"location": "Main St 1", "tag": "Promo"}
    )
    assert run.status == RunState.SUCCEEDED, run.error
    [attempt] = store.attempts(run.id)
    assert attempt.output["status"] == 201
    assert attempt.output["mapped"] == {
        "id": 1,
        "kind": "location_tags",
        "code": 201,
        "missing": None,
    }
    [item] = app.state.received("location_tags")
    assert item.location_id == "Main St 1"  # one escaped path segment
    assert item.body["tags"] == ["Promo"]
    key = idempotency_key("push-tags", run.event_id, run.location_id, "push", 0)
    assert item.idempotency_key == key == attempt.idempotency_key
    assert KEY not in str([a.to_dict() for a in store.attempts(run.id)])


async def test_a_private_address_is_refused_unless_the_connection_or_env_allows_it(
    sqlite_db: Engine,
    connections: ConnectionStore,
    partner: tuple[str, Partner],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, app = partner
    add_partner(connections, "partner", url, allow_private=False)
    refused, _ = await run_once(sqlite_db, connections, PUSH, {"location": "L", "tag": "x"})
    assert refused.status == RunState.DEAD
    assert "refused to connect to 127.0.0.1: loopback address" in (refused.error or "")

    plain = """
name: plain
trigger: {manual: {}}
steps:
  - id: push
    action: http.request
    with:
      url: "{{ env.PARTNER_URL }}/tag-details?via=url"
      headers: {X-API-Key: "{{ env.PARTNER_API_KEY }}"}
      json: {locationId: L, tagId: t, details: {}, timestamp: now}
"""
    env = {"PARTNER_URL": url, "PARTNER_API_KEY": KEY}
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)
    refused, _ = await run_once(sqlite_db, connections, plain, env=env)
    assert refused.status == RunState.DEAD and ALLOW_PRIVATE_ENV in (refused.error or "")
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "127.0.0.0/8")
    allowed, _ = await run_once(sqlite_db, connections, plain, env=env)
    assert allowed.status == RunState.SUCCEEDED, allowed.error
    assert app.received("tag_details") == [
        {"locationId": "L", "tagId": "t", "details": {}, "timestamp": "now"}
    ]
    assert not app.received("location_tags")


async def test_an_error_status_fails_the_step_and_a_dry_run_sends_nothing(
    sqlite_db: Engine, connections: ConnectionStore, partner: tuple[str, Partner]
) -> None:
    url, app = partner
    add_partner(connections, "partner", url)
    bad = PUSH.replace("/locations/{loc}/tags", "/statistics").replace(
        '      path_params: {loc: "{{ trigger.location }}"}\n', ""
    )  # a body without locationId and metrics
    failed, _ = await run_once(sqlite_db, connections, bad, {"location": "L", "tag": "x"})
    assert failed.status == RunState.DEAD
    assert "HTTP 422: missing fields: locationId, metrics" in (failed.error or "")
    plan = DryRunLog()
    dry, _ = await run_once(
        sqlite_db,
        connections,
        PUSH,
        {"location": "L", "tag": "x"},
        runner=ActionRunner(connections=connections, dry_run=plan),
    )
    assert dry.status == RunState.SUCCEEDED
    [planned] = plan.writes
    assert planned["connection"] == "partner" and planned["path"] == "/locations/{loc}/tags"
    assert not app.state.received()


async def test_webhook_send_is_signed_and_its_delivery_id_is_the_step_key(
    sqlite_db: Engine, connections: ConnectionStore, partner: tuple[str, Partner]
) -> None:
    url, app = partner
    add_partner(connections, "partner", url)
    recipe = """
name: notify
trigger: {manual: {}}
steps:
  - id: hook
    action: webhook.send
    connection: partner
    with:
      path: /webhooks
      secret: "{{ env.PARTNER_WEBHOOK_SECRET }}"
      json: {event: sale, locationId: "{{ trigger.location }}"}
"""
    env = {"PARTNER_WEBHOOK_SECRET": HOOK_SECRET}
    run, store = await run_once(sqlite_db, connections, recipe, {"location": "L7"}, env=env)
    assert run.status == RunState.SUCCEEDED, run.error
    [item] = app.state.received("webhook")  # the partner verified the signature
    assert item.body == {"event": "sale", "locationId": "L7"}
    key = idempotency_key("notify", run.event_id, run.location_id, "hook", 0)
    [attempt] = store.attempts(run.id)
    assert item.idempotency_key == key == attempt.output["delivery"]
    assert HOOK_SECRET not in str(attempt.to_dict())


async def test_clickbank_actions_call_the_rest_api_with_the_connections_key(
    sqlite_db: Engine, connections: ConnectionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    connections.add("cb", "clickbank", "static", {"api_key": "API-KEY1"})
    recipe = """
name: orders
trigger: {manual: {}}
steps:
  - id: all
    action: clickbank.orders.list
    connection: cb
    with: {all_pages: true, type: SALE}
  - id: one
    action: clickbank.orders.get
    connection: cb
    with: {receipt: "{{ steps.all.records[1].receipt }}"}
  - id: active
    action: clickbank.orders.is_active
    connection: cb
    with: {receipt: R00002}
"""
    async with FakeClickBank(orders=5, page_sizes=(2,), active=frozenset({"R00002"})) as fake:
        monkeypatch.setenv("GHLBRIDGE_CLICKBANK_BASE_URL", fake.base_url)
        run, store = await run_once(sqlite_db, connections, recipe)
    assert run.status == RunState.SUCCEEDED, run.error
    outputs = {a.step_id: a.output for a in store.attempts(run.id)}
    assert outputs["all"]["count"] == 5
    assert outputs["one"]["orderData"][0]["receipt"] == "R00001"
    assert outputs["active"] is True
    assert {r["auth"] for r in fake.requests} == {"API-KEY1"}
    assert [r["page"] for r in fake.requests if r["path"] == "/orders2/list"] == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("step", "problem"),
    [
        ("action: http.request\n    with: {json: {}}", "needs `url`, or an http connection"),
        (
            "action: http.request\n    connection: p\n    with: {url: 'https://x.test'}",
            "give `url` or `connection`, not both",
        ),
        ("action: http.request\n    with: {url: 'https://x.test', jsn: {}}", "unknown input"),
        ("action: http.request\n    with: {url: 'https://x.test', method: FETCH}", "FETCH"),
        ("action: webhook.send\n    with: {url: 'https://x.test'}", "needs `json`"),
        ("action: clickbank.orders.get\n    connection: cb\n    with: {}", "needs 'receipt'"),
        ("action: clickbank.orders.get\n    with: {receipt: R}", "needs the step's `connection`"),
        (
            "action: clickbank.orders.get\n    connection: cb\n    with: {receipt: R, page: 2}",
            "not a parameter of clickbank.orders.get",
        ),
        ("action: clickbank.order.get", "did you mean clickbank.orders.get"),
    ],
)
def test_connector_step_inputs_are_checked_when_the_recipe_loads(step: str, problem: str) -> None:
    text = f"name: x\ntrigger: {{manual: {{}}}}\nsteps:\n  - id: a\n    {step}\n"
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, "x.yaml")
    assert problem in str(info.value)
