"""Running steps: resume without repeating completed steps, unknown outcomes of
non-idempotent writes left for review, replay, conditions, for_each, on_error, redaction."""

from __future__ import annotations

import json
from typing import Any, cast

from ghlbridge.client import GHLClient
from ghlbridge.client.transport import ASGITransport, HandlerTransport, HttpRequest, HttpResponse
from ghlbridge.flows.actions import ActionRunner
from ghlbridge.flows.customfields import CustomFieldResolver, UnknownCustomFieldError
from ghlbridge.flows.engine import EngineSettings, FlowEngine
from ghlbridge.flows.executor import idempotency_key
from ghlbridge.flows.recipe import parse_recipe
from ghlbridge.flows.runs import RunState, StepState
from ghlbridge.flows.store import FlowStore
from ghlbridge.sandbox.handlers.contacts import CONTACTS
from tests.flows.conftest import SandboxWorld
from tests.flows.receiver import Receiver

TWO_STEPS = """
name: two-steps
trigger: {manual: {}}
steps:
  - id: push
    action: http.request
    with: {url: "http://receiver.test/hook", json: {id: "{{ trigger.id }}"}}
  - id: note
    action: contacts.create_note
    with: {contactId: "{{ trigger.id }}", body: "pushed"}
"""


def engine_for(
    store: FlowStore, world: SandboxWorld, recipe: str, receiver: Receiver, **env: str
) -> FlowEngine:
    return FlowEngine(
        store,
        [parse_recipe(recipe)],
        world.clients(),
        settings=EngineSettings(claim_every=0.05),
        runner=ActionRunner(http=ASGITransport(cast(Any, receiver.app))),
        environ={**world.env, **env},
    )


async def test_a_resumed_run_skips_done_steps_and_leaves_an_unknown_write_for_review(
    store: FlowStore, world: SandboxWorld
) -> None:
    receiver = Receiver()
    engine = engine_for(store, world, TWO_STEPS, receiver)
    contact = world.sb.location().collection(CONTACTS).create({"email": "c1@example.com"})
    accepted = await engine.start_manual("two-steps", {"id": contact["id"]})
    [run_id] = accepted.run_ids
    # A worker that died: step `push` done, `note` sent with no answer recorded.
    [run] = store.claim_runs("host:999999:dead", 1, lease=0.01)
    for step, status in (("push", StepState.SUCCEEDED), ("note", StepState.RUNNING)):
        attempt = store.start_attempt(
            run_id=run_id,
            step_id=step,
            item_index=0,
            attempt=1,
            idempotency_key=idempotency_key("two-steps", run.event_id, run.location_id, step, 0),
            action=step,
            idempotent=False,
            input={},
        )
        if status == StepState.SUCCEEDED:
            store.finish_attempt(attempt, status, output={"status": 200, "body": "earlier"})
    [settled] = await engine.run_until_settled([run_id])
    assert settled.status == "dead" and "needs review" in (settled.error or "")
    assert receiver.requests == 0  # the completed step was not repeated
    assert [a.status for a in store.attempts(run_id)] == ["succeeded", "unknown"]
    # After review, a replay sends the note (and still not the push).
    assert store.move_run(run_id, RunState.PENDING, expect=[RunState.DEAD], error=None)
    [replayed] = await engine.run_until_settled([run_id])
    await engine.stop()
    assert replayed.status == "succeeded" and receiver.requests == 0, replayed.error
    assert [a.status for a in store.attempts(run_id)][-1] == "succeeded"


async def test_conditions_for_each_and_on_error_continue(
    store: FlowStore, world: SandboxWorld
) -> None:
    recipe = """
name: branches
trigger: {manual: {}}
steps:
  - id: never
    if: "trigger.n > 5"
    action: http.request
    with: {url: "http://receiver.test/hook", json: {id: never}}
  - id: each
    for_each: "trigger.items"
    on_error: continue
    action: http.request
    with: {url: "{{ 'http://receiver.test/' ~ ('hook' if item != 'bad' else 'nowhere') }}",
           json: {id: "{{ item }}-{{ index }}"}}
  - id: after
    action: http.request
    with: {url: "http://receiver.test/hook", json: {id: "after", seen: "{{ steps.each | length }}",
           skipped: "{{ steps.never is none }}"}}
"""
    receiver = Receiver()
    engine = engine_for(store, world, recipe, receiver)
    accepted = await engine.start_manual("branches", {"n": 1, "items": ["a", "bad", "c"]})
    [run] = await engine.run_until_settled(accepted.run_ids)
    await engine.stop()
    assert run.status == "failed" and "steps.each" in (run.error or ""), run.error
    assert dict(receiver.counts) == {"a-0": 1, "c-2": 1, "after": 1}
    statuses = {(a.step_id, a.item_index): a.status for a in store.attempts(run.id)}
    assert statuses[("never", 0)] == "skipped" and statuses[("each", 1)] == "failed"


async def test_a_step_that_fails_with_a_long_backoff_waits_as_retrying(
    store: FlowStore, world: SandboxWorld
) -> None:
    recipe = """
name: flaky
trigger: {manual: {}}
steps:
  - id: push
    action: http.request
    on_error: retry
    retry: {max_attempts: 3, backoff: 1m}
    with: {url: "http://receiver.test/nowhere"}
"""
    engine = FlowEngine(
        store,
        [parse_recipe(recipe)],
        world.clients(),
        runner=ActionRunner(http=HandlerTransport(_status(503))),
        environ=world.env,
    )
    accepted = await engine.start_manual("flaky", {})
    [run] = await engine.run_until_settled(accepted.run_ids)
    await engine.stop()
    assert run.status == "retrying" and run.next_attempt_at > run.updated_at
    assert store.claim_runs("other", 5, lease=5) == []  # not due yet


async def test_secrets_never_reach_run_records(store: FlowStore, world: SandboxWorld) -> None:
    recipe = """
name: secretive
trigger: {manual: {}}
steps:
  - id: read
    action: social_media_posting.get_tags_location_id
    with: {locationId: "{{ connection.location_id }}"}
  - id: push
    action: http.request
    with:
      url: "http://receiver.test/hook"
      headers: {Authorization: "Bearer {{ env.PARTNER_TOKEN }}", X-Other: "{{ env.PARTNER_TOKEN }}"}
      json: {id: "x", echo: "token={{ env.PARTNER_TOKEN }}"}
"""
    receiver = Receiver()
    engine = engine_for(store, world, recipe, receiver, PARTNER_TOKEN="partner-secret-123")
    accepted = await engine.start_manual("secretive", {})
    [run] = await engine.run_until_settled(accepted.run_ids)
    await engine.stop()
    assert run.status == "succeeded"
    dump = json.dumps([a.to_dict() for a in store.attempts(run.id)], default=str)
    assert "partner-secret-123" not in dump and world.sb.location_token.value not in dump
    assert '"Authorization": "***"' in dump and "token=***" in dump


async def test_custom_fields_are_resolved_by_key_once_per_location() -> None:
    calls: list[str] = []

    async def ghl(request: HttpRequest) -> HttpResponse:
        calls.append(request.url)
        body = {"customFields": [{"id": "f1", "fieldKey": "contact.plan", "name": "Plan"}]}
        return HttpResponse(200, {"Content-Type": "application/json"}, json.dumps(body).encode())

    resolver = CustomFieldResolver()
    async with GHLClient("t", transport=HandlerTransport(ghl)) as client:
        assert await resolver.resolve(client, "loc", {"plan": "gold"}) == [
            {"id": "f1", "field_value": "gold"}
        ]
        assert await resolver.resolve(client, "loc", {"contact.plan": "x"})
        assert len(calls) == 1
        try:
            await resolver.resolve(client, "loc", {"nope": 1})
        except UnknownCustomFieldError as exc:
            assert "nope" in str(exc) and "plan" in str(exc)
        else:
            raise AssertionError("unknown key accepted")
        assert len(calls) == 2  # an unknown key refreshes the cache once


def _status(code: int) -> Any:
    async def handler(request: HttpRequest) -> HttpResponse:
        return HttpResponse(code, {}, b"")

    return handler
