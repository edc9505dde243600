"""OAuth 2.0: the token endpoint (authorization code and refresh grants), agency-to-location
token exchange and the installed-locations list.

Auth codes come from `TokenRegistry.create_code` (what the marketplace's choose-location page
would hand out). Refresh tokens are single-use; each refresh returns a new pair.
"""

from __future__ import annotations

from typing import Any

from ghlbridge.sandbox.errors import SandboxError, bad_request, reason
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.paging import Entry, window
from ghlbridge.sandbox.tokens import OAuthGrantError, TokenPair


def _token_body(call: Call, pair: TokenPair) -> dict[str, Any]:
    token = pair.access
    body: dict[str, Any] = {
        "access_token": token.value,
        "token_type": "Bearer",
        "expires_in": call.settings.access_token_ttl,
        "refresh_token": pair.refresh_token,
        "scope": " ".join(sorted(token.scopes)),
        "userType": token.user_type,
        "companyId": token.company_id,
        "userId": token.user_id,
        "isBulkInstallation": False,
    }
    if token.location_id:
        body["locationId"] = token.location_id
    else:
        body["approvedLocations"] = [
            loc.id for loc in call.world.locations.values() if loc.company_id == token.company_id
        ]
    return body


def get_access_token(call: Call) -> Reply:
    body = call.json
    try:
        client = call.tokens.client(str(body["client_id"]), str(body["client_secret"]))
        grant = body["grant_type"]
        user_type = body.get("user_type")
        if grant == "authorization_code":
            if not body.get("code"):
                raise bad_request("code is required for grant_type authorization_code")
            pair = call.tokens.exchange_code(
                client,
                str(body["code"]),
                redirect_uri=body.get("redirect_uri"),
                user_type=user_type,
            )
        elif grant == "refresh_token":
            if not body.get("refresh_token"):
                raise bad_request("refresh_token is required for grant_type refresh_token")
            pair = call.tokens.rotate(client, str(body["refresh_token"]), user_type=user_type)
        else:
            raise bad_request(f"grant_type {grant} is not supported for this app")
    except OAuthGrantError as exc:
        raise SandboxError(exc.status, str(exc), reason(exc.status)) from None
    return call.ok(_token_body(call, pair))


def get_location_token(call: Call) -> Reply:
    assert call.token is not None  # the route is agency-OAuth-only; auth checked it
    loc = call.location()
    try:
        pair = call.tokens.location_token(call.token, loc.id)
    except OAuthGrantError as exc:
        raise SandboxError(exc.status, str(exc), reason(exc.status)) from None
    token = pair.access
    return call.ok(
        {
            "access_token": token.value,
            "token_type": "Bearer",
            "expires_in": call.settings.access_token_ttl,
            "refresh_token": pair.refresh_token,
            "scope": " ".join(sorted(token.scopes)),
            "locationId": loc.id,
            "userId": token.user_id,
            "appId": token.app_id,
        }
    )


def installed_locations(call: Call) -> Reply:
    company = call.company_id
    text = str(call.query.get("query") or "").strip().lower()
    only = call.query.get("locationId")
    locations = [
        loc
        for loc in call.world.locations.values()
        if loc.company_id == company
        and text in loc.name.lower()
        and (only is None or loc.id == only)
    ]
    rows = [
        {"_id": loc.id, "name": loc.name, "address": loc.address, "isInstalled": True}
        for loc in locations
    ]
    entries = [Entry(loc.id, i) for i, loc in enumerate(locations)]
    win = window(call.op, call.query, entries)
    return call.ok(
        {
            "locations": rows[win.start : win.end],
            "count": win.total,
            "installToFutureLocations": True,
        }
    )


HANDLERS: dict[str, Handler] = {
    "oauth.get_access_token": get_access_token,
    "oauth.get_location_access_token": get_location_token,
    "oauth.get_installed_location": installed_locations,
}
