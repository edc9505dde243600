"""Manual trigger: ``ghlbridge flows run NAME --input JSON`` (any flow can be started so)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from ghlbridge.flows.store import Accepted, FlowStore, NewEvent, NewRun
from ghlbridge.flows.triggers.keys import Target


async def start(
    flow: str, data: dict[str, Any], targets: Sequence[Target], store: FlowStore
) -> Accepted:
    """Store a manual event and one run per target, in one transaction."""
    return await asyncio.to_thread(
        store.accept,
        NewEvent(source="manual", type="manual", flow=flow, payload=data),
        [NewRun(flow, data, t.location_id) for t in targets],
    )


__all__ = ["start"]
