"""The generic HTTP app connector against a local app: auth presets, retries, paths, mapping."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ghlbridge.client.retry import RetryPolicy
from ghlbridge.connectors.http import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    HmacAuth,
    HttpApp,
    HttpAppClient,
    HttpConfigError,
    HttpResult,
    HttpStatusError,
    MappingError,
    OAuth2ClientCredentials,
    OAuth2TokenError,
    map_response,
)
from tests.connectors.app_server import AppServer

FAST = RetryPolicy(max_attempts=3, base_delay=0.0)


@pytest.fixture
async def server() -> AsyncIterator[AppServer]:
    async with AppServer() as srv:
        yield srv


def local(server: AppServer, **kw: Any) -> HttpApp:
    return HttpApp(**{"base_url": server.base_url, "allow_private": True, "retry": FAST, **kw})


async def echo(app: HttpApp, **kw: Any) -> dict[str, Any]:
    async with HttpAppClient(app) as client:
        result = await client.request("POST" if "json" in kw else "GET", "/echo", **kw)
    assert isinstance(result.json, dict)
    return result.json


async def test_api_key_in_a_header(server: AppServer) -> None:
    seen = await echo(local(server, auth=ApiKeyAuth("k-123", name="X-App-Key")))
    assert seen["headers"]["X-App-Key"] == "k-123"


async def test_api_key_in_the_query(server: AppServer) -> None:
    seen = await echo(local(server, auth=ApiKeyAuth("k-123", name="api_key", location="query")))
    assert seen["query"] == {"api_key": ["k-123"]} and "X-API-Key" not in seen["headers"]


async def test_bearer_token(server: AppServer) -> None:
    seen = await echo(local(server, auth=BearerAuth("b-tok")))
    assert seen["headers"]["Authorization"] == "Bearer b-tok"


async def test_basic_auth(server: AppServer) -> None:
    seen = await echo(local(server, auth=BasicAuth("ana", "p:ss wörd")))
    raw = base64.b64decode(seen["headers"]["Authorization"].removeprefix("Basic "))
    assert raw.decode() == "ana:p:ss wörd"


async def test_hmac_signs_the_exact_body(server: AppServer) -> None:
    seen = await echo(
        local(server, auth=HmacAuth("hs", header="X-Sig", prefix="sha256=")), json={"a": 1}
    )
    expected = hmac.new(b"hs", seen["body"].encode(), hashlib.sha256).hexdigest()
    assert seen["body"] == '{"a":1}' and seen["headers"]["X-Sig"] == f"sha256={expected}"


async def test_hmac_with_a_timestamp_header_signs_timestamp_dot_body(server: AppServer) -> None:
    app = local(server, auth=HmacAuth("hs", header="X-Sig", timestamp_header="X-Ts"))
    async with HttpAppClient(app, wall_clock=lambda: 1_700_000_000.9) as client:
        seen = (await client.request("POST", "/echo", json=[1, 2])).json
    assert seen["headers"]["X-Ts"] == "1700000000"
    expected = hmac.new(b"hs", b"1700000000.[1,2]", hashlib.sha256).hexdigest()
    assert seen["headers"]["X-Sig"] == expected


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def oauth(server: AppServer, **kw: Any) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        f"{server.base_url}/oauth/token", server.client_id, server.client_secret, **kw
    )


async def test_client_credentials_token_is_fetched_once_under_concurrency_and_after_expiry(
    server: AppServer,
) -> None:
    server.expires_in = 600
    clock = Clock()
    async with HttpAppClient(
        local(server, auth=oauth(server, scope="read write")), clock=clock
    ) as client:
        first = await asyncio.gather(*(client.request("GET", "/protected") for _ in range(25)))
        assert len(server.token_requests) == 1
        assert {r.json["token"] for r in first} == {"tok-1"}
        clock.now += 575  # inside the 30 s refresh margin of the 600 s token
        second = await asyncio.gather(*(client.request("GET", "/protected") for _ in range(25)))
    assert len(server.token_requests) == 2  # exactly one refresh for 25 concurrent callers
    assert {r.json["token"] for r in second} == {"tok-2"}
    assert server.token_requests[0] == {
        "form": {"grant_type": "client_credentials", "scope": "read write"},
        "basic": True,
    }


async def test_client_credentials_in_the_body_when_asked(server: AppServer) -> None:
    async with HttpAppClient(local(server, auth=oauth(server, client_auth="body"))) as client:
        assert (await client.request("GET", "/protected")).json["ok"] is True
    assert server.token_requests[0]["basic"] is False
    assert server.token_requests[0]["form"]["client_id"] == "cid"


async def test_revoked_token_is_refetched_once_on_401(server: AppServer) -> None:
    async with HttpAppClient(local(server, auth=oauth(server))) as client:
        await client.request("GET", "/protected")
        server.revoked.add("tok-1")
        results = await asyncio.gather(*(client.request("GET", "/protected") for _ in range(5)))
    assert {r.json["token"] for r in results} == {"tok-2"}
    assert len(server.token_requests) == 2


async def test_token_endpoint_refusal_is_oauth_error_without_the_secret(server: AppServer) -> None:
    auth = OAuth2ClientCredentials(f"{server.base_url}/oauth/token", "cid", "wrong-secret-xyz")
    async with HttpAppClient(local(server, auth=auth)) as client:
        with pytest.raises(OAuth2TokenError) as info:
            await client.request("GET", "/protected")
    assert "HTTP 401: invalid_client bad client credentials" in str(info.value)
    assert "wrong-secret-xyz" not in str(info.value)


async def test_get_is_retried_on_503(server: AppServer) -> None:
    server.flaky = 2
    async with HttpAppClient(local(server)) as client:
        result = await client.request("GET", "/flaky")
    assert result.status == 200 and len(server.requests) == 3


async def test_post_without_idempotency_key_is_not_retried(server: AppServer) -> None:
    server.flaky = 1
    async with HttpAppClient(local(server)) as client:
        with pytest.raises(HttpStatusError) as info:
            await client.request("POST", "/flaky", json={"x": 1})
    assert info.value.status == 503 and "POST /flaky: HTTP 503: try later" in str(info.value)
    assert len(server.requests) == 1


async def test_post_with_idempotency_key_is_retried_with_the_same_key(server: AppServer) -> None:
    server.flaky = 2
    async with HttpAppClient(local(server)) as client:
        result = await client.request("POST", "/flaky", json={"x": 1}, idempotency_key="op-42")
    assert result.ok
    keys = [r["headers"].get("Idempotency-Key") for r in server.requests[:2]]
    assert keys == ["op-42", "op-42"] and result.json["headers"]["Idempotency-Key"] == "op-42"


async def test_error_status_can_be_returned_instead_of_raised(server: AppServer) -> None:
    server.flaky = 1
    app = local(server, retry=RetryPolicy(max_attempts=1))
    async with HttpAppClient(app) as client:
        result = await client.request("GET", "/flaky", raise_for_status=False)
    assert result.status == 503 and not result.ok and result.json == {"message": "try later"}


async def test_path_template_query_and_default_headers(server: AppServer) -> None:
    app = local(server, headers={"X-Tenant": "t1"})
    async with HttpAppClient(app) as client:
        result = await client.request(
            "GET",
            "/echo/contacts/{id}/notes/{note}",
            path_params={"id": "a/b c", "note": 7},
            query={"tag": ["x", "y"], "active": True, "skip": None},
            headers={"X-Extra": "1"},
        )
    seen = result.json
    assert seen["path"] == "/echo/contacts/a%2Fb%20c/notes/7"
    assert seen["query"] == {"tag": ["x", "y"], "active": ["true"]}
    assert seen["headers"]["X-Tenant"] == "t1" and seen["headers"]["X-Extra"] == "1"
    assert result.header("x-request-count") == "1"


@pytest.mark.parametrize(
    ("template", "params", "words"),
    [
        ("/c/{id}", {}, "missing path parameter 'id'"),
        ("/c", {"id": 1}, "has no {id}"),
        ("https://evil.test/x", {}, "relative to base_url"),
        ("//evil.test/x", {}, "relative to base_url"),
        ("/c/{id}", {"id": ".."}, "id may not be '..'"),
        ("/c?x=1", {}, "query goes in `query`"),
    ],
)
async def test_bad_path_templates_are_refused_before_sending(
    server: AppServer, template: str, params: dict[str, Any], words: str
) -> None:
    async with HttpAppClient(local(server)) as client:
        with pytest.raises(HttpConfigError, match=words.replace("?", r"\?").replace("{", r"\{")):
            await client.request("GET", template, path_params=params)
    assert server.requests == []


def test_map_response_picks_dotted_paths_indices_status_and_headers() -> None:
    result = HttpResult(
        201,
        {"X-Id": "h1"},
        "",
        {"data": {"contact": {"id": "c1", "tags": ["a", "b"]}}, "items": [{"n": 1}, {"n": 2}]},
    )
    mapping = {
        "id": "data.contact.id",
        "second_tag": "data.contact.tags.1",
        "last_n": "items.-1.n",
        "status": "$status",
        "header": "$headers.x-id",
        "missing": "data.nope.id",
        "whole": "",
    }
    out = map_response(result, mapping)
    assert out == {
        "id": "c1",
        "second_tag": "b",
        "last_n": 2,
        "status": 201,
        "header": "h1",
        "missing": None,
        "whole": result.json,
    }
    with pytest.raises(MappingError, match=r"missing: 'data\.nope\.id' is not in the response"):
        map_response(result, {"missing": "data.nope.id"}, strict=True)


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"base_url": "ftp://x.test"}, "base_url"),
        ({"base_url": "https://x.test/?k=1"}, "query"),
        ({"base_url": "https://u:p@x.test"}, "credentials"),
        ({"base_url": "https://x.test", "auth": BearerAuth("")}, "token is required"),
        ({"base_url": "https://x.test", "auth": ApiKeyAuth("k", location="body")}, "location"),  # type: ignore[arg-type]
        ({"base_url": "https://x.test", "allow_networks": ("10.0.0.0/33",)}, "allow_networks"),
        ({"base_url": "https://x.test", "timeout": 0}, "timeout"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(kw: dict[str, Any], words: str) -> None:
    with pytest.raises(HttpConfigError, match=words):
        HttpApp(**kw)


def test_settings_round_trip_through_plain_data_and_repr_hides_secrets() -> None:
    app = HttpApp(
        base_url="https://api.example.com/v2",
        auth=OAuth2ClientCredentials("https://id.example.com/token", "cid", "very-secret", "s1"),
        headers={"X-Tenant": "t1"},
        allow_networks=("10.5.0.0/16",),
        timeout=12.5,
    )
    again = HttpApp.from_dict(app.to_dict())
    assert again.to_dict() == app.to_dict() and again.auth == app.auth
    assert "very-secret" not in repr(app) and "very-secret" not in repr(app.auth)
    with pytest.raises(HttpConfigError, match="unknown type 'magic'"):
        HttpApp.from_dict({"base_url": "https://x.test", "auth": {"type": "magic"}})
