"""Who may call what: bearer token, `Version` header, token class, scope, location access.

Checks run in this order, each with GHL's answer: no or unknown token -> 401 "Invalid token";
missing or wrong `Version` -> 400; a PIT on an OAuth-only route or a location token on an
agency route (and the reverse) -> 401; a scope the token lacks -> 401 naming the scope; a
location or company the token cannot reach -> 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ghlbridge.catalog import Operation
from ghlbridge.sandbox.errors import (
    bad_request,
    invalid_token,
    missing_scope,
    no_company_access,
    no_location_access,
    wrong_token_class,
)
from ghlbridge.sandbox.state import World
from ghlbridge.sandbox.tokens import Token

PUBLIC_OPERATIONS = frozenset({"oauth.get_access_token"})
"""Operations called without a bearer token (the token endpoint authenticates by client)."""

_LOCATION_NAMES = ("locationId", "location_id")
_COMPANY_NAMES = ("companyId", "company_id")


@dataclass(frozen=True, slots=True)
class Resources:
    """The location and company a call acts on."""

    location_id: str | None = None
    company_id: str | None = None


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def check_version(op: Operation, value: str | None) -> None:
    """GHL routes by `Version`; the strict reading is that a missing or other value fails."""
    if op.version is None:
        return
    accepted = list(dict.fromkeys(v for v in (op.version, op.version_v3) if v))
    expected = " or ".join(accepted)
    sent = (value or "").strip()
    if not sent:
        raise bad_request(f"Version header is missing: this endpoint needs Version: {expected}")
    if sent not in accepted:
        raise bad_request(
            f"Version header {sent!r} is not supported by this endpoint: send Version: {expected}"
        )


def named_resources(
    path_params: Mapping[str, str], query: Mapping[str, list[str]], body: Any
) -> Resources:
    """The location and company a request names in its path, query or body."""
    bag: dict[str, str] = {}
    if isinstance(body, Mapping):
        bag.update({k: v for k, v in body.items() if isinstance(v, str) and v})
    bag.update({k: v[-1] for k, v in query.items() if v and v[-1]})
    bag.update(path_params)
    location = next((bag[n] for n in _LOCATION_NAMES if n in bag), None)
    company = next((bag[n] for n in _COMPANY_NAMES if n in bag), None)
    alt_id, alt_type = bag.get("altId"), bag.get("altType", "").lower()
    if alt_id and alt_type == "location":
        location = location or alt_id
    elif alt_id and alt_type in ("company", "agency"):
        company = company or alt_id
    return Resources(location, company)


def require_token(op: Operation, token: Token | None) -> None:
    if token is None and op.id not in PUBLIC_OPERATIONS:
        raise invalid_token()


def authorize(op: Operation, token: Token | None, named: Resources, world: World) -> Resources:
    """Refuse the call or return the resources it acts on (the token's own when unnamed)."""
    if op.id in PUBLIC_OPERATIONS or token is None:
        return named
    if op.oauth_only and token.kind == "pit":
        raise wrong_token_class(
            "This route needs an OAuth access token; Private Integration Tokens are not accepted"
        )
    if op.token_type == "location" and token.is_agency:
        raise wrong_token_class(
            "This route needs a sub-account (Location) token; an agency (Company) token was sent"
        )
    if op.token_type == "agency" and not token.is_agency:
        raise wrong_token_class(
            "This route needs an agency (Company) token; a sub-account (Location) token was sent"
        )
    for scope in op.scopes:
        if scope not in token.scopes:
            raise missing_scope(scope)
    if named.company_id is not None and named.company_id != token.company_id:
        raise no_company_access()
    location = named.location_id
    if location is not None:
        if token.is_agency:
            loc = world.location(location)
            if loc is None or loc.company_id != token.company_id:
                raise no_location_access()
        elif location != token.location_id:
            raise no_location_access()
    return Resources(location or token.location_id, token.company_id)


def check_location(token: Token | None, location_id: str, world: World) -> None:
    """For records found by id: the token must reach the location that holds them."""
    if token is None:
        return
    if token.is_agency:
        loc = world.location(location_id)
        if loc is None or loc.company_id != token.company_id:
            raise no_location_access()
    elif token.location_id != location_id:
        raise no_location_access()
