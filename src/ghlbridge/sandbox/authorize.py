"""The marketplace's authorize page (``/oauth/chooselocation``), auto-approved.

GHL's page lets a user pick the sub-account to install the app on, then redirects to
``redirect_uri?code=...``. The sandbox approves at once: for its first location, or the one
named by ``locationId``, or the agency with ``userType=Company`` (both sandbox extensions),
with the requested scopes (every scope if none). ``state`` is echoed when given. Approval
raises GHL's ``INSTALL`` event. Bad requests get a GHL-shaped 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from ghlbridge.sandbox.errors import SandboxError, bad_request
from ghlbridge.sandbox.settings import is_http_url

if TYPE_CHECKING:
    from ghlbridge.sandbox.core import Sandbox

AUTHORIZE_PATHS = ("/oauth/chooselocation", "/v2/oauth/chooselocation")


def choose_location(sandbox: Sandbox, query: Mapping[str, str]) -> str:
    """Approve an authorization request; returns the URL to redirect the browser to."""
    if query.get("response_type", "code") != "code":
        raise bad_request("response_type must be code")
    client_id = query.get("client_id") or ""
    client = sandbox.tokens.registered_client(client_id)
    if client is None:
        raise bad_request(f"client_id {client_id!r} is not a registered app")
    redirect_uri = query.get("redirect_uri") or ""
    if not is_http_url(redirect_uri):
        raise bad_request("redirect_uri must be an http(s) URL")
    scopes = (query.get("scope") or "").split() or sorted(sandbox.all_scopes)
    agency = query.get("userType") == "Company"
    location_id = None if agency else (query.get("locationId") or sandbox.location_id)
    if location_id is not None and sandbox.world.location(location_id) is None:
        raise SandboxError(404, f"Location {location_id} not found", "Not Found")
    code = sandbox.tokens.create_code(
        client,
        company_id=sandbox.company_id,
        location_id=location_id,
        scopes=scopes,
        redirect_uri=redirect_uri,
    )
    sandbox.install(location_id, client=client, agency=agency)
    params = {"code": code}
    if query.get("state"):
        params["state"] = query["state"]
    separator = "&" if "?" in redirect_uri else "?"
    return f"{redirect_uri}{separator}{urlencode(params)}"
