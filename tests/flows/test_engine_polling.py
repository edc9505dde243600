"""A polling flow end to end against the in-process sandbox: Social Planner tags pushed to
a receiver, each exactly once, history not replayed, a lost answer resolved by its key."""

from __future__ import annotations

from typing import Any, cast

from ghlbridge.client.errors import ConnectionDropped
from ghlbridge.client.transport import ASGITransport, HandlerTransport, HttpRequest, HttpResponse
from ghlbridge.flows.actions import ActionRunner
from ghlbridge.flows.engine import EngineSettings, FlowEngine
from ghlbridge.flows.recipe import parse_recipe
from ghlbridge.flows.store import FlowStore
from ghlbridge.sandbox.handlers.social_planner import add_social_tag
from tests.flows.conftest import SandboxWorld
from tests.flows.receiver import Receiver

RECIPE = """
name: social-tags-to-receiver
trigger:
  poll:
    op: social_media_posting.get_tags_location_id
    every: 30s
steps:
  - id: details
    action: social_media_posting.get_tags_by_ids
    with:
      locationId: "{{ trigger.locationId }}"
      tagIds: ["{{ trigger._id }}"]
  - id: push
    action: http.request
    on_error: retry
    retry: {max_attempts: 3, backoff: 0.05}
    with:
      url: "{{ env.RECEIVER_URL }}"
      json: "{{ steps.details.results.tags[0] }}"
"""


def make_engine(
    store: FlowStore, world: SandboxWorld, receiver: Receiver, *, http: Any = None
) -> FlowEngine:
    return FlowEngine(
        store,
        [parse_recipe(RECIPE)],
        world.clients(),
        settings=EngineSettings(poll_interval_override=0.05, claim_every=0.05, lease=5),
        runner=ActionRunner(http=http or ASGITransport(cast(Any, receiver.app))),
        environ={**world.env, "RECEIVER_URL": "http://receiver.test/hook"},
    )


async def test_every_new_social_tag_reaches_the_receiver_exactly_once(
    store: FlowStore, world: SandboxWorld
) -> None:
    loc = world.sb.location()
    old = [add_social_tag(loc, f"old {i}")["_id"] for i in range(3)]
    receiver = Receiver()
    async with make_engine(store, world, receiver) as engine:
        await engine.poll_now("social-tags-to-receiver")  # the baseline: history not replayed
        new = [add_social_tag(loc, f"new {i}")["_id"] for i in range(12)]
        await engine.poll_now("social-tags-to-receiver")
        await engine.poll_now("social-tags-to-receiver")
        await engine.wait_idle()
    assert {k: v for k, v in receiver.counts.items()} == {t: 1 for t in new}
    assert not set(old) & set(receiver.counts)
    runs = store.list_runs(flow="social-tags-to-receiver", limit=100)
    assert len(runs) == 12 and {r.status for r in runs} == {"succeeded"}


async def test_an_answer_lost_after_the_receiver_acted_is_resolved_by_the_idempotency_key(
    store: FlowStore, world: SandboxWorld
) -> None:
    receiver = Receiver()
    inner = ASGITransport(cast(Any, receiver.app))
    lost: list[str] = []

    async def flaky(request: HttpRequest) -> HttpResponse:
        response = await inner.send(request)  # the receiver processes the delivery...
        if len(lost) < 2:
            lost.append(request.headers["Idempotency-Key"])
            raise ConnectionDropped("connection reset")  # ...and the answer is lost
        return response

    loc = world.sb.location()
    async with make_engine(store, world, receiver, http=HandlerTransport(flaky)) as engine:
        await engine.poll_now("social-tags-to-receiver")
        tags = [add_social_tag(loc, f"t{i}")["_id"] for i in range(2)]
        await engine.poll_now("social-tags-to-receiver")
        await engine.wait_idle()
    assert dict(receiver.counts) == {t: 1 for t in tags}
    assert receiver.replayed == 2
    run = store.list_runs(limit=10)[0]
    statuses = [a.status for a in store.attempts(run.id) if a.step_id == "push"]
    assert statuses[-1] == "succeeded"
