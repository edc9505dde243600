"""The client's one request path, end to end through the in-process transport."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ghlbridge.catalog import load_catalog
from ghlbridge.client import (
    AuthError,
    BadRequestError,
    ConnectError,
    GHLClient,
    HandlerTransport,
    HttpRequest,
    HttpResponse,
    NotFoundError,
    ServerError,
    ValidationError,
)
from ghlbridge.client.retry import RetryPolicy

Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.0, max_delay=0.0)
RATE_HEADERS = {
    "X-RateLimit-Max": "100000",
    "X-RateLimit-Remaining": "99999",
    "X-RateLimit-Interval-Milliseconds": "10000",
    "X-RateLimit-Limit-Daily": "200000",
    "X-RateLimit-Daily-Remaining": "199999",
}


def reply(status: int, body: Any = None, **headers: str) -> HttpResponse:
    raw = b"" if body is None else json.dumps(body).encode()
    return HttpResponse(
        status, {"Content-Type": "application/json", **RATE_HEADERS, **headers}, raw
    )


class Recorder:
    """An in-process GHL stand-in: answers from a script and records every request."""

    def __init__(self, answers: list[HttpResponse | Exception] | None = None) -> None:
        self.requests: list[HttpRequest] = []
        self.answers = list(answers or [])

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else reply(200, {"ok": True})
        if isinstance(answer, Exception):
            raise answer
        return answer


def client_for(handler: Handler, **kw: Any) -> GHLClient:
    kw.setdefault("retry", FAST_RETRY)
    return GHLClient(
        "pit-token", base_url="http://ghl.test", transport=HandlerTransport(handler), **kw
    )


async def test_sends_the_operations_own_version_header_and_bearer_token() -> None:
    rec = Recorder()
    async with client_for(rec) as client:
        await client.call("contacts.get_contact", {"contactId": "abc"})
        await client.call("calendars.get_calendars", {"locationId": "loc1"})
    contact_req, calendar_req = rec.requests
    assert contact_req.headers["Version"] == "2021-07-28"
    assert calendar_req.headers["Version"] == "2021-04-15"
    assert contact_req.headers["Authorization"] == "Bearer pit-token"
    assert contact_req.url == "http://ghl.test/contacts/abc"


async def test_every_operation_gets_its_catalog_version() -> None:
    """One call per operation with a Version: the header always equals the catalog's value."""
    rec = Recorder()
    catalog = load_catalog()
    async with client_for(rec) as client:
        for op in catalog:
            params = {p.name: _sample(p.schema) for p in op.params if p.required}
            body = _sample(op.body.schema) if op.body and op.body.schema.get("required") else None
            await client._send(op, params, body)
    assert len(rec.requests) == len(catalog)
    for op, req in zip(catalog, rec.requests, strict=True):
        assert req.headers.get("Version") == op.version, op.id


def _sample(schema: dict[str, Any]) -> Any:
    """A minimal value that satisfies `schema` (required fields only)."""
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            return _sample(schema[key][0])
    typ = schema.get("type", "object" if "properties" in schema else "string")
    if typ == "object":
        props = schema.get("properties") or {}
        return {name: _sample(props.get(name, {})) for name in schema.get("required") or []}
    if typ == "array":
        return [_sample(schema.get("items") or {})]
    return {"integer": 1, "number": 1, "boolean": True}.get(typ, "x")


async def test_v3_mode_sends_v3_where_the_v3_spec_lists_the_operation() -> None:
    rec = Recorder()
    catalog = load_catalog()
    v3_op = catalog.get("contacts.search_contacts_advanced")
    assert v3_op.version_v3 == "v3"
    dated = catalog.get("ad_manager.fb_add_custom_audience_member")
    async with client_for(rec, version_mode="v3", location_id="L") as client:
        await client.call(v3_op.id, body={"locationId": "L"})
        await client.call(
            dated.id, {"audienceId": "a1"}, body={"contactId": "c", "fbAdAccountId": "a"}
        )
    assert rec.requests[0].headers["Version"] == "v3"
    assert rec.requests[1].headers["Version"] == dated.version_v3 == "2021-07-28"


async def test_missing_required_param_names_it_and_sends_nothing() -> None:
    rec = Recorder()
    async with client_for(rec) as client:
        with pytest.raises(ValidationError) as err:
            await client.call("contacts.get_contact", {})
    assert err.value.field == "contactId"
    assert "contacts.get_contact" in str(err.value)
    assert rec.requests == []


async def test_wrong_type_enum_and_unknown_param_are_refused_before_sending() -> None:
    rec = Recorder()
    async with client_for(rec) as client:
        with pytest.raises(ValidationError, match="limit: expected"):
            await client.call("contacts.get_contacts", {"locationId": "l", "limit": "ten"})
        enum_op = next(
            op for op in load_catalog() if op.method == "GET" and any(p.enum for p in op.params)
        )
        enum_param = next(p for p in enum_op.params if p.enum)
        params = {p.name: "x" for p in enum_op.params if p.required}
        params[enum_param.name] = "definitely-not-allowed"
        with pytest.raises(ValidationError, match="is not one of"):
            await client.call(enum_op.id, params)
        with pytest.raises(ValidationError, match="did you mean 'contactId'"):
            await client.call("contacts.get_contact", {"contactID": "x"})
    assert rec.requests == []


async def test_body_is_checked_against_the_schema() -> None:
    rec = Recorder()
    op = load_catalog().get("contacts.create_contact")
    required = op.body.schema["required"] if op.body else []
    assert required, "create_contact declares required body fields"
    async with client_for(rec) as client:
        with pytest.raises(ValidationError, match=rf"body\.{required[0]}: missing required field"):
            await client.call(
                "contacts.create_contact",
                body={"email": "a@b.c"} if required[0] != "email" else {"firstName": "x"},
            )
        with pytest.raises(ValidationError, match=r"body\.email: expected string"):
            await client.call("contacts.create_contact", body={"locationId": "l", "email": 5})
    assert rec.requests == []


async def test_query_params_are_coerced_and_encoded() -> None:
    rec = Recorder([reply(200, {"contacts": []})])
    async with client_for(rec) as client:
        await client.call("contacts.get_contacts", {"locationId": "loc 1", "limit": "5"})
    query = parse_qs(urlsplit(rec.requests[0].url).query)
    assert query == {"locationId": ["loc 1"], "limit": ["5"]}


async def test_location_id_defaults_from_the_client() -> None:
    rec = Recorder([reply(200, {"contacts": []}), reply(201, {"contact": {}})])
    async with client_for(rec, location_id="LOC123") as client:
        await client.call("contacts.get_contacts")
        await client.call("contacts.create_contact", body={"email": "a@b.c"})
    assert "locationId=LOC123" in rec.requests[0].url
    assert json.loads(rec.requests[1].body or b"{}")["locationId"] == "LOC123"


async def test_get_is_retried_on_503_and_connection_errors() -> None:
    rec = Recorder(
        [
            reply(503, {"message": "busy"}),
            ConnectError("refused"),
            reply(200, {"contact": {"id": "1"}}),
        ]
    )
    async with client_for(rec) as client:
        result = await client.call("contacts.get_contact", {"contactId": "1"})
        assert client.stats.retries == 2
    assert result == {"contact": {"id": "1"}}
    assert len(rec.requests) == 3


async def test_a_write_is_not_retried_after_a_503_but_is_after_a_429() -> None:
    rec = Recorder([reply(503, {"message": "busy"})])
    async with client_for(rec, location_id="L") as client:
        with pytest.raises(ServerError, match="HTTP 503: busy"):
            await client.call("contacts.create_contact", body={"email": "a@b.c"})
    assert len(rec.requests) == 1

    rec = Recorder(
        [
            reply(
                429,
                {"statusCode": 429, "message": "Too many"},
                **{"Retry-After": "0", "X-RateLimit-Interval-Milliseconds": "50"},
            ),
            reply(201, {"contact": {}}),
        ]
    )
    async with client_for(rec, location_id="L") as client:
        await client.call("contacts.create_contact", body={"email": "a@b.c"})
        assert client.stats.rate_limited == 1
    assert len(rec.requests) == 2


async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    rec = Recorder([reply(502, {"message": "bad gateway"})] * 10)
    async with client_for(rec) as client:
        with pytest.raises(ServerError) as err:
            await client.call("contacts.get_contact", {"contactId": "1"})
    assert err.value.status == 502
    assert len(rec.requests) == FAST_RETRY.max_attempts


async def test_errors_are_typed_and_carry_status_message_and_missing_scope() -> None:
    rec = Recorder(
        [
            reply(404, {"statusCode": 404, "message": "Contact not found"}),
            reply(
                401, {"statusCode": 401, "message": "The token is not authorized for this scope."}
            ),
            reply(
                422,
                {
                    "statusCode": 422,
                    "message": ["email must be an email"],
                    "error": "Unprocessable",
                },
            ),
        ]
    )
    async with client_for(rec, location_id="L") as client:
        with pytest.raises(NotFoundError, match="Contact not found") as nf:
            await client.call("contacts.get_contact", {"contactId": "1"})
        assert nf.value.status == 404
        with pytest.raises(AuthError) as auth:
            await client.call("contacts.get_contact", {"contactId": "1"})
        assert auth.value.missing_scope == "contacts.readonly"
        assert "needs scope: contacts.readonly" in str(auth.value)
        with pytest.raises(BadRequestError, match="email must be an email"):
            await client.call("contacts.create_contact", body={"email": "x"})


async def test_bad_input_never_reaches_the_network_even_for_unknown_ops() -> None:
    rec = Recorder()
    async with client_for(rec) as client:
        with pytest.raises(LookupError, match=r"did you mean contacts\.get_contact\b"):
            await client.call("contacts.get_contactt", {})
    assert rec.requests == []
