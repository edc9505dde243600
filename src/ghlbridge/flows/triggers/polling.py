"""Polling trigger: new or updated items of any list/search operation.

One poll pages through the operation (the client paces it inside the location's rate
budget) until it has seen every item or `max_items`. Each item's change is claimed with a
dedupe key in the same transaction as its event and run (`FlowStore.accept`), so a poll
killed half-way simply finds the rest next time. The first poll of a flow only records what
exists (its baseline, in one transaction with the checkpoint, so a baseline cut short is
taken again from scratch) unless `replay_history` is set. The checkpoint
(``poll:<flow>:<location>:<op>``) keeps whether the baseline was taken and when the last
poll ran, so a restart neither replays history nor polls early.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ghlbridge.catalog import Catalog
from ghlbridge.catalog.curated import Curated
from ghlbridge.client import GHLClient
from ghlbridge.flows import templates
from ghlbridge.flows.store import Claim, FlowStore, NewEvent, NewRun
from ghlbridge.flows.triggers.keys import (
    Target,
    fingerprint,
    item_id,
    item_state_claim,
    new_item_claim,
)
from ghlbridge.store.schema import utcnow


@dataclass(frozen=True)
class PollSpec:
    """What to poll, resolved from a recipe's poll trigger or a webhook's catch-up."""

    flow: str
    op_id: str
    params: dict[str, Any]
    mode: Literal["new", "updated"]
    id_field: str | None
    updated_field: str | None
    every: float
    replay_history: bool = False
    max_items: int = 10_000
    page_size: int | None = None
    source: str = "poll"

    @classmethod
    def resolve(
        cls,
        flow: str,
        op_name: str,
        with_: dict[str, Any],
        *,
        catalog: Catalog,
        curated: Curated,
        mode: Literal["new", "updated"],
        id_field: str | None,
        updated_field: str | None,
        every: float,
        **extra: Any,
    ) -> PollSpec:
        op_id, params = op_name, dict(with_)
        if op_name not in catalog and op_name in curated:
            entry = curated.get(op_name)
            op_id = entry.op_id
            if entry.poll is not None:
                id_field = id_field or entry.poll.id_field
                updated_field = updated_field or entry.poll.updated_field
        return cls(flow, op_id, params, mode, id_field, updated_field, every, **extra)

    def checkpoint_key(self, target: Target) -> str:
        return f"{self.source}:{self.flow}:{target.label}:{self.op_id}"

    def claim(self, target: Target, item: Any) -> Claim | None:
        ident = item_id(item, self.id_field)
        if ident is None:
            return None
        if self.mode == "new":
            return new_item_claim(self.flow, target.location_id, ident)
        value = None
        if self.updated_field and isinstance(item, dict) and item.get(self.updated_field):
            value = str(item[self.updated_field])
        return item_state_claim(self.flow, target.location_id, ident, value or fingerprint(item))


@dataclass
class PollResult:
    items: int = 0
    runs: int = 0
    pages: int = 0
    baseline: bool = False


def jittered(every: float, fraction: float = 0.1) -> float:
    """`every` give or take `fraction`, so many flows on one interval do not poll in step."""
    return every * random.uniform(1 - fraction, 1 + fraction)


def due_in(store: FlowStore, spec: PollSpec, target: Target, interval: float) -> float:
    """Seconds until the next poll is due, from the stored checkpoint (0 if never polled)."""
    state = store.checkpoint(spec.checkpoint_key(target)) or {}
    last = state.get("last_poll")
    if not last:
        return 0.0
    elapsed = (utcnow() - datetime.fromisoformat(last)).total_seconds()
    return max(0.0, interval - elapsed)


async def poll(
    spec: PollSpec,
    target: Target,
    client: GHLClient,
    store: FlowStore,
    *,
    context: dict[str, Any],
) -> PollResult:
    """One poll: every page, each new change accepted durably; returns what it saw."""
    key = spec.checkpoint_key(target)
    state = await asyncio.to_thread(store.checkpoint, key) or {}
    baseline = not state.get("baseline_done") and not spec.replay_history
    params = templates.render(spec.params, context, "trigger.with")
    op = client.catalog.get(spec.op_id)
    if target.location_id:
        for name in ("locationId", "location_id"):
            if op.param(name) is not None:
                params.setdefault(name, target.location_id)
    body = None
    if op.body is not None:
        split = {k: v for k, v in params.items() if op.param(k) is None}
        params = {k: v for k, v in params.items() if op.param(k) is not None}
        body = split or {}
    result = PollResult(baseline=baseline)
    seen: list[Claim] = []
    pager = client.pager(spec.op_id, params, body, page_size=spec.page_size)
    async for page in pager.pages():
        result.pages += 1
        items = page[: max(0, spec.max_items - result.items)]
        result.items += len(items)
        if baseline:
            seen += [c for c in (spec.claim(target, i) for i in items) if c is not None]
        else:
            for item in items:
                claim = spec.claim(target, item)
                if claim is not None:
                    result.runs += await _accept(spec, target, item, claim, store)
        if result.items >= spec.max_items:
            break
    state.update(baseline_done=True, last_poll=utcnow().isoformat(), last_items=result.items)
    if baseline:  # all or nothing: a baseline cut short is taken again from scratch
        await asyncio.to_thread(store.mark_seen, seen, checkpoint=(key, state))
    else:
        await asyncio.to_thread(store.save_checkpoint, key, state)
    return result


async def _accept(spec: PollSpec, target: Target, item: Any, claim: Claim, store: FlowStore) -> int:
    """One item: its event and run stored only if its change was not claimed before."""
    accepted = await asyncio.to_thread(
        store.accept,
        NewEvent(
            source=spec.source,
            type=spec.op_id,
            flow=spec.flow,
            location_id=target.location_id,
            payload=_trigger_data(item),
        ),
        [NewRun(spec.flow, _trigger_data(item), target.location_id, claim)],
        keep_unclaimed=False,
    )
    return len(accepted.run_ids)


def _trigger_data(item: Any) -> dict[str, Any]:
    return item if isinstance(item, dict) else {"item": item}


__all__ = ["PollResult", "PollSpec", "due_in", "jittered", "poll"]
