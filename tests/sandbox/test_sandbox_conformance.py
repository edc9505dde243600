"""Every catalog GET, called on the in-process sandbox with minimal valid params, answers as the
OFFICIAL specs (``shared/ghl-openapi/apps``) say: a 2xx body that validates against the op's
response schema (``$ref`` inlined, OpenAPI ``nullable`` honoured, checked by `jsonschema`), or,
for ids the sandbox does not hold, a GHL-shaped 400/404; the five rate-limit headers on every
answer; 401 without a token; 4xx without the ``Version`` header the op requires.

The specs contradict themselves in places. These readings, kept here and nowhere else, take
them as GHL answers: a type the spec's own example contradicts also admits the example's type
(association labels typed ``object`` with the example ``"student"``); an enum wrapped in a list
is that list (as the catalog generator reads it); ``oneOf`` alternatives that do not exclude
each other read as ``anyOf``; a list's paging markers (next cursor, ``meta.nextPage``,
``meta.nextPageUrl`` ...) may be null, as GHL sends them on the last page; and `ERRATA` replaces
the few response schemas that describe a single item where GHL answers a list.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ghlbridge.catalog import Operation, load_catalog
from ghlbridge.catalog.generate import default_shared
from ghlbridge.catalog.model import Schema
from ghlbridge.client.transport import HttpResponse
from ghlbridge.sandbox import RateLimit, SandboxSettings
from ghlbridge.sandbox.handlers import objects, social_planner
from tests.sandbox.harness import Harness
from tests.sandbox.test_sandbox_objects import register_object_handlers

jsonschema = pytest.importorskip("jsonschema")

APPS = default_shared() / "ghl-openapi" / "apps"
pytestmark = pytest.mark.skipif(
    not APPS.is_dir(), reason=f"official GHL specs not found at {APPS} (set GHLBRIDGE_SHARED)"
)
RATE_HEADERS = (
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
)
UNKNOWN_ID = "zzzzzzzzzzzzzzzzzzzz"
_METHODS = frozenset({"get", "put", "post", "delete", "patch"})
_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


# -- the official specs as JSON Schema ---------------------------------------------------------
def _json_type(value: Any) -> str | None:
    return next((name for typ, name in _JSON_TYPES if isinstance(value, typ)), None)


def _admits(declared: Any, kind: str | None) -> bool:
    kinds = declared if isinstance(declared, list) else [declared]
    return kind is None or kind in kinds or (kind == "integer" and "number" in kinds)


def _with_type(schema: Schema, kind: str) -> None:
    current = schema["type"]
    kinds = current if isinstance(current, list) else [current]
    if kind not in kinds:
        schema["type"] = [*kinds, kind]


class SpecSchemas:
    """Success-response schemas of the official specs, by (method, path)."""

    def __init__(self, apps_dir: Path) -> None:
        self._docs: dict[Path, Any] = {}
        self._ops: dict[tuple[str, str], tuple[Path, dict[str, Any]]] = {}
        for file in sorted(apps_dir.glob("*.json")):
            for path, item in self._doc(file).get("paths", {}).items():
                for method, node in item.items():
                    if method in _METHODS:
                        self._ops[(method.upper(), path)] = (file.resolve(), node)

    def _doc(self, file: Path) -> Any:
        file = file.resolve()
        if file not in self._docs:
            self._docs[file] = json.loads(file.read_text(encoding="utf-8"))
        return self._docs[file]

    def __contains__(self, op: object) -> bool:
        return isinstance(op, Operation) and (op.method.upper(), op.path) in self._ops

    def response(self, op: Operation, status: int) -> tuple[bool, Schema | None]:
        """Whether the spec declares `status` for the op, and its JSON body schema if any."""
        file, node = self._ops[(op.method.upper(), op.path)]
        answer = (node.get("responses") or {}).get(str(status))
        if answer is None:
            return False, None
        if "$ref" in answer:
            file, answer = self._resolve(answer["$ref"], file)
        content = answer.get("content") or {}
        media = content.get("application/json") or next(iter(content.values()), None)
        if not isinstance(media, dict) or "schema" not in media:
            return True, None
        return True, self.schema(media["schema"], file)

    def _resolve(self, ref: str, base: Path) -> tuple[Path, Any]:
        target, _, pointer = ref.partition("#")
        file = (base.parent / target).resolve() if target else base
        node = self._doc(file)
        for part in pointer.strip("/").split("/") if pointer.strip("/") else []:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return file, node

    def schema(self, node: Any, base: Path, stack: tuple[str, ...] = ()) -> Schema:
        """`node` with references inlined (a cycle admits anything) and OpenAPI read as GHL."""
        if not isinstance(node, dict):
            return {}
        if "$ref" in node:
            key = f"{base}#{node['$ref']}"
            if key in stack:
                return {}
            file, target = self._resolve(str(node["$ref"]), base)
            return self.schema(target, file, (*stack, key))
        out: Schema = {}
        for name, value in node.items():
            if name in ("properties", "patternProperties"):
                out[name] = {k: self.schema(v, base, stack) for k, v in value.items()}
            elif name in ("items", "additionalProperties", "not") and isinstance(value, dict):
                out[name] = self.schema(value, base, stack)
            elif name in ("allOf", "oneOf", "anyOf"):
                key = "anyOf" if name == "oneOf" else name  # GHL's oneOf shapes overlap
                out[key] = [self.schema(v, base, stack) for v in value]
            elif name == "enum" and len(value) == 1 and isinstance(value[0], list):
                out[name] = list(value[0])
            elif name not in ("nullable", "description", "example", "examples", "format"):
                out[name] = value
        if out.get("type") == "any":
            del out["type"]
        self._read_example(out, node.get("example"))
        if node.get("nullable") is True:
            if "type" in out:
                _with_type(out, "null")
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        return out

    @staticmethod
    def _read_example(schema: Schema, example: Any) -> None:
        """Where the spec's own example contradicts its type, admit the example's type too."""
        if example is None or "type" not in schema:
            return
        kind = _json_type(example)
        if not _admits(schema["type"], kind) and kind is not None:
            _with_type(schema, kind)
        items = schema.get("items")
        if isinstance(example, list) and isinstance(items, dict) and "type" in items:
            for value in example:
                kind = _json_type(value)
                if kind is not None and not _admits(items["type"], kind):
                    _with_type(items, kind)


def _listing(name: str, item: Callable[[Schema], Schema]) -> Callable[[Schema], Schema]:
    def corrected(spec: Schema) -> Schema:
        return {
            "type": "object",
            "required": [name],
            "properties": {
                name: {"type": "array", "items": item(spec)},
                "total": {"type": "number"},
                "traceId": {"type": "string"},
            },
        }

    return corrected


def _relation(association: Schema) -> Schema:
    """A relation as GHL's RelationCreate webhook page documents it (ids are strings)."""
    ids = ("id", "associationId", "firstRecordId", "secondRecordId", "locationId")
    keys = ("firstObjectKey", "secondObjectKey")
    return {
        "type": "object",
        "required": list(ids),
        "properties": {name: {"type": "string"} for name in (*ids, *keys)},
    }


def _stages_are_objects(spec: Schema) -> Schema:
    stages = spec["properties"]["pipelines"]["items"]["properties"]["stages"]
    stages["items"] = {"type": ["object", "array"]}  # GHL's objects, or the spec's arrays
    return spec


ERRATA: dict[str, tuple[str, Callable[[Schema], Schema]]] = {
    "associations.find_associations": (
        "a skip/limit list typed as one association; GHL answers {associations: [...]}",
        _listing("associations", lambda association: association),
    ),
    "associations.get_association_by_object_keys": (
        "all associations of an object typed as one; GHL answers {associations: [...]}",
        _listing("associations", lambda association: association),
    ),
    "associations.get_relations_by_record_id": (
        "a record's relations typed as one association; GHL answers {relations: [...]}",
        _listing("relations", _relation),
    ),
    "opportunities.get_pipelines": (
        "pipeline stages typed as arrays; GHL answers stage objects {id, name, position, ...}",
        _stages_are_objects,
    ),
}
"""Official response schemas that describe a single item where GHL answers a list."""


_META_MARKERS = ("nextPage", "prevPage", "nextPageUrl", "startAfter", "startAfterId")
_MARKER_ROLES = ("next_field", "next_id_field", "next_url_field")


def _markers_may_be_null(op: Operation, spec: Schema) -> Schema:
    """On the last page GHL sends the next-page markers as null; the specs never say so."""
    if op.paging is None:
        return spec
    paths = [op.paging.params[r] for r in _MARKER_ROLES if r in op.paging.params]
    paths += [f"meta.{name}" for name in _META_MARKERS]
    for path in paths:
        node: Any = spec
        for part in path.split("."):
            node = (node.get("properties") or {}).get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and "type" in node:
            _with_type(node, "null")
    return spec


# -- minimal calls ---------------------------------------------------------------------------
_ID_NAMES = frozenset({"id", "key", "key_name", "objectKey", "schemaKey"})
EXTRA_PARAMS: dict[str, dict[str, str]] = {
    # GHL needs one of calendarId, userId or groupId, though the spec marks all three optional
    "calendars.get_blocked_slots": {"calendarId": UNKNOWN_ID},
    "calendars.get_calendar_events": {"calendarId": UNKNOWN_ID},
}


def _is_id(name: str) -> bool:
    return name in _ID_NAMES or name.endswith(("Id", "_id"))


class Caller:
    """Minimal valid calls: known ids where the sandbox holds the record, else unknown ones."""

    def __init__(self, h: Harness, known: dict[str, str], per_op: dict[str, dict[str, str]]):
        self.h = h
        self.known = known
        self.per_op = per_op

    def params(self, op: Operation) -> tuple[dict[str, Any], bool]:
        """The op's params, and whether every id among them names a record the sandbox has."""
        chosen = {**self.known, **self.per_op.get(op.id, {})}
        out: dict[str, Any] = {}
        all_known = True
        for p in op.params:
            if p.location == "header" or not (p.location == "path" or p.required):
                continue
            if p.name in chosen and p.type == "string":
                out[p.name] = chosen[p.name]
                continue
            value = self.value(p.schema, p.name)
            named = value if isinstance(value, list) else [value]
            all_known = all_known and UNKNOWN_ID not in named
            out[p.name] = value
        extra = EXTRA_PARAMS.get(op.id, {})
        out.update(extra)
        return out, all_known and UNKNOWN_ID not in extra.values()

    def value(self, schema: Schema, name: str) -> Any:
        example = schema.get("example")
        if name == "altType":
            return "location"
        if schema.get("enum"):
            return schema["enum"][0]
        typ = schema.get("type", "string")
        if name in ("skip", "offset"):
            return 0
        if name in ("limit", "pageLimit", "pageSize"):
            return 10
        if typ in ("number", "integer"):
            numeric = isinstance(example, int | float) and not isinstance(example, bool)
            return example if numeric else schema.get("minimum", 1)
        if typ == "boolean":
            return False
        if typ == "array":
            items = schema.get("items") or {"type": "string"}
            return [self.value(items, name.removesuffix("s"))]
        if _is_id(name):
            return UNKNOWN_ID
        if isinstance(example, str) and example:
            return example
        return "2024-01-01T00:00:00.000Z" if schema.get("format") == "date-time" else "sample"

    def token(self, op: Operation) -> str:
        sb = self.h.sb
        agency = op.token_type == "agency"
        if op.oauth_only:
            pair = sb.tokens.issue(
                sb.oauth_client,
                company_id=sb.company_id,
                location_id=None if agency else sb.location_id,
                scopes=sb.all_scopes,
            )
            return pair.access.value
        return sb.agency_token.value if agency else sb.location_token.value


@pytest.fixture
def caller(monkeypatch: pytest.MonkeyPatch) -> Caller:
    register_object_handlers(monkeypatch)
    h = Harness(SandboxSettings(seed=11, rate_limit=RateLimit(1_000_000, 10.0)))
    loc = h.sb.location()
    social_tag = next(iter(loc.collection(social_planner.SOCIAL_TAGS)))
    known = {
        "locationId": loc.id,
        "location_id": loc.id,
        "companyId": h.sb.company_id,
        "altId": loc.id,
        "tagId": social_tag["_id"],
    }
    return Caller(h, known, {})


async def _setup(c: Caller) -> None:
    """Records the GETs can name: a contact, a location tag, and the seeded objects."""
    h, loc = c.h, c.h.sb.location()
    contact = await h.call("contacts.create_contact", body={"locationId": loc.id})
    tag = await h.call("locations.create_tag", {"locationId": loc.id}, {"name": "conformance"})
    assert contact.status < 300 and tag.status < 300, (contact.body, tag.body)
    contact_id = contact.json()["contact"]["id"]
    pet = next(r for r in loc.collection(objects.RECORDS) if r["objectKey"] == objects.DEMO_OBJECT)
    association = (
        await h.call(
            "associations.get_association_key_by_key_name",
            {"key_name": "contact_business", "locationId": loc.id},
        )
    ).json()
    c.known["contactId"] = contact_id
    c.per_op.update(
        {
            "locations.get_tag_by_id": {"tagId": tag.json()["tag"]["id"]},
            "objects.get_object_schema_by_key": {"key": objects.DEMO_OBJECT},
            "objects.get_record_by_id": {"schemaKey": objects.DEMO_OBJECT, "id": pet["id"]},
            "associations.get_association_by_id": {"associationId": association["id"]},
            "associations.get_association_key_by_key_name": {"key_name": "contact_business"},
            "associations.get_association_by_object_keys": {"objectKey": "contact"},
            "associations.get_relations_by_record_id": {"recordId": contact_id},
        }
    )


def _gets() -> list[Operation]:
    return sorted((op for op in load_catalog() if op.method == "GET"), key=lambda op: op.id)


def _ghl_error(response: HttpResponse) -> str | None:
    """What is wrong with an error answer's shape (GHL's ``{statusCode, message}``), if any."""
    try:
        body = response.json()
    except ValueError:
        return f"error body is not JSON: {response.body[:120]!r}"
    if not isinstance(body, dict) or body.get("statusCode") != response.status:
        return f"error body lacks statusCode {response.status}: {body!r:.200}"
    message = body.get("message")
    if not (isinstance(message, str) or (isinstance(message, list) and message)):
        return f"error body lacks a message: {body!r:.200}"
    return None


def _missing_headers(response: HttpResponse) -> list[str]:
    return [name for name in RATE_HEADERS if response.header(name) is None]


def _problems(specs: SpecSchemas, op: Operation, response: HttpResponse, known: bool) -> list[str]:
    out = [f"no {name} header" for name in _missing_headers(response)]
    status = response.status
    if 200 <= status < 300:
        declared, schema = specs.response(op, status)
        if not declared:
            return [*out, f"answers {status}, which the spec does not declare"]
        if op.id in ERRATA and schema is not None:
            schema = ERRATA[op.id][1](schema)
        if schema is not None:
            schema = _markers_may_be_null(op, schema)
        if schema is not None and response.body:
            validator = jsonschema.Draft4Validator(schema)
            errors = sorted(validator.iter_errors(response.json()), key=lambda e: list(e.path))
            out += [
                f"body at {'/'.join(map(str, e.path)) or '.'}: {e.message[:160]}"
                for e in errors[:3]
            ]
        return out
    if known or status not in (400, 404):
        return [*out, f"answers {status}: {response.body[:200]!r}"]
    shape = _ghl_error(response)
    return [*out, shape] if shape else out


async def test_every_get_answers_a_spec_valid_body_or_a_ghl_error_for_unknown_ids(
    caller: Caller,
) -> None:
    await _setup(caller)
    specs = SpecSchemas(APPS)
    failures: list[str] = []
    served = refused = 0
    for op in _gets():
        params, known = caller.params(op)
        response = await caller.h.call(op.id, params, token=caller.token(op))
        served += 200 <= response.status < 300
        refused += response.status >= 400
        failures += [f"{op.id}: {p}" for p in _problems(specs, op, response, known)]
    print(f"conformance: {served} GETs answered 2xx, {refused} refused unknown ids")
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures)


async def test_every_get_without_a_token_answers_401_with_rate_headers(caller: Caller) -> None:
    failures: list[str] = []
    for op in _gets():
        params, _ = caller.params(op)
        response = await caller.h.call(op.id, params, token=None)
        if response.status != 401:
            failures.append(f"{op.id}: {response.status} without a token")
        elif shape := _ghl_error(response):
            failures.append(f"{op.id}: {shape}")
        failures += [f"{op.id}: no {name} header" for name in _missing_headers(response)]
    assert not failures, "\n".join(failures)


async def test_every_get_that_declares_a_version_refuses_a_request_without_one(
    caller: Caller,
) -> None:
    failures: list[str] = []
    for op in _gets():
        if op.version is None:
            continue
        params, _ = caller.params(op)
        response = await caller.h.call(op.id, params, token=caller.token(op), version=None)
        if not 400 <= response.status < 500:
            failures.append(f"{op.id}: {response.status} without a Version header")
        elif shape := _ghl_error(response):
            failures.append(f"{op.id}: {shape}")
        failures += [f"{op.id}: no {name} header" for name in _missing_headers(response)]
    assert not failures, "\n".join(failures)


def test_every_catalog_operation_is_in_the_official_specs() -> None:
    specs = SpecSchemas(APPS)
    missing = [op.id for op in load_catalog() if op not in specs]
    assert not missing
