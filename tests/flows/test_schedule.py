"""Schedule triggers: cron and interval fire times, missed fires collapsed, runs started."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

from ghlbridge.client.transport import ASGITransport
from ghlbridge.flows.actions import ActionRunner
from ghlbridge.flows.engine import EngineSettings, FlowEngine
from ghlbridge.flows.recipe import ScheduleTrigger, parse_recipe
from ghlbridge.flows.store import FlowStore
from ghlbridge.flows.triggers.schedule import latest_due, next_fire
from tests.flows.conftest import SandboxWorld
from tests.flows.receiver import Receiver


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 1, hour, minute, tzinfo=UTC)


def test_cron_fires_at_the_next_match_and_missed_fires_collapse_into_the_latest() -> None:
    daily = ScheduleTrigger(cron="0 7 * * *")
    assert next_fire(daily, at(6, 59)) == at(7)
    assert latest_due(daily, at(6), at(6, 30)) is None
    every_15 = ScheduleTrigger(cron="*/15 * * * *")
    assert latest_due(every_15, at(6), at(8, 20)) == at(8, 15)


def test_an_interval_schedule_fires_every_interval() -> None:
    hourly = ScheduleTrigger(every="1h")  # type: ignore[arg-type]
    assert next_fire(hourly, at(6)) == at(7)
    assert latest_due(hourly, at(6), at(9, 30)) == at(9)


async def test_a_schedule_flow_runs_on_its_interval(store: FlowStore, world: SandboxWorld) -> None:
    recipe = parse_recipe(
        """
name: heartbeat
trigger: {schedule: {every: 10s}}
steps:
  - id: ping
    action: http.request
    with: {url: "http://receiver.test/hook", json: {id: "{{ trigger.scheduled_for }}"}}
"""
    )
    receiver = Receiver()
    engine = FlowEngine(
        store,
        [recipe],
        world.clients(),
        settings=EngineSettings(poll_interval_override=0.15, tick=0.02, claim_every=0.02),
        runner=ActionRunner(http=ASGITransport(cast(Any, receiver.app))),
        environ=world.env,
    )
    async with engine:
        # Wait for two finished runs (not a fixed sleep: a loaded machine is slower).
        for _ in range(500):
            done = [r for r in store.list_runs(flow="heartbeat") if r.status == "succeeded"]
            if len(done) >= 2:
                break
            await asyncio.sleep(0.02)
    runs = store.list_runs(flow="heartbeat")
    succeeded = [r for r in runs if r.status == "succeeded"]
    assert len(succeeded) >= 2
    # A run the shutdown interrupted stays resumable (pending/running); none failed.
    assert {r.status for r in runs} <= {"succeeded", "pending", "running", "retrying"}
    assert all(n == 1 for n in receiver.counts.values())
    assert len(succeeded) <= len(receiver.counts) <= len(runs)
    assert all(e["dedupe_key"].startswith("schedule:heartbeat:") for e in store.list_events())
