"""`ghlbridge events list`: stored trigger events (webhooks, polls, schedules), newest first."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ghlbridge.cli.errors import reports_errors
from ghlbridge.cli.session import open_engine
from ghlbridge.flows.store import FlowStore

app = typer.Typer(help="Stored trigger events.")
console = Console()


@app.command("list")
@reports_errors
def list_events(
    source: Annotated[
        str | None, typer.Option(help="poll, catch_up, ghl, schedule, manual")
    ] = None,
    flow: Annotated[str | None, typer.Option(help="Only events of this flow.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (with payloads).")] = False,
) -> None:
    """Stored trigger events, newest first."""
    events = FlowStore(open_engine()).list_events(limit=limit, source=source, flow=flow)
    if as_json:
        typer.echo(json.dumps(events, indent=2, default=str))
        return
    table = Table("event", "received", "source", "type", "flow", "location", "runs", box=None)
    for e in events:
        table.add_row(
            e["id"][:8],
            e["received_at"][:19],
            e["source"],
            e["type"] or "-",
            e["flow"] or "-",
            e["location_id"] or "-",
            str(e["runs_created"]),
        )
    console.print(table)
