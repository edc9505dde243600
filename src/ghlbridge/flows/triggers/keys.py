"""Dedupe keys shared by triggers, so a webhook and a catch-up poll name one change alike.

- a new item: ``new:<location>:<id>`` (forever: an item is new once);
- an item's state: ``item:<location>:<id>`` with its updated timestamp or fingerprint as the
  compare-and-set value (a change is processed once per distinct value);
- any other event: ``chg:<type>:<location>:<id>:<fingerprint>`` inside the flow's window.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ghlbridge.flows.store import Claim

# Fields that differ between deliveries of the same change (GHL adds them to every webhook).
VOLATILE_FIELDS = frozenset({"timestamp", "webhookId", "type"})


@dataclass(frozen=True)
class Target:
    """Where a flow runs: a connection and, for GHL, one location."""

    connection: str | None
    location_id: str | None

    @property
    def label(self) -> str:
        return self.location_id or "-"


def fingerprint(item: Any) -> str:
    """A short stable hash of an item's content (volatile delivery fields left out)."""
    if isinstance(item, dict):
        item = {k: v for k, v in item.items() if k not in VOLATILE_FIELDS}
    raw = json.dumps(item, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def new_item_claim(flow: str, location: str | None, item_id: str) -> Claim:
    return Claim(flow, f"new:{location or '-'}:{item_id}")


def item_state_claim(flow: str, location: str | None, item_id: str, value: str) -> Claim:
    return Claim(flow, f"item:{location or '-'}:{item_id}", value=value[:128])


def change_claim(
    flow: str, event_type: str, location: str | None, item_id: str, payload: Any, ttl: float
) -> Claim:
    return Claim(
        flow, f"chg:{event_type}:{location or '-'}:{item_id}:{fingerprint(payload)}", ttl=ttl
    )


def item_id(item: Any, id_field: str | None = None) -> str | None:
    """The id of an item: `id_field`, else ``id``/``_id``, else a nested object's id."""
    if not isinstance(item, dict):
        return None
    for name in (id_field, "id", "_id"):
        if name and item.get(name) not in (None, ""):
            return str(item[name])
    for value in item.values():
        if isinstance(value, dict) and value.get("id"):
            return str(value["id"])
    return None


__all__ = [
    "Target",
    "change_claim",
    "fingerprint",
    "item_id",
    "item_state_claim",
    "new_item_claim",
]
