"""`ghlbridge demo`: the sandbox on a local port and the client exercising it, no credentials."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ghlbridge.catalog import load_catalog
from ghlbridge.catalog.curated import load_curated
from ghlbridge.cli.errors import reports_errors
from ghlbridge.cli.serving import serving
from ghlbridge.client import GHLClient, ValidationError
from ghlbridge.sandbox.app import create_app, sandbox_of
from ghlbridge.sandbox.settings import SandboxSettings
from ghlbridge.store import home_dir

console = Console()


@reports_errors
def demo(
    contacts: Annotated[int, typer.Option(help="Contacts to create in the sandbox.")] = 150,
) -> None:
    """Start the sandbox, then create, page, export and look up data through the client."""
    asyncio.run(_demo(contacts, home_dir() / "demo"))


async def _demo(n_contacts: int, out_dir: Path) -> None:
    catalog = load_catalog()
    curated = load_curated(catalog)
    console.rule("ghlbridge demo")
    console.print(
        f"catalog: {len(catalog)} operations in {len(catalog.apps())} apps; "
        f"{len(curated.triggers())} curated triggers, {len(curated.actions())} actions, "
        f"{len(curated.webhook_events())} webhook events"
    )
    app = create_app(SandboxSettings(seed=7))
    box = sandbox_of(app)
    async with serving(app) as base_url:
        console.print(f"sandbox: {base_url} (location {box.location_id})")
        async with GHLClient(
            box.location_token.value, base_url=base_url, location_id=box.location_id
        ) as ghl:
            await _contacts(ghl, n_contacts, out_dir)
            await _social_tags(ghl, box.location_id)
            await _refused(ghl)
            _budget(ghl)
    console.rule("next")
    console.print(
        "Run the sandbox yourself with `ghlbridge sandbox` and call it with\n"
        "`GHL_BASE_URL=... GHL_TOKEN=... ghlbridge call contacts.get_contacts --all-pages`.\n"
        "Not in this demo yet: flows, the server and the dashboard (coming next)."
    )


async def _contacts(ghl: GHLClient, n: int, out_dir: Path) -> None:
    created = await asyncio.gather(
        *(
            ghl.call(
                "contacts.create_contact",
                body={"firstName": f"Demo{i}", "email": f"demo{i}@example.com", "tags": ["demo"]},
            )
            for i in range(n)
        )
    )
    upserted = await ghl.call(
        "contacts.upsert_contact", body={"email": "demo0@example.com", "lastName": "Upserted"}
    )
    console.print(
        f"created {len(created)} contacts concurrently; upsert of demo0@example.com "
        f"updated id {upserted['contact']['id']} (new: {upserted.get('new')})"
    )
    pager = ghl.pager("contacts.get_contacts", {"limit": 25})
    seen: list[str] = []
    async for page in pager.pages():
        seen.extend(c["id"] for c in page)
    console.print(
        f"paged contacts.get_contacts: {len(seen)} contacts in {pager.pages_fetched} pages"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "contacts.jsonl"
    with target.open("w", encoding="utf-8") as fh:
        async for contact in ghl.paginate("contacts.get_contacts", {"limit": 100}):
            fh.write(json.dumps(contact) + "\n")
    console.print(f"exported to {target}")


async def _social_tags(ghl: GHLClient, location_id: str) -> None:
    listed = await ghl.call(
        "social_media_posting.get_tags_location_id", {"locationId": location_id}
    )
    tags: list[dict[str, Any]] = (listed.get("results") or {}).get("tags") or []
    details = await ghl.call(
        "social_media_posting.get_tags_by_ids",
        {"locationId": location_id},
        body={"tagIds": [t["_id"] for t in tags]},
    )
    table = Table("Social Planner tag", "id", box=None)
    for tag in (details.get("results") or {}).get("tags") or []:
        table.add_row(str(tag.get("tag")), str(tag.get("_id")))
    console.print(table)


async def _refused(ghl: GHLClient) -> None:
    try:
        await ghl.call("contacts.get_contact", {})
    except ValidationError as exc:
        console.print(f"refused before sending: [yellow]{exc}[/yellow]")


def _budget(ghl: GHLClient) -> None:
    stats = ghl.stats
    console.print(
        f"client: {stats.requests} requests, {stats.retries} retries, "
        f"{stats.rate_limited} answers 429 (paced to GHL's 100 requests / 10 s per location)"
    )
    for key, budget in ghl.rate_limiter.snapshot().items():
        console.print(
            f"  budget {key}: {budget['used']:.0f} of {budget['max']:.0f} used in the last "
            f"{budget['interval']:.0f} s, {budget['daily_remaining']:.0f} left today"
        )
