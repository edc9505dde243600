"""OAuthApp: the authorize URL and each OAuth exchange, against in-process handlers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest

from ghlbridge.client.errors import (
    AuthError,
    ConnectError,
    OAuthError,
    PagingError,
    RequestTimeout,
)
from ghlbridge.client.oauth import OAuthApp
from ghlbridge.client.transport import HandlerTransport, HttpRequest, HttpResponse

SECRET = "shh-client-secret-42"
NOW = 1_700_000_000.0


def _json(status: int, body: Any) -> HttpResponse:
    return HttpResponse(status, {"Content-Type": "application/json"}, json.dumps(body).encode())


def _form(request: HttpRequest) -> dict[str, str]:
    return dict(parse_qsl((request.body or b"").decode()))


def _app(handler: Callable[[HttpRequest], Awaitable[HttpResponse]], **kw: Any) -> OAuthApp:
    return OAuthApp(
        "6578278e879ad2646715ba9c-lmno",
        SECRET,
        "https://myapp.example/oauth/callback?x=1&y=2",
        ["contacts.readonly", "conversations/message.write"],
        base_url="https://ghl.test",
        transport=HandlerTransport(handler),
        clock=lambda: NOW,
        **kw,
    )


async def _unused(request: HttpRequest) -> HttpResponse:
    raise AssertionError("no request expected")


def test_authorize_url_has_ghl_params_and_space_separated_scopes() -> None:
    url = _app(_unused).authorize_url()
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://marketplace.gohighlevel.com/v2/oauth/chooselocation"
    )
    query = parse_qs(parts.query)
    assert query == {
        "response_type": ["code"],
        "redirect_uri": ["https://myapp.example/oauth/callback?x=1&y=2"],
        "client_id": ["6578278e879ad2646715ba9c-lmno"],
        "scope": ["contacts.readonly conversations/message.write"],
    }
    assert "scope=contacts.readonly%20conversations/message.write" in url
    assert SECRET not in url


def test_authorize_url_state_white_label_and_same_tab_login() -> None:
    url = _app(_unused).authorize_url("st@te 1", white_label=True, login_window_self=True)
    parts = urlsplit(url)
    assert parts.netloc == "marketplace.leadconnectorhq.com"
    query = parse_qs(parts.query)
    assert query["state"] == ["st@te 1"]
    assert query["loginWindowOpenMode"] == ["self"]


def test_authorize_url_uses_the_configured_marketplace() -> None:
    url = _app(_unused, marketplace_url="http://sandbox.local:8080/").authorize_url()
    assert url.startswith("http://sandbox.local:8080/v2/oauth/chooselocation?")


async def test_exchange_code_posts_a_form_and_reads_the_token_answer() -> None:
    seen: list[HttpRequest] = []

    async def handler(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return _json(
            200,
            {
                "access_token": "at-1",
                "token_type": "Bearer",
                "expires_in": 86399,
                "refresh_token": "rt-1",
                "scope": "contacts.readonly conversations/message.write",
                "userType": "Location",
                "locationId": "loc1",
                "companyId": "co1",
                "userId": "u1",
            },
        )

    tokens = await _app(handler).exchange_code("the-code")
    (request,) = seen
    assert request.method == "POST"
    assert request.url == "https://ghl.test/oauth/token"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in request.headers
    assert _form(request) == {
        "client_id": "6578278e879ad2646715ba9c-lmno",
        "client_secret": SECRET,
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "https://myapp.example/oauth/callback?x=1&y=2",
    }
    assert tokens.access_token == "at-1"
    assert tokens.refresh_token == "rt-1"
    assert tokens.expires_at == NOW + 86399
    assert tokens.scope == "contacts.readonly conversations/message.write"
    assert tokens.user_type == "Location"
    assert tokens.location_id == "loc1"
    assert tokens.company_id == "co1"


async def test_refresh_sends_refresh_grant_and_tolerates_camel_case_answer() -> None:
    seen: list[dict[str, str]] = []

    async def handler(request: HttpRequest) -> HttpResponse:
        seen.append(_form(request))
        return _json(
            201,
            {
                "accessToken": "at-2",
                "refreshToken": "rt-2",
                "expiresIn": 3600,
                "scope": "contacts.readonly",
                "userType": "Company",
                "companyId": "co1",
            },
        )

    tokens = await _app(handler).refresh("rt-1", user_type="Company")
    assert seen == [
        {
            "client_id": "6578278e879ad2646715ba9c-lmno",
            "client_secret": SECRET,
            "grant_type": "refresh_token",
            "refresh_token": "rt-1",
            "user_type": "Company",
        }
    ]
    assert (tokens.access_token, tokens.refresh_token) == ("at-2", "rt-2")
    assert tokens.expires_at == NOW + 3600
    assert (tokens.user_type, tokens.company_id, tokens.location_id) == ("Company", "co1", None)


async def test_oauth_error_carries_ghl_message_but_never_secrets() -> None:
    async def handler(request: HttpRequest) -> HttpResponse:
        form = _form(request)
        # A hostile or buggy server echoing what it got must not leak it into logs.
        return _json(
            401,
            {
                "statusCode": 401,
                "message": f"Invalid grant: {form['refresh_token']} / {form['client_secret']}",
                "error": "Unauthorized",
            },
        )

    with pytest.raises(OAuthError) as info:
        await _app(handler).refresh("rt-secret-value", user_type="Location")
    text = str(info.value) + repr(info.value)
    assert "Invalid grant" in text
    assert "HTTP 401" in text
    assert SECRET not in text
    assert "rt-secret-value" not in text


async def test_oauth_error_reads_standard_error_description_and_non_json() -> None:
    answers = [
        _json(400, {"error": "invalid_grant", "error_description": "Refresh token expired"}),
        HttpResponse(502, {}, b"<html>bad gateway</html>"),
    ]

    async def handler(request: HttpRequest) -> HttpResponse:
        return answers.pop(0)

    app = _app(handler)
    with pytest.raises(OAuthError, match="invalid_grant: Refresh token expired"):
        await app.exchange_code("c")
    with pytest.raises(OAuthError, match="HTTP 502"):
        await app.exchange_code("c")


async def test_token_answer_without_access_token_is_an_oauth_error() -> None:
    async def handler(request: HttpRequest) -> HttpResponse:
        return _json(200, {"refresh_token": "rt"})

    with pytest.raises(OAuthError, match="no access_token"):
        await _app(handler).exchange_code("c")


async def test_connect_error_is_retried_once() -> None:
    calls = 0

    async def handler(request: HttpRequest) -> HttpResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectError("cannot connect")
        return _json(200, {"access_token": "at", "refresh_token": "rt", "expires_in": 10})

    tokens = await _app(handler).refresh("rt-0", user_type="Location")
    assert tokens.access_token == "at"
    assert calls == 2


async def test_connect_error_twice_gives_up() -> None:
    calls = 0

    async def handler(request: HttpRequest) -> HttpResponse:
        nonlocal calls
        calls += 1
        raise ConnectError("cannot connect")

    with pytest.raises(ConnectError):
        await _app(handler).refresh("rt-0", user_type="Location")
    assert calls == 2


async def test_refresh_that_may_have_reached_ghl_is_not_retried() -> None:
    calls = 0

    async def handler(request: HttpRequest) -> HttpResponse:
        nonlocal calls
        calls += 1
        raise RequestTimeout("no answer")

    with pytest.raises(RequestTimeout):
        await _app(handler).refresh("rt-0", user_type="Location")
    assert calls == 1


async def test_location_token_is_form_encoded_with_version_and_agency_bearer() -> None:
    seen: list[HttpRequest] = []

    async def handler(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return _json(
            200,
            {
                "access_token": "loc-at",
                "token_type": "Bearer",
                "expires_in": 86399,
                "scope": "contacts.readonly",
                "locationId": "loc9",
                "userId": "u1",
            },
        )

    tokens = await _app(handler).location_token("agency-at", "co1", "loc9")
    (request,) = seen
    assert (request.method, request.url) == ("POST", "https://ghl.test/oauth/locationToken")
    assert request.headers["Authorization"] == "Bearer agency-at"
    assert request.headers["Version"] == "2021-07-28"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert _form(request) == {"companyId": "co1", "locationId": "loc9"}
    assert tokens.access_token == "loc-at"
    assert tokens.refresh_token is None
    assert (tokens.user_type, tokens.location_id, tokens.company_id) == ("Location", "loc9", "co1")
    assert tokens.expires_at == NOW + 86399


async def test_location_token_rejected_agency_token_is_auth_error() -> None:
    async def handler(request: HttpRequest) -> HttpResponse:
        return _json(
            401,
            {
                "statusCode": 401,
                "message": "Invalid token: access token is invalid",
                "error": "Unauthorized",
            },
        )

    with pytest.raises(AuthError, match="access token is invalid"):
        await _app(handler).location_token("agency-at", "co1", "loc9")


async def test_installed_locations_reads_every_page() -> None:
    everything = [{"_id": f"loc{i}", "name": f"L{i}", "isInstalled": True} for i in range(230)]
    queries: list[dict[str, str]] = []

    async def handler(request: HttpRequest) -> HttpResponse:
        parts = urlsplit(request.url)
        assert parts.path == "/oauth/installedLocations"
        assert request.headers["Authorization"] == "Bearer agency-at"
        assert request.headers["Version"] == "2021-07-28"
        query = dict(parse_qsl(parts.query))
        queries.append(query)
        skip, limit = int(query["skip"]), int(query["limit"])
        page = everything[skip : skip + limit]
        return _json(200, {"locations": page, "count": len(everything)})

    found = await _app(handler).installed_locations(
        "agency-at", "co1", filters={"isInstalled": True}
    )
    assert found == everything
    assert [q["skip"] for q in queries] == ["0", "100", "200"]
    assert all(q["companyId"] == "co1" for q in queries)
    assert all(q["appId"] == "6578278e879ad2646715ba9c" for q in queries)
    assert all(q["isInstalled"] == "true" for q in queries)


async def test_installed_locations_refuses_to_loop_when_skip_is_ignored() -> None:
    page = [{"_id": f"loc{i}"} for i in range(100)]
    calls = 0

    async def handler(request: HttpRequest) -> HttpResponse:
        nonlocal calls
        calls += 1
        return _json(200, {"locations": page})

    with pytest.raises(PagingError):
        await _app(handler).installed_locations("agency-at", "co1", "app1")
    assert calls == 2


def test_repr_never_shows_the_secret() -> None:
    assert SECRET not in repr(_app(_unused))
