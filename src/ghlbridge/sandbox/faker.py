"""Spec-shaped, deterministic answers for every operation the sandbox holds no state for.

Values follow the op's response schema: examples where the spec gives one of the right type,
enum members, 20-character ids (24-hex where the spec's example is a Mongo id), ISO dates,
numbers within min/max. The same seed and the same request give the same answer. Values the
request names (path and query params, body fields, the location) are echoed into fields of
the same name, so ``GET /calendars/{calendarId}`` answers with that calendar's id.

A list operation answers from a virtual collection of `list_size` items, paged with the op's
own paging style, so paging clients can walk faked lists to their end.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ghlbridge.catalog import Operation
from ghlbridge.catalog.model import Schema
from ghlbridge.sandbox.ids import derive_seed, random_hex_id, random_id
from ghlbridge.sandbox.paging import Entry, window
from ghlbridge.sandbox.shapes import schema_at, set_path
from ghlbridge.sandbox.state import iso

MAX_DEPTH = 10
EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z: faked records date from 2024
YEAR_MS = 365 * 24 * 3600 * 1000
_HEX24 = re.compile(r"^[0-9a-f]{24}$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_WORDS = (
    "alpha", "bravo", "cedar", "delta", "ember", "falcon", "garnet", "harbor", "indigo",
    "juniper", "kestrel", "lumen", "maple", "nova", "onyx", "pioneer", "quartz", "river",
    "summit", "timber", "umber", "vertex", "willow", "zephyr",
)  # fmt: skip
_INHERITED = ("locationId", "companyId")
_CREATED_FIELDS = ("dateAdded", "createdAt", "dateCreated", "createdOn")


@dataclass(frozen=True, slots=True)
class FakeRequest:
    """What a faked answer may echo: the call's values, its location and its URL."""

    params: Mapping[str, Any]
    body: Any = None
    location_id: str | None = None
    company_id: str | None = None
    url: str = ""
    counter: int = 0
    path_params: Mapping[str, str] = field(default_factory=dict)


class SchemaFaker:
    def __init__(self, seed: int, *, list_size: int = 5) -> None:
        self.seed = seed
        self.list_size = list_size

    def rng(self, *parts: object) -> random.Random:
        return random.Random(derive_seed(self.seed, *parts))

    # -- whole answers --------------------------------------------------------------------
    def response(self, op: Operation, req: FakeRequest) -> Any:
        """The success body for `op`: None for a 204, `{}` where the spec gives no schema."""
        schema = op.response.schema
        if op.response.status == 204:
            return None
        if not schema:
            return {}
        echo = self._echo(op, req)
        rng = self.rng(op.id, "response", _fingerprint(req))
        items_path = op.response.items
        if op.is_list and items_path is not None:
            return self._list(op, schema, items_path, req, echo, rng)
        return self.value(schema, rng, echo=echo)

    def _echo(self, op: Operation, req: FakeRequest) -> dict[str, Any]:
        echo: dict[str, Any] = {}
        if isinstance(req.body, Mapping):
            echo.update({k: v for k, v in req.body.items() if _echoable(v)})
        echo.update({k: v for k, v in req.params.items() if _echoable(v)})
        if req.location_id:
            echo.setdefault("locationId", req.location_id)
        if req.company_id:
            echo.setdefault("companyId", req.company_id)
        last = op.path.rstrip("/").rsplit("/", 1)[-1]
        if last.startswith("{") and last[1:-1] in req.path_params:
            echo["id"] = echo["_id"] = req.path_params[last[1:-1]]
        return echo

    def _list(
        self,
        op: Operation,
        schema: Schema,
        items_path: str,
        req: FakeRequest,
        echo: dict[str, Any],
        rng: random.Random,
    ) -> Any:
        array_schema = schema_at(schema, items_path) or {}
        item_schema = array_schema.get("items") if isinstance(array_schema, dict) else None
        entries = self.list_entries(op, req.location_id or req.company_id or "")
        in_body = op.paging is not None and op.paging.in_body and isinstance(req.body, Mapping)
        args: Mapping[str, Any] = req.body if in_body else req.params
        query = {k: v for k, v in req.params.items() if k not in req.path_params}
        win = window(op, args, entries, next_url=req.url, query=query, strict=False)
        inherited = {k: echo[k] for k in _INHERITED if k in echo}
        items = [
            self.list_item(op, item_schema or {}, entry, inherited)
            for entry in entries[win.start : win.end]
        ]
        if not items_path:
            return items
        envelope_echo = {k: v for k, v in echo.items() if k not in ("id", "_id")}
        out = self.value(schema, rng, echo=envelope_echo)
        out = set_path(out, items_path, items)
        for path, value in win.fields.items():
            out = set_path(out, path, value)
        meta_schema = schema_at(schema, "meta")
        meta_props = (meta_schema or {}).get("properties") or {}
        if isinstance(out, dict) and isinstance(out.get("meta"), dict):
            out["meta"].update({k: v for k, v in win.meta.items() if k in meta_props})
        return out

    def list_entries(self, op: Operation, scope: str) -> list[Entry]:
        """The virtual collection behind a faked list: stable ids, one hour apart."""
        rng = self.rng(op.id, "entries", scope)
        return [Entry(random_id(rng), EPOCH_MS + i * 3_600_000) for i in range(self.list_size)]

    def list_item(
        self, op: Operation, item_schema: Schema, entry: Entry, echo: Mapping[str, Any]
    ) -> Any:
        item = self.value(item_schema, self.rng(op.id, "item", entry.id), echo=echo, depth=1)
        if isinstance(item, dict):
            props = item_schema.get("properties") or {}
            for id_field in ("id", "_id"):
                id_schema = props.get(id_field)
                if id_schema is not None:
                    if id_schema.get("type", "string") == "string" and not id_schema.get("enum"):
                        item[id_field] = entry.id
                    break
            for created in _CREATED_FIELDS:
                if (props.get(created) or {}).get("type") == "string":
                    item[created] = iso(entry.sort_ms)
                    break
        return item

    # -- single values --------------------------------------------------------------------
    def value(
        self,
        schema: Schema,
        rng: random.Random,
        *,
        name: str = "",
        echo: Mapping[str, Any] | None = None,
        depth: int = 0,
    ) -> Any:
        """A value valid for `schema`; `name` is the field it fills (ids, emails, dates)."""
        if depth > MAX_DEPTH or not isinstance(schema, dict):
            return None
        echoed = echo and name in echo and (name not in ("id", "_id") or depth <= 2)
        if echo and echoed and _fits(schema, echo[name]):
            return echo[name]
        for key in ("oneOf", "anyOf"):
            options = schema.get(key)
            if options:
                return self.value(options[0], rng, name=name, echo=echo, depth=depth)
        if schema.get("allOf"):
            return self.value(_merge_all_of(schema), rng, name=name, echo=echo, depth=depth)
        example = schema.get("example")
        enum = schema.get("enum")
        if enum:
            return example if example in enum else rng.choice(list(enum))
        typ = schema.get("type")
        if typ is None:
            typ = "object" if "properties" in schema else "array" if "items" in schema else None
        if typ == "object":
            return self._object(schema, rng, echo, depth)
        if typ == "array":
            return self._array(schema, rng, name, echo, depth)
        if typ == "string":
            return self._string(schema, rng, name)
        if typ in ("number", "integer"):
            return _number(schema, rng)
        if typ == "boolean":
            return example if isinstance(example, bool) else rng.random() < 0.5
        return example if example is not None else {}

    def _object(
        self, schema: Schema, rng: random.Random, echo: Mapping[str, Any] | None, depth: int
    ) -> Any:
        props: dict[str, Schema] = schema.get("properties") or {}
        if not props:
            example = schema.get("example")
            return dict(example) if isinstance(example, dict) else {}
        out = {
            pname: self.value(pschema, rng, name=pname, echo=echo, depth=depth + 1)
            for pname, pschema in props.items()
        }
        for pname in schema.get("required") or []:
            if out.get(pname) in (None, ""):
                # required but undeclared or faked empty: the spec promises a value
                sub = props.get(pname) or {"type": "string"}
                out[pname] = self.value(_without_example(sub), rng, name=pname, depth=depth + 1)
        return out

    def _array(
        self,
        schema: Schema,
        rng: random.Random,
        name: str,
        echo: Mapping[str, Any] | None,
        depth: int,
    ) -> list[Any]:
        items = schema.get("items")
        item_name = name[:-1] if name.endswith("s") else name
        example = schema.get("example")
        scalar_items = not isinstance(items, dict) or items.get("type") in (
            None, "string", "number", "integer", "boolean",
        )  # fmt: skip
        item_schema = items if isinstance(items, dict) else {}
        if (
            isinstance(example, list)
            and example
            and scalar_items
            and not _is_id_name(item_name)
            and all(isinstance(v, str | int | float | bool) for v in example)
            and all(_fits(item_schema, v) for v in example)
        ):
            return list(example)
        if not isinstance(items, dict):
            return []
        count = max(1, int(schema.get("minItems", 1)))
        if "maxItems" in schema:
            count = min(count, int(schema["maxItems"]))
        inherited = {k: echo[k] for k in _INHERITED if echo and k in echo}
        return [
            self.value(items, rng, name=item_name, echo=inherited, depth=depth + 1)
            for _ in range(count)
        ]

    def _string(self, schema: Schema, rng: random.Random, name: str) -> str:
        example = schema.get("example")
        lname = name.lower()
        if _is_id_name(name):
            if isinstance(example, str) and _HEX24.match(example):
                return random_hex_id(rng)
            return random_id(rng)
        if schema.get("format") == "date-time" or (
            isinstance(example, str) and _ISO.match(example)
        ):
            return iso(EPOCH_MS + rng.randrange(YEAR_MS))
        if schema.get("format") == "binary":
            return ""
        if isinstance(example, str):
            text = example
        elif isinstance(example, int | float) and not isinstance(example, bool):
            text = str(example)
        elif "email" in lname:
            text = f"{rng.choice(_WORDS)}.{rng.choice(_WORDS)}@example.com"
        elif lname.endswith("url") or lname in ("website", "link"):
            text = f"https://example.com/{rng.choice(_WORDS)}"
        elif "phone" in lname:
            text = "+1555" + "".join(rng.choices("0123456789", k=7))
        else:
            text = f"{rng.choice(_WORDS)} {rng.choice(_WORDS)}"
        min_len = int(schema.get("minLength", 0))
        if len(text) < min_len:
            text = text + "x" * (min_len - len(text))
        if "maxLength" in schema:
            text = text[: int(schema["maxLength"])]
        return text


def _echoable(value: Any) -> bool:
    """Scalars and lists of scalars; nested request objects rarely mean the response's."""
    scalar = (str, int, float, bool)
    if isinstance(value, list):
        return all(isinstance(v, scalar) for v in value)
    return isinstance(value, scalar)


def _is_id_name(name: str) -> bool:
    return name in ("id", "_id") or (name.endswith("Id") and len(name) > 2) or name.endswith("_id")


def _number(schema: Schema, rng: random.Random) -> int | float:
    example = schema.get("example")
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    if isinstance(example, int | float) and not isinstance(example, bool):
        within = (lo is None or example >= lo) and (hi is None or example <= hi)
        if within:
            return example
    low = int(lo) if lo is not None else 0
    high = int(hi) if hi is not None else low + 100
    return rng.randint(low, max(low, high))


def _fits(schema: Schema, value: Any) -> bool:
    """Whether a request value may stand in a response field of this schema."""
    enum = schema.get("enum")
    if enum and value not in enum:
        return False
    typ = schema.get("type")
    if typ is None:
        return not schema.get("properties")
    if typ == "string":
        return isinstance(value, str)
    if typ in ("number", "integer"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if typ == "boolean":
        return isinstance(value, bool)
    if typ == "array":
        return isinstance(value, list)
    if typ == "object":
        return isinstance(value, dict)
    return False


def _without_example(schema: Schema) -> Schema:
    return {k: v for k, v in schema.items() if k != "example"}


def _merge_all_of(schema: Schema) -> Schema:
    props: dict[str, Any] = {}
    required: list[str] = []
    for part in schema.get("allOf") or []:
        if isinstance(part, dict):
            props.update(part.get("properties") or {})
            required.extend(part.get("required") or [])
    return {"type": "object", "properties": props, "required": required}


def _fingerprint(req: FakeRequest) -> str:
    params = sorted((k, repr(v)) for k, v in req.params.items())
    return repr((params, repr(req.body), req.location_id, req.counter))
