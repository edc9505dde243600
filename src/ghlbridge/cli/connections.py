"""`ghlbridge connect ...` and `ghlbridge connections ...`: credentials, encrypted at rest."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ghlbridge.cli.errors import UsageError, reports_errors
from ghlbridge.cli.oauth_connect import OAuthInstall, install
from ghlbridge.cli.session import open_client, open_engine, open_store
from ghlbridge.client import DEFAULT_BASE_URL
from ghlbridge.client.oauth import DEFAULT_MARKETPLACE_URL
from ghlbridge.store import Vault

app = typer.Typer(help="List, test and remove stored connections.")
connect_app = typer.Typer(help="Store credentials for an app.")
console = Console()


@connect_app.command("ghl")
@reports_errors
def connect_ghl(
    token: Annotated[
        str | None, typer.Option(help="Private Integration Token; '-' reads it from stdin.")
    ] = None,
    oauth: Annotated[
        bool, typer.Option("--oauth", help="Install a Marketplace app instead.")
    ] = False,
    name: Annotated[str, typer.Option(help="Connection name.")] = "default",
    location_id: Annotated[str | None, typer.Option(help="Sub-account (location) id.")] = None,
    company_id: Annotated[str | None, typer.Option(help="Agency (company) id.")] = None,
    scope: Annotated[
        list[str] | None, typer.Option(help="Scopes (PIT: granted; OAuth: asked).")
    ] = None,
    client_id: Annotated[
        str | None, typer.Option(envvar="GHL_CLIENT_ID", help="OAuth client id.")
    ] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(envvar="GHL_CLIENT_SECRET", help="OAuth client secret; '-' reads stdin."),
    ] = None,
    redirect_port: Annotated[int, typer.Option(help="Local port of the OAuth redirect.")] = 8799,
    marketplace_url: Annotated[
        str, typer.Option(envvar="GHL_MARKETPLACE_URL", help="Where the install page lives.")
    ] = DEFAULT_MARKETPLACE_URL,
    browser: Annotated[bool, typer.Option(help="Open the install page in a browser.")] = True,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the redirect.")] = 300.0,
) -> None:
    """Store a GHL Private Integration Token, or install an OAuth app (tokens encrypted)."""
    if oauth == (token is not None):
        raise UsageError("pass exactly one of --token or --oauth")
    if oauth:
        if not client_id or not client_secret:
            raise UsageError("--oauth needs --client-id and --client-secret (or GHL_CLIENT_*)")
        spec = OAuthInstall(
            client_id=client_id,
            client_secret=_read_secret(client_secret),
            scopes=tuple(scope or ()),
            port=redirect_port,
            base_url=os.environ.get("GHL_BASE_URL") or DEFAULT_BASE_URL,
            marketplace_url=marketplace_url,
            open_browser=browser,
            timeout=wait,
        )
        store = open_store()
        console.print(asyncio.run(install(name, spec, store, Vault.from_env())))
        return
    secret = _read_secret(token or "")
    if not secret:
        raise UsageError("--token: empty token")
    conn = open_store().add(
        name,
        "ghl",
        "pit",
        {"token": secret},
        location_id=location_id,
        company_id=company_id,
        scopes=scope or (),
    )
    console.print(f"stored connection {conn.name!r} (token encrypted, key {conn.key_id})")


def _read_secret(value: str) -> str:
    """'-' reads the secret from stdin, so it stays out of shell history and `ps`."""
    return sys.stdin.readline().strip() if value == "-" else value


@app.command("list")
@reports_errors
def list_connections(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Stored connections (never their secrets)."""
    rows: list[dict[str, Any]] = [
        {
            "name": c.name,
            "provider": c.provider,
            "auth_type": c.auth_type,
            "location_id": c.location_id,
            "company_id": c.company_id,
            "scopes": list(c.scopes),
            "created_at": c.created_at.isoformat(),
        }
        for c in open_store().list()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("name", "provider", "auth", "location", "company", box=None)
    for r in rows:
        table.add_row(
            r["name"],
            r["provider"],
            r["auth_type"],
            r["location_id"] or "-",
            r["company_id"] or "-",
        )
    console.print(table)


@app.command("test")
@reports_errors
def test_connection(name: str) -> None:
    """Call a cheap read with the connection and report what it can see."""

    async def run() -> dict[str, Any]:
        async with open_client(name) as client:
            if client.location_id:
                data = await client.call(
                    "locations.get_location", {"locationId": client.location_id}
                )
                location = data.get("location", data) if isinstance(data, dict) else {}
                return {"ok": True, "location_id": client.location_id, "name": location.get("name")}
            if client.company_id:
                await client.call(
                    "locations.search_locations", {"companyId": client.company_id, "limit": 1}
                )
                return {"ok": True, "company_id": client.company_id}
            raise UsageError(f"connection {name!r} has neither a location id nor a company id")

    typer.echo(json.dumps(asyncio.run(run())))


@app.command("remove")
@reports_errors
def remove_connection(name: str) -> None:
    """Delete a connection and its tokens."""
    open_store().remove(name)
    console.print(f"removed connection {name!r}")


@app.command("rotate-key")
@reports_errors
def rotate_key() -> None:
    """Re-encrypt every stored secret under a new key."""
    result = Vault.from_env().rotate_key(open_engine())
    console.print(result.message)
    if result.env_value:
        typer.echo(result.env_value)
