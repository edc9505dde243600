"""`ghlbridge demo`: everything on this machine, no credentials, in about half a minute.

First the client against a sandbox (contacts created concurrently and paced, paged,
exported; a call refused before sending). Then the whole product: the sandbox as GHL, the
demo partner app as "Your App" and the server with the flow engine, the template flows
installed, events driven (tags, posts, a location, a ClickBank sale, a tag-details request,
a contact), and a summary of the runs and of what reached the partner. ``--keep`` leaves it
all running to explore; otherwise it is shut down.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ghlbridge.catalog import load_catalog
from ghlbridge.catalog.curated import load_curated
from ghlbridge.cli.demo_stack import (
    DemoError,
    DemoReport,
    DemoStack,
    baselines_taken,
    demo_stack,
    drive,
    report,
    wait_for_runs,
)
from ghlbridge.cli.errors import EXIT_API, fail
from ghlbridge.cli.serving import serving
from ghlbridge.client import GHLClient, ValidationError
from ghlbridge.sandbox.app import create_app, sandbox_of
from ghlbridge.sandbox.settings import SandboxSettings
from ghlbridge.store import home_dir
from ghlbridge.templates.demo import demo_hints

console = Console()


def run(contacts: int, *, keep: bool, timeout: float) -> None:
    """The `ghlbridge demo` command's body (see `cli/demo.py` for its options)."""
    try:
        asyncio.run(_demo(contacts, home_dir() / "demo", keep=keep, timeout=timeout))
    except asyncio.CancelledError:  # SIGTERM: everything was stopped on the way out
        raise fail("stopped (SIGTERM)", 143) from None
    except DemoError as exc:
        raise fail(str(exc), EXIT_API) from None
    except (OSError, RuntimeError) as exc:  # e.g. a server that cannot start or stop
        raise fail(f"demo: {type(exc).__name__}: {exc}", EXIT_API) from None


async def _demo(n_contacts: int, home: Path, *, keep: bool, timeout: float) -> None:
    """Ctrl-C (asyncio's own handler) or SIGTERM cancel this task, and each part stops
    what it started on the way out."""
    main = asyncio.current_task()
    assert main is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, main.cancel)
    try:
        await _parts(n_contacts, home, keep=keep, timeout=timeout)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def _parts(n_contacts: int, home: Path, *, keep: bool, timeout: float) -> None:
    started = time.monotonic()
    console.rule("ghlbridge demo, part 1: the client against the GHL sandbox")
    await _client_part(n_contacts, home)
    console.rule("part 2: the sandbox, your app and the server running the template flows")
    async with demo_stack(home) as stack:
        console.print(
            f"sandbox (GHL): {stack.sandbox_url} (location {stack.sandbox.location_id}; "
            f"{_seeded(stack)})\n"
            f"partner app (your app): {stack.partner_url}\n"
            f"server: {stack.server_url}, state in {home}\n"
            f"flows: {', '.join(stack.flows)}"
        )
        await baselines_taken(stack)
        console.print("first polls done (what exists is recorded, not sent); now acting:")
        await drive(stack, say=lambda text: console.print(f"  {text}"))
        console.print(f"waiting for the runs (polls and the schedule every 10 s; <= {timeout:g} s)")
        await wait_for_runs(stack, timeout)
        result = await report(stack)
        _summary(stack, result, keep=keep)
        console.print(f"part 2 took {result.seconds:.1f} s; the demo {_since(started)}")
        if keep:
            console.print("[bold]everything keeps running; Ctrl-C stops it[/bold]")
            await _until_signalled()
        console.print("stopping the server, the partner app and the sandbox")
    _check(result)


def _since(started: float) -> str:
    return f"{time.monotonic() - started:.1f} s"


def _seeded(stack: DemoStack) -> str:
    seeded = stack.sandbox.seed_report
    return f"seeded: {seeded.summary()}" if seeded is not None else "seeded"


async def _until_signalled() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _check(result: DemoReport) -> None:
    """A flow without a succeeded run fails the demo (after the summary is shown)."""
    for flow in result.flows:
        if not flow.counts["succeeded"]:
            reason = f": {flow.error}" if flow.error else ""
            raise DemoError(f"flow {flow.name} has no succeeded run{reason}")


def _summary(stack: DemoStack, result: DemoReport, *, keep: bool) -> None:
    console.rule("summary")
    runs = Table("flow", "trigger", "runs", "status", title="completed runs per flow", box=None)
    for flow in result.flows:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(flow.counts.items()))
        ok = flow.counts["succeeded"] and not (flow.counts["failed"] or flow.counts["dead"])
        mark = "[green]ok[/green]" if ok else "[red]FAILED[/red]"
        runs.add_row(flow.name, flow.trigger, counts or "none", mark)
    console.print(runs)
    for flow in result.flows:
        if flow.error:
            console.print(f"  [red]{flow.name}[/red]: {flow.error}")
    partner = Table("kind", "count", title="arrived at the partner app", box=None)
    for kind, n in result.partner.items():
        partner.add_row(kind, str(n))
    console.print(partner)
    if result.buyer is not None:
        b = result.buyer
        name = " ".join(str(b.get(k) or "") for k in ("firstName", "lastName")).strip()
        console.print(
            f"contact from the ClickBank sale: {b.get('email')} ({name}), id {b.get('id')}, "
            f"tags: {', '.join(sorted(b.get('tags') or [])) or 'none'}"
        )
    else:
        console.print("[red]no contact was created from the ClickBank sale[/red]")
    events = ", ".join(f"{n} {source}" for source, n in result.events.items())
    console.print(
        f"events stored by the server: {events}; sandbox webhooks delivered: "
        f"{result.webhooks_delivered}"
    )
    console.rule("where to look")
    console.print(f"admin token (the API's bearer token): {stack.admin_token}")
    hints = demo_hints(
        stack.partner_url,
        server_url=stack.server_url,
        admin_token=stack.admin_token,
        home=stack.home,
    )
    for line in hints:
        console.print(line, soft_wrap=True, highlight=False)
    if not keep:
        console.print("(the URLs answer while `ghlbridge demo --keep` runs; the runs stay stored)")


# -- part 1: the client -------------------------------------------------------------------


async def _client_part(n_contacts: int, out_dir: Path) -> None:
    catalog = load_catalog()
    curated = load_curated(catalog)
    console.print(
        f"catalog: {len(catalog)} operations in {len(catalog.apps())} apps; "
        f"{len(curated.triggers())} curated triggers, {len(curated.actions())} actions, "
        f"{len(curated.webhook_events())} webhook events"
    )
    app = create_app(SandboxSettings(seed=7))
    box = sandbox_of(app)
    try:
        async with serving(app, signals=False) as base_url:
            console.print(f"sandbox: {base_url} (location {box.location_id})")
            async with GHLClient(
                box.location_token.value, base_url=base_url, location_id=box.location_id
            ) as ghl:
                await _contacts(ghl, n_contacts, out_dir)
                await _refused(ghl)
                _budget(ghl)
    finally:
        box.close()


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


__all__ = ["run"]
