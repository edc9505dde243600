"""Schedule trigger: cron expressions (UTC) and fixed intervals.

A fire is an event whose dedupe key names the flow and the fire time, so several engines
sharing one database fire it once. The checkpoint keeps the last fire; after downtime the
missed fires collapse into one (the latest), and a new flow starts counting from now.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from croniter import croniter

from ghlbridge.flows.recipe import ScheduleTrigger
from ghlbridge.flows.store import FlowStore, NewEvent, NewRun
from ghlbridge.flows.triggers.keys import Target
from ghlbridge.store.schema import utcnow


def next_fire(spec: ScheduleTrigger, after: datetime, *, every: float | None = None) -> datetime:
    """The first fire time strictly after `after`."""
    if spec.cron is not None:
        fire = croniter(spec.cron, after).get_next(datetime)
        assert isinstance(fire, datetime)
        return fire
    interval = every if every is not None else spec.every
    assert interval is not None
    return after + timedelta(seconds=interval)


def latest_due(
    spec: ScheduleTrigger, last: datetime, now: datetime, *, every: float | None = None
) -> datetime | None:
    """The latest fire time in (last, now], or None if none is due."""
    fire = next_fire(spec, last, every=every)
    if fire > now:
        return None
    while True:
        following = next_fire(spec, fire, every=every)
        if following > now:
            return fire
        fire = following


def checkpoint_key(flow: str) -> str:
    return f"schedule:{flow}"


async def fire_if_due(
    flow: str,
    spec: ScheduleTrigger,
    targets: Sequence[Target],
    store: FlowStore,
    *,
    every: float | None = None,
) -> tuple[int, datetime]:
    """Start the runs of a due fire; returns (runs started, when the next fire is due)."""
    now = utcnow()
    key = checkpoint_key(flow)
    state = await asyncio.to_thread(store.checkpoint, key)
    if state is None:
        await asyncio.to_thread(store.save_checkpoint, key, {"last_fire": now.isoformat()})
        return 0, next_fire(spec, now, every=every)
    last = datetime.fromisoformat(state["last_fire"])
    fire = latest_due(spec, last, now, every=every)
    if fire is None:
        return 0, next_fire(spec, last, every=every)
    payload = {"fired_at": now.isoformat(), "scheduled_for": fire.isoformat()}
    accepted = await asyncio.to_thread(
        store.accept,
        NewEvent(
            source="schedule",
            type="schedule",
            flow=flow,
            payload=payload,
            dedupe_key=f"schedule:{flow}:{fire.isoformat()}",
        ),
        [NewRun(flow, payload, t.location_id) for t in targets],
    )
    await asyncio.to_thread(store.save_checkpoint, key, {"last_fire": fire.isoformat()})
    return len(accepted.run_ids), next_fire(spec, fire, every=every)


__all__ = ["checkpoint_key", "fire_if_due", "latest_due", "next_fire"]
