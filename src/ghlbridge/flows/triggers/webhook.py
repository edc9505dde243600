"""GHL webhook events as triggers, deduplicated against their catch-up poll.

`runs_for` decides which flows an event starts and with which dedupe claim:

- a ``...Create`` event claims ``new:<location>:<id>``, the very key the flow's catch-up
  poll (mode ``new``) claims for the same item, so whichever sees the item first runs it
  and the other finds it taken;
- any other event claims its change (type, id and a fingerprint of the payload) for the
  flow's dedupe window, so a redelivered or repeated identical event runs once.

The event itself is also deduplicated by the ``dedupe_key`` its receiver gives (GHL's
``webhookId``), before any flow is looked at.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ghlbridge.catalog import Catalog
from ghlbridge.catalog.curated import Curated
from ghlbridge.flows.recipe import Recipe
from ghlbridge.flows.store import NewRun
from ghlbridge.flows.triggers.keys import Target, change_claim, item_id, new_item_claim
from ghlbridge.flows.triggers.polling import PollSpec


def event_type(payload: Mapping[str, Any]) -> str | None:
    value = payload.get("type")
    return str(value) if value else None


def event_location(payload: Mapping[str, Any]) -> str | None:
    value = payload.get("locationId")
    if not value and isinstance(payload.get("appointment"), dict):
        value = payload["appointment"].get("locationId")
    return str(value) if value else None


def is_create(event: str) -> bool:
    return event.endswith("Create")


def runs_for(
    payload: dict[str, Any],
    flows: Sequence[tuple[Recipe, Sequence[Target]]],
) -> list[NewRun]:
    """The runs a webhook payload starts: one per (flow, target) listening for its type."""
    kind = event_type(payload)
    location = event_location(payload)
    ident = item_id(payload)
    runs: list[NewRun] = []
    for recipe, targets in flows:
        hook = recipe.trigger.webhook
        if hook is None or hook.event != kind or not recipe.enabled:
            continue
        for target in targets:
            if None not in (target.location_id, location) and target.location_id != location:
                continue
            loc = target.location_id or location
            if ident is not None and is_create(hook.event):
                claim = new_item_claim(recipe.name, loc, ident)
            else:
                claim = change_claim(
                    recipe.name, hook.event, loc, ident or "-", payload, recipe.dedupe_window
                )
            runs.append(NewRun(recipe.name, payload, loc, claim))
    return runs


def catch_up_spec(recipe: Recipe, catalog: Catalog, curated: Curated) -> PollSpec | None:
    """The poll that finds this flow's changes whose webhook never came, or None."""
    hook = recipe.trigger.webhook
    if hook is None or hook.catch_up is None:
        return None
    mode: Literal["new", "updated"] = "new" if is_create(hook.event) else "updated"
    cu = hook.catch_up
    return PollSpec.resolve(
        recipe.name,
        cu.op,
        cu.with_,
        catalog=catalog,
        curated=curated,
        mode=mode,
        id_field=cu.id_field,
        updated_field=cu.updated_field,
        every=cu.every,
        max_items=cu.max_items,
        source="catch_up",
    )


__all__ = ["catch_up_spec", "event_location", "event_type", "is_create", "runs_for"]
