"""Builds a client from a stored connection or the environment, for the commands that call GHL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import Engine

from ghlbridge.catalog import Operation
from ghlbridge.cli.errors import UsageError
from ghlbridge.client import GHLClient
from ghlbridge.store import ConnectionStore, Vault, create_engine, migrate


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
    if connection is None:
        client = GHLClient.from_env()
        if client.auth is None:
            client.auth = _NoCredentials()
    else:
        conn = open_store().get(connection)
        if conn.auth_type != "pit":
            raise UsageError(
                f"connection {connection!r}: auth type {conn.auth_type} needs the server"
            )
        client = GHLClient(
            str(conn.secret()["token"]),
            base_url=os.environ.get("GHL_BASE_URL") or None,
            location_id=conn.location_id or os.environ.get("GHL_LOCATION_ID") or None,
            company_id=conn.company_id,
            app_key=conn.name,
        )
    async with client:
        yield client


class _NoCredentials:
    """Stands in for missing credentials so bad params are still reported first."""

    async def token(self, op: Operation, *, location_id: str | None, company_id: str | None) -> str:
        raise UsageError("no credentials: pass --connection NAME or set GHL_TOKEN")

    async def refresh_after_401(
        self, op: Operation, rejected_token: str, *, location_id: str | None, company_id: str | None
    ) -> bool:
        return False
