"""Dotted paths into JSON values and schemas (the catalog names list items as ``results.tags``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ghlbridge.catalog.model import Schema


def schema_at(schema: Schema | None, path: str) -> Schema | None:
    """The sub-schema at a dotted property path; ``""`` is the schema itself."""
    node = schema
    for part in path.split(".") if path else []:
        if not isinstance(node, dict):
            return None
        node = (node.get("properties") or {}).get(part)
    return node if isinstance(node, dict) else None


def set_path(value: Any, path: str, new: Any) -> Any:
    """Set `new` at a dotted path inside `value` (dicts created on the way); returns the root."""
    if not path:
        return new
    if not isinstance(value, dict):
        value = {}
    node = value
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = new
    return value


def deep_merge(base: Any, overlay: Mapping[str, Any]) -> Any:
    """`overlay` on top of `base`, merging nested dicts; other values are replaced."""
    if not isinstance(base, dict):
        return dict(overlay)
    out = dict(base)
    for key, val in overlay.items():
        if isinstance(val, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], val)
        else:
            out[key] = val
    return out
