"""Builds a client from a stored connection or the environment, for the commands that call GHL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import Engine

from ghlbridge.catalog import Operation
from ghlbridge.cli.errors import UsageError
from ghlbridge.client import DEFAULT_BASE_URL, GHLClient
from ghlbridge.client.auth import AgencyAuth, Auth, OAuthSession, StaticToken
from ghlbridge.client.oauth import OAuthApp
from ghlbridge.store import (
    ConnectionStore,
    SQLTokenStore,
    Vault,
    create_engine,
    migrate,
    token_key,
)


def open_engine() -> Engine:
    """The database in GHLBRIDGE_HOME (or GHLBRIDGE_DATABASE_URL), migrated to head."""
    engine = create_engine()
    migrate(engine)
    return engine


def open_store() -> ConnectionStore:
    return ConnectionStore(open_engine(), Vault.from_env())


@asynccontextmanager
async def open_client(connection: str | None) -> AsyncIterator[GHLClient]:
    """A client for `--connection NAME`, else for GHL_TOKEN / GHL_LOCATION_ID / GHL_BASE_URL."""
    oauth_app: OAuthApp | None = None
    if connection is None:
        client = GHLClient.from_env()
        if client.auth is None:
            client.auth = _NoCredentials()
    else:
        vault = Vault.from_env()
        store = ConnectionStore(open_engine(), vault)
        conn = store.get(connection)
        base_url = os.environ.get("GHL_BASE_URL") or DEFAULT_BASE_URL
        auth: Auth
        if conn.auth_type == "oauth":
            secret = conn.secret()
            oauth_app = OAuthApp(
                secret["client_id"], secret["client_secret"], "", base_url=base_url
            )
            tokens = SQLTokenStore(store.engine, vault)
            if conn.location_id:
                auth = OAuthSession(oauth_app, tokens, token_key(conn.name, conn.location_id))
            elif conn.company_id:
                key = token_key(conn.name, conn.company_id)
                auth = AgencyAuth(oauth_app, tokens, key, company_id=conn.company_id)
            else:
                raise UsageError(f"connection {connection!r} has no location or company id")
        else:
            auth = StaticToken(str(conn.secret()["token"]))
        client = GHLClient(
            auth,
            base_url=base_url,
            location_id=conn.location_id or os.environ.get("GHL_LOCATION_ID") or None,
            company_id=conn.company_id,
            app_key=conn.name,
        )
    try:
        async with client:
            yield client
    finally:
        if oauth_app is not None:
            await oauth_app.close()


class _NoCredentials:
    """Stands in for missing credentials so bad params are still reported first."""

    async def token(self, op: Operation, *, location_id: str | None, company_id: str | None) -> str:
        raise UsageError("no credentials: pass --connection NAME or set GHL_TOKEN")

    async def refresh_after_401(
        self, op: Operation, rejected_token: str, *, location_id: str | None, company_id: str | None
    ) -> bool:
        return False
