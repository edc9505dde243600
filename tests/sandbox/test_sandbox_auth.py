"""Bearer tokens, scopes, token classes, location access and the Version header, as GHL
answers them."""

from __future__ import annotations

from typing import Any, cast

from ghlbridge.client.transport import ASGITransport, HttpRequest
from ghlbridge.sandbox import Sandbox, SandboxSettings, create_app
from tests.sandbox.harness import Harness


async def test_missing_bearer_token_answers_401_invalid_token(harness: Harness) -> None:
    response = await harness.call(
        "contacts.get_contacts", {"locationId": harness.sb.location_id}, token=None
    )
    assert response.status == 401
    assert response.json() == {
        "statusCode": 401,
        "message": "Invalid token: access token is invalid",
        "error": "Unauthorized",
    }


async def test_unknown_token_and_non_bearer_scheme_answer_401(harness: Harness) -> None:
    unknown = await harness.call(
        "contacts.get_contacts", {"locationId": harness.sb.location_id}, token="pit-nope"
    )
    assert unknown.status == 401
    basic = await harness.request(
        "GET",
        "/contacts/",
        token=None,
        query={"locationId": harness.sb.location_id},
        headers={"Authorization": f"Basic {harness.token}"},
    )
    assert basic.status == 401


async def test_token_without_the_scope_answers_401_naming_the_scope(harness: Harness) -> None:
    sb = harness.sb
    limited = sb.tokens.create_pit(
        company_id=sb.company_id, location_id=sb.location_id, scopes=["contacts.readonly"]
    )
    read = await harness.call(
        "contacts.get_contacts", {"locationId": sb.location_id}, token=limited.value
    )
    assert read.status == 200
    write = await harness.call(
        "contacts.create_contact", body={"locationId": sb.location_id}, token=limited.value
    )
    assert write.status == 401
    body = write.json()
    assert body["error"] == "Unauthorized"
    assert body["message"].startswith("The token is not authorized for this scope.")
    assert "contacts.write" in body["message"]


async def test_token_for_another_location_answers_403(harness: Harness) -> None:
    other, other_pit = harness.sb.add_location(name="Second")
    response = await harness.call("contacts.get_contacts", {"locationId": other.id})
    assert response.status == 403
    assert response.json() == {
        "statusCode": 403,
        "message": "The token does not have access to this location",
    }
    own = await harness.call(
        "contacts.get_contacts", {"locationId": other.id}, token=other_pit.value
    )
    assert own.status == 200


async def test_contact_of_another_location_answers_403_by_id(harness: Harness) -> None:
    other, other_pit = harness.sb.add_location()
    created = await harness.call(
        "contacts.create_contact", body={"locationId": other.id}, token=other_pit.value
    )
    contact_id = created.json()["contact"]["id"]
    response = await harness.call("contacts.get_contact", {"contactId": contact_id})
    assert response.status == 403


async def test_agency_token_on_location_route_and_location_token_on_agency_route_answer_401(
    harness: Harness,
) -> None:
    sb = harness.sb
    agency_on_location = await harness.call(
        "contacts.get_contacts", {"locationId": sb.location_id}, token=sb.agency_token.value
    )
    assert agency_on_location.status == 401
    assert "agency" in agency_on_location.json()["message"]
    op = next(op for op in harness.catalog if op.token_type == "agency" and not op.oauth_only)
    location_on_agency = await harness.call(op.id, _path_params(harness, op.id))
    assert location_on_agency.status == 401


async def test_agency_token_reaches_its_company_locations_on_either_routes(
    harness: Harness,
) -> None:
    sb = harness.sb
    response = await harness.call(
        "locations.get_location", {"locationId": sb.location_id}, token=sb.agency_token.value
    )
    assert response.status == 200
    assert response.json()["location"]["id"] == sb.location_id
    stranger = await harness.call(
        "locations.get_location", {"locationId": "x" * 20}, token=sb.agency_token.value
    )
    assert stranger.status == 403


async def test_pit_on_oauth_only_route_answers_401(harness: Harness) -> None:
    sb = harness.sb
    response = await harness.call(
        "oauth.get_location_access_token",
        body={"companyId": sb.company_id, "locationId": sb.location_id},
        token=sb.agency_token.value,
    )
    assert response.status == 401
    assert "Private Integration" in response.json()["message"]


async def test_missing_or_wrong_version_header_answers_400_and_v3_is_accepted(
    harness: Harness,
) -> None:
    params = {"locationId": harness.sb.location_id}
    missing = await harness.call("contacts.get_contacts", params, version=None)
    assert missing.status == 400
    assert missing.json()["error"] == "Bad Request"
    assert "2021-07-28" in missing.json()["message"]
    wrong = await harness.call("contacts.get_contacts", params, version="2021-04-15")
    assert wrong.status == 400
    assert "2021-04-15" in wrong.json()["message"]
    v3 = await harness.call("contacts.upsert_contact", body={"locationId": params["locationId"]})
    assert v3.status == 200
    v3 = await harness.call(
        "contacts.upsert_contact", body={"locationId": params["locationId"]}, version="v3"
    )
    assert v3.status == 200


async def test_operation_without_declared_version_accepts_any(harness: Harness) -> None:
    op = next(op for op in harness.catalog if op.version is None and op.token_type == "none")
    assert op.id != "oauth.get_access_token"
    response = await harness.call(op.id, _path_params(harness, op.id), version=None)
    assert response.status < 400, response.body


async def test_oauth_code_exchange_then_single_use_refresh(make_harness: object) -> None:
    h = Harness(SandboxSettings(seed=2, oauth_client_id="app-1", oauth_client_secret="s3cret"))
    sb = h.sb
    assert sb.oauth_client.client_id == "app-1"
    code = sb.tokens.create_code(
        sb.oauth_client, company_id=sb.company_id, location_id=sb.location_id, scopes=["x.y"]
    )
    form = {
        "client_id": "app-1",
        "client_secret": "s3cret",
        "grant_type": "authorization_code",
        "code": code,
        "user_type": "Location",
    }
    first = await h.call("oauth.get_access_token", body=form, token=None)
    assert first.status == 200, first.body
    tokens = first.json()
    assert tokens["token_type"] == "Bearer" and tokens["locationId"] == sb.location_id
    assert tokens["expires_in"] == 86_399 and tokens["scope"] == "x.y"
    again = await h.call("oauth.get_access_token", body=form, token=None)
    assert again.status == 401  # a code works once
    refresh = {**form, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    del refresh["code"]
    second = await h.call("oauth.get_access_token", body=refresh, token=None)
    assert second.status == 200
    assert second.json()["refresh_token"] != tokens["refresh_token"]
    replay = await h.call("oauth.get_access_token", body=refresh, token=None)
    assert replay.status == 401
    bad_secret = await h.call(
        "oauth.get_access_token", body={**refresh, "client_secret": "no"}, token=None
    )
    assert bad_secret.status == 401


async def test_expired_access_token_answers_401(make_harness: object) -> None:
    now = [1_000_000.0]
    sb = Sandbox(SandboxSettings(access_token_ttl=60), clock=lambda: now[0])
    transport = ASGITransport(cast(Any, create_app(sandbox=sb)))
    pair = sb.tokens.issue(
        sb.oauth_client, company_id=sb.company_id, location_id=sb.location_id, scopes=sb.all_scopes
    )
    url = f"http://sandbox/contacts/?locationId={sb.location_id}"
    headers = {"Authorization": f"Bearer {pair.access.value}", "Version": "2021-07-28"}
    assert (await transport.send(HttpRequest("GET", url, headers))).status == 200
    now[0] += 61
    assert (await transport.send(HttpRequest("GET", url, headers))).status == 401


async def test_agency_oauth_token_mints_a_location_token(harness: Harness) -> None:
    sb = harness.sb
    agency = sb.tokens.issue(
        sb.oauth_client, company_id=sb.company_id, location_id=None, scopes=sb.all_scopes
    ).access
    minted = await harness.call(
        "oauth.get_location_access_token",
        body={"companyId": sb.company_id, "locationId": sb.location_id},
        token=agency.value,
    )
    assert minted.status == 200, minted.body
    location_token = minted.json()["access_token"]
    listed = await harness.call(
        "contacts.get_contacts", {"locationId": sb.location_id}, token=location_token
    )
    assert listed.status == 200


def _path_params(harness: Harness, op_id: str) -> dict[str, str]:
    op = harness.catalog.get(op_id)
    known = {"locationId": harness.sb.location_id, "companyId": harness.sb.company_id}
    params = {p.name: known.get(p.name, "abcdefghij0123456789") for p in op.path_params}
    for p in op.params:
        if p.location == "query" and p.required:
            params[p.name] = known.get(p.name, (p.enum or ["x"])[0])
    return params
