"""Every catalog operation answers at its method and path for a minimal valid call built from
the catalog alone: a schema-faked op with its declared success status and a fitting body; an op
served from real state with that, or with GHL's shaped 4xx when the minimal call names records
that do not exist (their success paths are tested per resource, and GETs by the conformance
test against the official specs)."""

from __future__ import annotations

from typing import Any

from ghlbridge.catalog import Operation, load_catalog
from ghlbridge.catalog.model import Schema
from ghlbridge.sandbox import RateLimit, SandboxSettings
from ghlbridge.sandbox.handlers import HANDLERS
from ghlbridge.sandbox.router import RouteTable
from ghlbridge.sandbox.validation import schema_problems
from tests.sandbox.harness import Harness

_SAMPLE_ID = "abcdefghij0123456789"
RATE_HEADERS = (
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
)


class MinimalCall:
    """Builds the smallest valid params and body for an op, with ids the sandbox knows."""

    def __init__(self, h: Harness, known_ids: dict[str, str]) -> None:
        self.h = h
        self.known = {
            "locationId": h.sb.location_id,
            "location_id": h.sb.location_id,
            "companyId": h.sb.company_id,
            "altId": h.sb.location_id,
            **known_ids,
        }

    def params(self, op: Operation) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for p in op.params:
            if p.location == "path" or p.required:
                out[p.name] = self.value(p.schema, p.name)
        return out

    def body(self, op: Operation) -> Any:
        if op.body is None:
            return None
        return self.value(op.body.schema, "") if op.body.schema else {}

    def value(self, schema: Schema, name: str) -> Any:
        if name in self.known and schema.get("type", "string") == "string":
            return self.known[name]
        if name == "altType" and "location" in (schema.get("enum") or ["location"]):
            return "location"
        for key in ("oneOf", "anyOf"):
            if schema.get(key):
                return self.value(schema[key][0], name)
        if schema.get("enum"):
            return schema["enum"][0]
        typ = schema.get("type") or ("object" if "properties" in schema else "string")
        example = schema.get("example")
        if typ == "object":
            props = schema.get("properties") or {}
            return {r: self.value(props.get(r) or {}, r) for r in schema.get("required") or []}
        if typ == "array":
            items = schema.get("items") or {"type": "string"}
            return [self.value(items, name[:-1] if name.endswith("s") else name)]
        if typ in ("number", "integer"):
            lo, hi = schema.get("minimum"), schema.get("maximum")
            numeric = isinstance(example, int | float) and not isinstance(example, bool)
            if numeric and (lo is None or example >= lo) and (hi is None or example <= hi):
                return example
            return lo if lo is not None else 1
        if typ == "boolean":
            return False
        if schema.get("format") == "date-time":
            return "2024-01-01T00:00:00.000Z"
        if schema.get("format") == "binary":
            return b"file"
        if name.endswith("Id") or name == "id":
            return _SAMPLE_ID
        return example if isinstance(example, str) and example else "sample"


def _token_for(h: Harness, op: Operation) -> str:
    sb = h.sb
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


def _order(op: Operation) -> tuple[bool, bool]:
    """Deletes last, and the deletes of the shared contact and tag at the very end."""
    shared = op.id in ("contacts.delete_contact", "locations.delete_tag")
    return (op.method == "DELETE", shared)


def _ghl_shaped_refusal(status: int, body: Any) -> bool:
    return (
        status in (400, 403, 404, 422)
        and isinstance(body, dict)
        and body.get("statusCode") == status
        and bool(body.get("message"))
    )


async def test_every_operation_answers_its_success_status_and_schema_for_a_minimal_call(
    make_harness: Any,
) -> None:
    h: Harness = make_harness(SandboxSettings(seed=3, rate_limit=RateLimit(100_000, 10.0)))
    contact = (
        await h.call("contacts.create_contact", body={"locationId": h.sb.location_id})
    ).json()
    tag = (
        await h.call("locations.create_tag", {"locationId": h.sb.location_id}, {"name": "coverage"})
    ).json()
    builder = MinimalCall(h, {"contactId": contact["contact"]["id"], "tagId": tag["tag"]["id"]})
    refresh = h.sb.tokens.issue(
        h.sb.oauth_client, company_id=h.sb.company_id, location_id=h.sb.location_id, scopes=["x"]
    ).refresh_token
    special_bodies = {
        "oauth.get_access_token": {
            "client_id": h.sb.oauth_client.client_id,
            "client_secret": h.sb.oauth_client.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh,
        },
        "locations.update_tag": {"name": "coverage renamed"},
    }
    failures = []
    ops = sorted(load_catalog(), key=_order)
    assert len(ops) == 576
    for op in ops:
        body = special_bodies.get(op.id, builder.body(op))
        response = await h.send_op(op, builder.params(op), body, token=_token_for(h, op))
        if op.id in HANDLERS and response.status != op.response.status:
            if not _ghl_shaped_refusal(response.status, response.json()):
                failures.append(f"{op.id}: {response.status} {response.body[:300]!r}")
        elif response.status != op.response.status:
            failures.append(f"{op.id}: {response.status} {response.body[:300]!r}")
        elif op.id not in HANDLERS and op.response.schema and response.body:
            problems = schema_problems(op.response.schema, response.json())
            if problems:
                failures.append(f"{op.id}: answer does not fit its schema: {problems[:3]}")
        for name in RATE_HEADERS:
            if response.header(name) is None:
                failures.append(f"{op.id}: no {name} header")
    assert not failures, "\n".join(failures)


def test_route_table_resolves_every_operation_from_a_concrete_path() -> None:
    catalog = load_catalog()
    table = RouteTable(catalog)
    assert len(table) == len(catalog)
    for op in catalog:
        concrete = op.path
        for p in op.path_params:
            concrete = concrete.replace("{" + p.name + "}", f"v-{p.name}")
        match = table.match(op.method, concrete)
        assert match is not None and match.op.id == op.id, (op.id, concrete)
        assert match.path_params == {p.name: f"v-{p.name}" for p in op.path_params}


def test_route_table_prefers_literal_segments_and_ignores_trailing_slashes() -> None:
    table = RouteTable(load_catalog())
    search = table.match("GET", "/contacts/search/duplicate")
    assert search is not None and search.op.id == "contacts.get_duplicate_contact"
    by_id = table.match("GET", "/contacts/abc")
    assert by_id is not None and by_id.op.id == "contacts.get_contact"
    listing = table.match("GET", "/contacts")
    assert listing is not None and listing.op.id == "contacts.get_contacts"
    encoded = table.match("GET", "/contacts/a%2Fb")
    assert encoded is not None and encoded.path_params == {"contactId": "a/b"}
    assert table.match("PATCH", "/contacts/abc") is None


async def test_unknown_path_answers_ghl_404_with_rate_limit_headers(harness: Harness) -> None:
    response = await harness.request("GET", "/no/such/thing")
    assert response.status == 404
    assert response.json() == {
        "statusCode": 404,
        "message": "Cannot GET /no/such/thing",
        "error": "Not Found",
    }
    assert response.header("X-RateLimit-Remaining") == "99"
