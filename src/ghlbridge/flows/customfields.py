"""Contact custom fields set by key: ``custom_fields: {my_key: value}`` becomes GHL's
``customFields: [{id, field_value}]`` with the location's field ids, looked up once per
location and cached (a key the cache does not know triggers one fresh look-up)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from ghlbridge.client import GHLClient

FIELDS_OP = "locations.get_custom_fields"


class UnknownCustomFieldError(LookupError):
    def __init__(self, key: str, location_id: str, known: list[str]) -> None:
        shown = ", ".join(sorted(known)[:20]) or "none"
        super().__init__(
            f"custom field {key!r} does not exist in location {location_id} (keys: {shown})"
        )
        self.key = key


def _short_key(field_key: str) -> str:
    """GHL's fieldKey is ``contact.my_key``; recipes may write ``my_key`` or the full key."""
    return field_key.split(".", 1)[1] if "." in field_key else field_key


class CustomFieldResolver:
    """Custom-field key -> id per location, cached for `ttl` seconds."""

    def __init__(self, ttl: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.lookups = 0

    async def ids(
        self, client: GHLClient, location_id: str, *, fresh: bool = False
    ) -> dict[str, str]:
        cached = self._cache.get(location_id)
        if cached and not fresh and cached[0] > self._clock():
            return cached[1]
        lock = self._locks.setdefault(location_id, asyncio.Lock())
        async with lock:
            cached = self._cache.get(location_id)
            if cached and not fresh and cached[0] > self._clock():
                return cached[1]
            data = await client.call(FIELDS_OP, {"locationId": location_id, "model": "contact"})
            self.lookups += 1
            mapping: dict[str, str] = {}
            for field in (data or {}).get("customFields") or []:
                if not isinstance(field, dict) or not field.get("id"):
                    continue
                key = str(field.get("fieldKey") or "")
                if key:
                    mapping[key] = str(field["id"])
                    mapping.setdefault(_short_key(key), str(field["id"]))
            self._cache[location_id] = (self._clock() + self._ttl, mapping)
            return mapping

    async def resolve(
        self, client: GHLClient, location_id: str, values: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """GHL's ``customFields`` list for ``{key: value}``; `UnknownCustomFieldError` if a
        key is not a field of the location even after a fresh look-up."""
        ids = await self.ids(client, location_id)
        if any(k not in ids for k in values):
            ids = await self.ids(client, location_id, fresh=True)
        out = []
        for key, value in values.items():
            if key not in ids:
                raise UnknownCustomFieldError(key, location_id, list(ids))
            out.append({"id": ids[key], "field_value": value})
        return out


__all__ = ["CustomFieldResolver", "UnknownCustomFieldError"]
