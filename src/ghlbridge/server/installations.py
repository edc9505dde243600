"""Where the server's Marketplace app is installed, and the connections and tokens that go
with each installation.

- The OAuth callback exchanges the code, saves the token pair (encrypted) BEFORE the
  connection that points at it, and records the installed location, or for an agency
  install every location the app is installed on (location tokens are then minted from the
  agency token when a flow or call first needs them, by `client.auth.AgencyAuth`).
- GHL's ``INSTALL`` webhook records the installation; ``UNINSTALL`` removes it with its
  connections and every token stored for it (GHL has revoked them anyway).

Each installation is served by one connection (auth type ``oauth``) named
``ghl-<location or company id, lower-cased>``; a re-install reuses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from ghlbridge.client.errors import GHLError
from ghlbridge.client.oauth import OAuthApp
from ghlbridge.store import Connection, ConnectionNotFoundError, ConnectionStore, SQLTokenStore
from ghlbridge.store.db import begin_write, upsert
from ghlbridge.store.schema import installations, utcnow
from ghlbridge.store.tokens import TokenSet, token_key

log = logging.getLogger("ghlbridge.server.installations")
InstallType = Literal["Location", "Company"]
_NAME_CHARS = re.compile(r"[^a-z0-9_-]")


class InstallError(ValueError):
    """An install that cannot be completed (the message says why, never a token)."""


@dataclass(frozen=True)
class Installation:
    app_id: str
    account_id: str
    install_type: str
    company_id: str | None
    location_id: str | None
    connection: str | None
    source: str
    installed_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class InstallResult:
    """What an OAuth install stored (no tokens)."""

    connection: str
    user_type: str
    location_id: str | None
    company_id: str | None
    scopes: tuple[str, ...]
    locations: tuple[str, ...] = ()
    reinstalled: bool = False


@dataclass(frozen=True)
class UninstallResult:
    removed_connections: tuple[str, ...] = ()
    removed_installations: int = 0
    removed_tokens: int = 0
    ignored: str | None = None


@dataclass
class Installations:
    """Installation records, and the install/uninstall steps over connections and tokens."""

    engine: Engine
    connections: ConnectionStore
    tokens: SQLTokenStore
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    # -- records --------------------------------------------------------------------------

    def all(self) -> list[Installation]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(installations).order_by(
                    installations.c.install_type, installations.c.account_id
                )
            ).all()
        return [Installation(**dict(r._mapping)) for r in rows]

    def record(
        self,
        *,
        app_id: str,
        install_type: InstallType,
        company_id: str | None,
        location_id: str | None,
        connection: str | None,
        source: str,
    ) -> None:
        """Insert or refresh one installation (a known connection is never unset; a row
        seen through an agency's list does not replace the location's own)."""
        account = location_id if install_type == "Location" else company_id
        if not account:
            raise InstallError(f"a {install_type} installation needs its id")
        now = utcnow()
        row = {
            "app_id": app_id,
            "account_id": account,
            "install_type": install_type,
            "company_id": company_id,
            "location_id": location_id,
            "connection": connection,
            "source": source,
            "installed_at": now,
            "updated_at": now,
        }
        keys = ["app_id", "account_id"]
        with begin_write(self.engine) as conn:
            if source == "agency":  # a location's own install (or INSTALL) keeps its record
                upsert(conn, installations, row, keys, update=["updated_at"])
                if connection is not None:
                    conn.execute(
                        update(installations)
                        .where(
                            installations.c.app_id == app_id,
                            installations.c.account_id == account,
                            installations.c.connection.is_(None),
                        )
                        .values(connection=connection)
                    )
                return
            columns = ["install_type", "source", "updated_at"]
            columns += [c for c in ("company_id", "connection") if row[c] is not None]
            upsert(conn, installations, row, keys, update=columns)

    # -- OAuth callback -------------------------------------------------------------------

    async def complete_oauth(self, app: OAuthApp, client_secret: str, code: str) -> InstallResult:
        """Exchange `code`, store the tokens and the connection, record the installation(s)."""
        tokens = await app.exchange_code(code)
        account = tokens.location_id or tokens.company_id
        if not account:
            raise InstallError("GHL's token answer names neither a location nor a company")
        async with self._lock:  # two callbacks for one account must not both create it
            existing = await asyncio.to_thread(self._connection_of, app.client_id, tokens)
            name = existing.name if existing else await asyncio.to_thread(self._free_name, account)
            # Tokens first: a crash before the connection leaves unused tokens, never a
            # connection without tokens.
            await self.tokens.save(token_key(name, account), tokens)
            secret = {"client_id": app.client_id, "client_secret": client_secret}
            if existing is not None:
                await asyncio.to_thread(self.connections.replace_secret, name, secret)
            else:
                await asyncio.to_thread(
                    self.connections.add,
                    name,
                    "ghl",
                    "oauth",
                    secret,
                    location_id=tokens.location_id,
                    company_id=tokens.company_id,
                    scopes=tuple(tokens.scope.split()),
                )
        locations: list[str] = []
        if tokens.user_type == "Location" and tokens.location_id:
            locations = [tokens.location_id]
            await asyncio.to_thread(
                self.record,
                app_id=app.app_id,
                install_type="Location",
                company_id=tokens.company_id,
                location_id=tokens.location_id,
                connection=name,
                source="oauth",
            )
        elif tokens.company_id:
            await asyncio.to_thread(
                self.record,
                app_id=app.app_id,
                install_type="Company",
                company_id=tokens.company_id,
                location_id=None,
                connection=name,
                source="oauth",
            )
            locations = await self._record_agency_locations(app, tokens, name)
        return InstallResult(
            connection=name,
            user_type=tokens.user_type,
            location_id=tokens.location_id,
            company_id=tokens.company_id,
            scopes=tuple(tokens.scope.split()),
            locations=tuple(locations),
            reinstalled=existing is not None,
        )

    async def _record_agency_locations(
        self, app: OAuthApp, tokens: TokenSet, connection: str
    ) -> list[str]:
        """Every location an agency install covers (needs scope ``oauth.readonly``)."""
        assert tokens.company_id is not None
        try:
            found = await app.installed_locations(
                tokens.access_token, tokens.company_id, filters={"isInstalled": True}
            )
        except GHLError as exc:
            log.warning("could not list the agency's installed locations: %s", exc)
            return []
        ids = [str(loc["_id"]) for loc in found if loc.get("_id")]
        for location_id in ids:
            await asyncio.to_thread(
                self.record,
                app_id=app.app_id,
                install_type="Location",
                company_id=tokens.company_id,
                location_id=location_id,
                connection=connection,
                source="agency",
            )
        return ids

    def _connection_of(self, client_id: str, tokens: TokenSet) -> Connection | None:
        for conn in self._oauth_connections(client_id.split("-")[0]):
            if tokens.location_id and conn.location_id == tokens.location_id:
                return conn
            if (
                not tokens.location_id
                and not conn.location_id
                and conn.company_id == tokens.company_id
            ):
                return conn
        return None

    def _free_name(self, account: str) -> str:
        taken = {c.name for c in self.connections.list()}
        base = ("ghl-" + _NAME_CHARS.sub("-", account.lower()))[:64]
        if base not in taken:
            return base
        suffix = hashlib.sha256(account.encode()).hexdigest()[:8]
        return f"{base[:55]}-{suffix}"

    def _oauth_connections(self, app_id: str | None) -> list[Connection]:
        """The OAuth GHL connections (of app `app_id`, when given)."""
        found = []
        for conn in self.connections.list():
            if conn.provider != "ghl" or conn.auth_type != "oauth":
                continue
            if app_id is not None:
                client_id = str(conn.secret().get("client_id", ""))
                if client_id.split("-")[0] != app_id:
                    continue
            found.append(conn)
        return found

    # -- GHL's INSTALL / UNINSTALL webhooks -----------------------------------------------

    def on_install(self, payload: Mapping[str, Any], expected_app: str | None) -> str | None:
        """Record an INSTALL; returns why it was ignored, or None."""
        app_id, company, location = _ids(payload)
        if not app_id:
            return "no appId"
        if expected_app is not None and app_id != expected_app:
            return f"appId {app_id} is not this server's app ({expected_app})"
        if not (location or company):
            return "neither locationId nor companyId"
        connection = None
        for conn in self._oauth_connections(app_id):
            if (location and conn.location_id == location) or (
                connection is None
                and company
                and conn.company_id == company
                and not conn.location_id  # an agency install serves its locations
            ):
                connection = conn.name
        self.record(
            app_id=app_id,
            install_type="Location" if location else "Company",
            company_id=company,
            location_id=location,
            connection=connection,
            source="webhook",
        )
        return None

    async def on_uninstall(
        self, payload: Mapping[str, Any], expected_app: str | None
    ) -> UninstallResult:
        """Remove an installation, its connections and their tokens."""
        app_id, company, location = _ids(payload)
        if not app_id:
            return UninstallResult(ignored="no appId")
        if expected_app is not None and app_id != expected_app:
            return UninstallResult(ignored=f"appId {app_id} is not this server's app")
        removed: list[str] = []
        tokens_removed = 0
        async with self._lock:
            for conn in await asyncio.to_thread(self._oauth_connections, app_id):
                if location and conn.location_id == location:
                    removed.append(conn.name)
                elif location and conn.company_id and not conn.location_id:
                    # a location token minted from this agency connection
                    key = token_key(conn.name, f"{conn.company_id}:{location}")
                    tokens_removed += await self.tokens.delete(key)
                elif (
                    not location and company and conn.company_id == company and not conn.location_id
                ):
                    removed.append(conn.name)
            for name in removed:
                with contextlib.suppress(ConnectionNotFoundError):  # tokens go too
                    await asyncio.to_thread(self.connections.remove, name)
            count = await asyncio.to_thread(self._delete_records, app_id, company, location)
        return UninstallResult(tuple(removed), count, tokens_removed)

    def _delete_records(self, app_id: str, company: str | None, location: str | None) -> int:
        where = [installations.c.app_id == app_id]
        if location:
            where.append(installations.c.account_id == location)
        elif company:
            # the agency's own row, and the locations recorded through it
            where.append(installations.c.company_id == company)
            where.append(
                (installations.c.install_type == "Company") | (installations.c.source == "agency")
            )
        else:
            return 0
        with begin_write(self.engine) as conn:
            return int(conn.execute(delete(installations).where(*where)).rowcount)


def _ids(payload: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    def text(name: str) -> str | None:
        value = payload.get(name)
        return str(value) if isinstance(value, str | int) and str(value) else None

    return text("appId"), text("companyId"), text("locationId")


__all__ = [
    "InstallError",
    "InstallResult",
    "Installation",
    "Installations",
    "UninstallResult",
]
