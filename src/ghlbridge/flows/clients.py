"""GHL clients for flows: one per (connection, location), so each location has its own
token and its own rate budget.

- a stored PIT connection of a location: its token, its location;
- a stored OAuth connection: a location installation's refreshed token, or for an agency
  installation a token minted per location by `AgencyAuth` (fan-out);
- no connection named: ``GHL_TOKEN`` / ``GHL_LOCATION_ID`` / ``GHL_BASE_URL`` (as `call`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ghlbridge.client import DEFAULT_BASE_URL, GHLClient
from ghlbridge.client.auth import AgencyAuth, Auth, OAuthSession
from ghlbridge.client.oauth import OAuthApp
from ghlbridge.client.transport import Transport
from ghlbridge.store import ConnectionStore, SQLTokenStore, token_key


class ConnectionProblem(LookupError):
    """A flow names a connection that cannot serve it (missing, or wrong kind)."""


class ClientProvider(Protocol):
    async def client(self, connection: str | None, location_id: str | None) -> GHLClient: ...

    def context(self, connection: str | None) -> dict[str, Any]: ...

    async def locations(self, connection: str | None) -> list[str]: ...

    def secrets(self) -> list[str]: ...

    async def aclose(self) -> None: ...


class Clients:
    """The production `ClientProvider`: stored connections, else the environment."""

    def __init__(
        self,
        connections: ConnectionStore | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        transport: Callable[[], Transport] | None = None,
        token_store: SQLTokenStore | None = None,
    ) -> None:
        self._connections = connections
        self._env = dict(os.environ if environ is None else environ)
        self._transport = transport
        self._token_store = token_store
        self._clients: dict[tuple[str | None, str | None], GHLClient] = {}
        self._secrets: set[str] = set()
        self._apps: list[OAuthApp] = []

    @property
    def base_url(self) -> str | None:
        return self._env.get("GHL_BASE_URL") or None

    def context(self, connection: str | None) -> dict[str, Any]:
        """What templates see as ``connection`` (never the secret)."""
        if connection is None:
            return {
                "name": None,
                "location_id": self._env.get("GHL_LOCATION_ID") or None,
                "company_id": None,
            }
        conn = self._get(connection)
        return {"name": conn.name, "location_id": conn.location_id, "company_id": conn.company_id}

    def _get(self, name: str) -> Any:
        if self._connections is None:
            raise ConnectionProblem(f"connection {name!r}: no connection store")
        try:
            return self._connections.get(name)
        except KeyError as exc:
            raise ConnectionProblem(str(exc).strip("'\"")) from None

    async def client(self, connection: str | None, location_id: str | None) -> GHLClient:
        key = (connection, location_id)
        cached = self._clients.get(key)
        if cached is not None:
            return cached
        transport = self._transport() if self._transport else None
        if connection is None:
            token = self._env.get("GHL_TOKEN")
            if not token:
                raise ConnectionProblem("no connection given and GHL_TOKEN is not set")
            self._secrets.add(token)
            location = location_id or self._env.get("GHL_LOCATION_ID") or None
            client = GHLClient(
                token,
                base_url=self.base_url,
                location_id=location,
                transport=transport,
                app_key="env",
            )
        else:
            client = self._stored_client(connection, location_id, transport)
        self._clients[key] = client
        return client

    def _stored_client(
        self, name: str, location_id: str | None, transport: Transport | None
    ) -> GHLClient:
        conn = self._get(name)
        secret = conn.secret()
        self._secrets.update(str(v) for v in secret.values() if isinstance(v, str))
        location = location_id or conn.location_id
        if conn.auth_type == "pit":
            if conn.location_id and location and location != conn.location_id:
                raise ConnectionProblem(
                    f"connection {name!r} is a PIT of location {conn.location_id}; it cannot "
                    f"act for location {location} (agency fan-out needs an OAuth connection)"
                )
            return GHLClient(
                str(secret["token"]),
                base_url=self.base_url,
                location_id=location,
                company_id=conn.company_id,
                transport=transport,
                app_key=name,
            )
        if self._token_store is None:
            raise ConnectionProblem(f"connection {name!r}: OAuth needs the token store")
        app = OAuthApp(
            str(secret["client_id"]),
            str(secret["client_secret"]),
            "",
            base_url=self.base_url or DEFAULT_BASE_URL,
            transport=transport,
        )
        self._apps.append(app)
        auth: Auth
        if conn.location_id:  # one location's installation
            if location and location != conn.location_id:
                raise ConnectionProblem(
                    f"connection {name!r} is installed in location {conn.location_id}; it "
                    f"cannot act for location {location}"
                )
            auth = OAuthSession(app, self._token_store, token_key(name, conn.location_id))
        elif conn.company_id:  # an agency installation: a location token per location
            auth = AgencyAuth(
                app, self._token_store, token_key(name, conn.company_id), company_id=conn.company_id
            )
        else:
            raise ConnectionProblem(f"connection {name!r} has no location or company id")
        return GHLClient(
            auth,
            base_url=self.base_url,
            location_id=location,
            company_id=conn.company_id,
            transport=transport,
            app_key=name,
        )

    async def locations(self, connection: str | None) -> list[str]:
        """Every location the connection's app is installed in (agency fan-out)."""
        if connection is None:
            raise ConnectionProblem("locations: all needs an agency connection")
        conn = self._get(connection)
        client = await self.client(connection, None)
        app_id = str(conn.secret().get("client_id", "")).split("-")[0]
        found: list[str] = []
        async for loc in client.paginate(
            "oauth.get_installed_location",
            {"companyId": conn.company_id, "appId": app_id, "isInstalled": True},
        ):
            if isinstance(loc, dict) and loc.get("_id"):
                found.append(str(loc["_id"]))
        return found

    def secrets(self) -> list[str]:
        return sorted(self._secrets)

    def active(self) -> dict[tuple[str | None, str | None], GHLClient]:
        """The clients made so far, by (connection, location): their stats and rate budgets
        feed the server's metrics."""
        return dict(self._clients)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        for app in self._apps:
            await app.close()
        self._clients.clear()
        self._apps.clear()


__all__ = ["ClientProvider", "Clients", "ConnectionProblem"]
