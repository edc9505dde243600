"""`ghlbridge connect ...` and `ghlbridge connections ...`: credentials, encrypted at rest."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ghlbridge.cli.errors import UsageError, reports_errors
from ghlbridge.cli.session import open_client, open_engine, open_store
from ghlbridge.store import Vault

app = typer.Typer(help="List, test and remove stored connections.")
connect_app = typer.Typer(help="Store credentials for an app.")
console = Console()


@connect_app.command("ghl")
@reports_errors
def connect_ghl(
    token: Annotated[str, typer.Option(help="Private Integration Token; '-' reads it from stdin.")],
    name: Annotated[str, typer.Option(help="Connection name.")] = "default",
    location_id: Annotated[str | None, typer.Option(help="Sub-account (location) id.")] = None,
    company_id: Annotated[str | None, typer.Option(help="Agency (company) id.")] = None,
    scope: Annotated[list[str] | None, typer.Option(help="Scopes granted to the PIT.")] = None,
) -> None:
    """Store a GHL Private Integration Token (encrypted)."""
    if token == "-":
        token = sys.stdin.readline().strip()
    if not token:
        raise UsageError("--token: empty token")
    conn = open_store().add(
        name,
        "ghl",
        "pit",
        {"token": token},
        location_id=location_id,
        company_id=company_id,
        scopes=scope or (),
    )
    console.print(f"stored connection {conn.name!r} (token encrypted, key {conn.key_id})")


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
