"""Tests a stored GHL connection with one cheap read, and reports what it reaches.

A location connection reads its location (``locations.get_location``: the name proves the
token works there); an agency one searches its company's locations. Granted scopes come
from the stored OAuth token (what GHL granted) or, for a PIT, from the scopes declared when
it was stored (GHL has no endpoint that lists a PIT's scopes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ghlbridge.client.errors import GHLError
from ghlbridge.flows.clients import ConnectionProblem
from ghlbridge.server.services import Services
from ghlbridge.store import VaultError
from ghlbridge.store.tokens import token_key

ScopeSource = Literal["token", "declared", "unknown"]


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    connection: str
    provider: str
    auth_type: str
    location_id: str | None = None
    location_name: str | None = None
    company_id: str | None = None
    scopes: list[str] = field(default_factory=list)
    scopes_source: ScopeSource = "unknown"
    error: str | None = None


async def check_connection(services: Services, name: str) -> ConnectionCheck:
    """Call GHL with connection `name` (`ConnectionNotFoundError` if there is none)."""
    conn = services.connections.get(name)
    scopes = list(conn.scopes)
    source: ScopeSource = "declared" if conn.scopes else "unknown"

    def report(
        ok: bool, *, error: str | None = None, location_name: str | None = None
    ) -> ConnectionCheck:
        return ConnectionCheck(
            ok=ok,
            connection=conn.name,
            provider=conn.provider,
            auth_type=conn.auth_type,
            location_id=conn.location_id,
            location_name=location_name,
            company_id=conn.company_id,
            scopes=scopes,
            scopes_source=source,
            error=error,
        )

    if conn.provider != "ghl":
        return report(False, error="only GHL connections are tested here")
    if not (conn.location_id or conn.company_id):
        return report(False, error="the connection has neither a location nor a company id")
    clients = services.ghl_clients()
    try:
        client = await clients.client(name, None)
        location_name = None
        if conn.location_id:
            data = await client.call("locations.get_location", {"locationId": conn.location_id})
            found = data.get("location", data) if isinstance(data, dict) else {}
            location_name = found.get("name") if isinstance(found, dict) else None
        else:
            await client.call(
                "locations.search_locations", {"companyId": conn.company_id, "limit": 1}
            )
        if conn.auth_type == "oauth":
            account = conn.location_id or conn.company_id or ""
            tokens = await services.tokens.load(token_key(conn.name, account))
            if tokens is not None:
                scopes, source = tokens.scope.split(), "token"
    except (GHLError, ConnectionProblem, VaultError, KeyError) as exc:
        services.redactor.add(clients.secrets())
        return report(False, error=services.redactor.text(str(exc).strip("'\"")))
    finally:
        await clients.aclose()
    return report(True, location_name=str(location_name) if location_name else None)


__all__ = ["ConnectionCheck", "check_connection"]
