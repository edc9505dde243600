"""`ghlbridge sandbox`: the offline GHL on a local port, for scripts and manual testing."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated

import typer
from rich.console import Console

from ghlbridge.cli.errors import UsageError, reports_errors
from ghlbridge.cli.serving import serving
from ghlbridge.sandbox.app import create_app, sandbox_of
from ghlbridge.sandbox.core import Sandbox
from ghlbridge.sandbox.settings import Burst429, RateLimit, SandboxSettings

_RATE = re.compile(r"^(\d+)/(\d+(?:\.\d+)?)(ms|s)?$")
_BURST = re.compile(r"^(\d+)/(\d+)$")


def parse_rate(text: str) -> RateLimit:
    """`100/10s`, `8/1s` or `50/500ms`."""
    match = _RATE.match(text.strip())
    if not match:
        raise UsageError(f"--rate-limit {text!r}: expected COUNT/INTERVAL such as 100/10s")
    count, interval, unit = int(match[1]), float(match[2]), match[3] or "s"
    return RateLimit(count, interval / 1000 if unit == "ms" else interval)


def parse_burst(text: str) -> Burst429:
    """`5/100`: 5 requests in a row answered 429 in every 100."""
    match = _BURST.match(text.strip())
    if not match:
        raise UsageError(f"--burst-429 {text!r}: expected LENGTH/EVERY such as 5/100")
    return Burst429(int(match[1]), int(match[2]))


def describe(sandbox: Sandbox, base_url: str) -> list[str]:
    """What a user needs to call the sandbox (these are sandbox-only test credentials).

    One ``key: value`` line each, then the webhook public keys as PEM blocks.
    """
    lines = [
        f"base URL:          {base_url}",
        f"location id:       {sandbox.location_id}",
        f"location PIT:      {sandbox.location_token.value}",
        f"company id:        {sandbox.company_id}",
        f"agency PIT:        {sandbox.agency_token.value}",
        f"OAuth client id:   {sandbox.oauth_client.client_id}",
        f"OAuth secret:      {sandbox.oauth_client.client_secret}",
        f"OAuth authorize:   {base_url}/oauth/chooselocation",
    ]
    report = sandbox.seed_report
    if report is not None:
        lines.append(f"seed data:         {report.summary()}")
        for n, loc in enumerate(report.locations[1:], start=2):
            lines.append(f"location {n} id:     {loc.id}  ({loc.name}, {loc.contacts} contacts)")
            lines.append(f"location {n} PIT:    {loc.token}")
    for url in sandbox.webhooks.urls():
        lines.append(f"webhook URL:       {url}")
    lines.append(f"webhook keys:      {base_url}/.sandbox/webhook-keys")
    lines.append(f"webhook log:       {base_url}/.sandbox/webhook-deliveries")
    keys = sandbox.webhooks.public_keys()
    lines.append("webhook Ed25519 public key (x-ghl-signature):")
    lines.extend(keys.ed25519.strip().splitlines())
    lines.append("webhook RSA public key (x-wh-signature):")
    lines.extend(keys.rsa.strip().splitlines())
    return lines


@reports_errors
def sandbox(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 = any free one).")] = 8765,
    token: Annotated[str | None, typer.Option(help="Fix the location PIT.")] = None,
    location_id: Annotated[str | None, typer.Option(help="Fix the location id.")] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of ids, data and faults; given, it also builds a demo agency."),
    ] = None,
    contacts: Annotated[int, typer.Option(help="Contacts in the demo agency (--seed).")] = 2000,
    locations: Annotated[int, typer.Option(help="Locations in the demo agency (--seed).")] = 3,
    rate_limit: Annotated[str, typer.Option(help="Burst limit, e.g. 100/10s.")] = "100/10s",
    daily_limit: Annotated[int, typer.Option(help="Requests per day per location.")] = 200_000,
    latency_ms: Annotated[float, typer.Option(help="Added latency per request.")] = 0.0,
    fault_rate: Annotated[float, typer.Option(help="Share of requests failing with 5xx.")] = 0.0,
    timeout_rate: Annotated[
        float, typer.Option(help="Share of requests whose answer is held --timeout-seconds.")
    ] = 0.0,
    timeout_seconds: Annotated[
        float, typer.Option(help="How long a timed-out answer is held.")
    ] = 30.0,
    drop_rate: Annotated[
        float, typer.Option(help="Share of requests whose connection is dropped unanswered.")
    ] = 0.0,
    burst_429: Annotated[
        str | None, typer.Option(help="429 bursts: LENGTH/EVERY requests, e.g. 5/100.")
    ] = None,
    webhook_url: Annotated[
        list[str] | None, typer.Option(help="Deliver webhook events here (repeatable).")
    ] = None,
    webhook_fault_rate: Annotated[
        float, typer.Option(help="Share of webhook deliveries dropped unsent.")
    ] = 0.0,
    webhook_retry_interval: Annotated[
        float, typer.Option(help="Seconds between retries after a 429 from a receiver.")
    ] = 600.0,
    webhook_ed25519_key: Annotated[
        str | None, typer.Option(help="PEM Ed25519 private key file to sign webhooks with.")
    ] = None,
    webhook_rsa_key: Annotated[
        str | None, typer.Option(help="PEM RSA private key file to sign webhooks with.")
    ] = None,
) -> None:
    """Run the offline GHL sandbox."""
    try:
        settings = SandboxSettings(
            seed=seed or 0,
            rate_limit=parse_rate(rate_limit),
            daily_limit=daily_limit,
            latency_ms=latency_ms,
            fault_rate=fault_rate,
            timeout_rate=timeout_rate,
            timeout_seconds=timeout_seconds,
            drop_rate=drop_rate,
            burst_429=parse_burst(burst_429) if burst_429 else None,
            token=token,
            location_id=location_id,
            webhook_urls=tuple(webhook_url or ()),
            webhook_fault_rate=webhook_fault_rate,
            webhook_retry_interval=webhook_retry_interval,
            webhook_ed25519_key_file=webhook_ed25519_key,
            webhook_rsa_key_file=webhook_rsa_key,
            seed_data=seed is not None,
            seed_locations=locations,
            seed_contacts=contacts,
        )
        app = create_app(settings)
        box = sandbox_of(app)
        box.webhooks.public_keys()  # a bad key file fails here, in one line
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    console = Console(highlight=False, soft_wrap=True)

    async def run() -> None:
        async with serving(app, host, port) as base_url:
            for line in describe(box, base_url):
                console.print(line, markup=False)
            console.print("serving; Ctrl-C stops", style="dim")
            await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except OSError as exc:
        raise UsageError(f"cannot serve on {host}:{port}: {exc.strerror}") from None
    finally:
        box.close()
