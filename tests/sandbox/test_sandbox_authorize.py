"""The marketplace authorize page: auto-approval, the redirect with code and state, the code
exchange, and the INSTALL event it raises."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from ghlbridge.sandbox import SandboxSettings
from tests.sandbox.harness import Harness


def _harness() -> Harness:
    return Harness(SandboxSettings(seed=4, oauth_client_id="app-1", oauth_client_secret="s3cret"))


@pytest.mark.parametrize("path", ["/oauth/chooselocation", "/v2/oauth/chooselocation"])
async def test_authorize_redirects_with_a_code_that_exchanges_for_a_location_token(
    path: str,
) -> None:
    h = _harness()
    answer = await h.request(
        "GET",
        path,
        token=None,
        version=None,
        query={
            "response_type": "code",
            "client_id": "app-1",
            "redirect_uri": "https://app.example.com/callback?tenant=7",
            "scope": "contacts.readonly contacts.write",
            "state": "xyz 1",
        },
    )
    assert answer.status == 302, answer.body
    target = urlsplit(answer.header("location") or "")
    assert f"{target.scheme}://{target.netloc}{target.path}" == "https://app.example.com/callback"
    params = parse_qs(target.query)
    assert params["tenant"] == ["7"] and params["state"] == ["xyz 1"]
    form = {
        "client_id": "app-1",
        "client_secret": "s3cret",
        "grant_type": "authorization_code",
        "code": params["code"][0],
        "redirect_uri": "https://app.example.com/callback?tenant=7",
    }
    tokens = await h.call("oauth.get_access_token", body=form, token=None)
    assert tokens.status == 200, tokens.body
    body = tokens.json()
    assert body["locationId"] == h.sb.location_id and body["userType"] == "Location"
    assert body["scope"] == "contacts.readonly contacts.write"
    (install,) = h.sb.webhooks.events("INSTALL")
    assert install["appId"] == "app" and install["locationId"] == h.sb.location_id


async def test_authorize_can_pick_another_location_or_the_agency() -> None:
    h = _harness()
    other, _ = h.sb.add_location(name="Other")
    base = {"client_id": "app-1", "redirect_uri": "http://localhost/cb"}
    for extra, user_type, location in (
        ({"locationId": other.id}, "Location", other.id),
        ({"userType": "Company"}, "Company", None),
    ):
        answer = await h.request(
            "GET", "/oauth/chooselocation", token=None, query={**base, **extra}
        )
        code = parse_qs(urlsplit(answer.header("location") or "").query)["code"][0]
        form = {**base, "client_secret": "s3cret", "grant_type": "authorization_code"}
        body = (
            await h.call("oauth.get_access_token", body={**form, "code": code}, token=None)
        ).json()
        assert body["userType"] == user_type and body.get("locationId") == location
        assert "state" not in parse_qs(urlsplit(answer.header("location") or "").query)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"client_id": "nobody", "redirect_uri": "http://x/cb"}, "client_id"),
        ({"client_id": "app-1"}, "redirect_uri"),
        ({"client_id": "app-1", "redirect_uri": "http://x/cb", "response_type": "token"}, "code"),
        ({"client_id": "app-1", "redirect_uri": "http://x/cb", "locationId": "nope"}, "nope"),
    ],
)
async def test_bad_authorize_requests_get_a_ghl_shaped_error(
    query: dict[str, str], message: str
) -> None:
    h = _harness()
    answer = await h.request("GET", "/oauth/chooselocation", token=None, query=query)
    assert answer.status in (400, 404)
    body = answer.json()
    assert body["statusCode"] == answer.status and message in body["message"]
    assert h.sb.webhooks.events() == []
