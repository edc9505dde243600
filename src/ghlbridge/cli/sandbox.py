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
from ghlbridge.sandbox.settings import RateLimit, SandboxSettings

_RATE = re.compile(r"^(\d+)/(\d+(?:\.\d+)?)(ms|s)?$")


def parse_rate(text: str) -> RateLimit:
    """`100/10s`, `8/1s` or `50/500ms`."""
    match = _RATE.match(text.strip())
    if not match:
        raise UsageError(f"--rate-limit {text!r}: expected COUNT/INTERVAL such as 100/10s")
    count, interval, unit = int(match[1]), float(match[2]), match[3] or "s"
    return RateLimit(count, interval / 1000 if unit == "ms" else interval)


def describe(sandbox: Sandbox, base_url: str) -> list[str]:
    """What a user needs to call the sandbox (these are sandbox-only test credentials)."""
    return [
        f"base URL:          {base_url}",
        f"location id:       {sandbox.location_id}",
        f"location PIT:      {sandbox.location_token.value}",
        f"company id:        {sandbox.company_id}",
        f"agency PIT:        {sandbox.agency_token.value}",
        f"OAuth client id:   {sandbox.oauth_client.client_id}",
        f"OAuth secret:      {sandbox.oauth_client.client_secret}",
    ]


@reports_errors
def sandbox(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 = any free one).")] = 8765,
    token: Annotated[str | None, typer.Option(help="Fix the location PIT.")] = None,
    location_id: Annotated[str | None, typer.Option(help="Fix the location id.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of generated ids and data.")] = 0,
    rate_limit: Annotated[str, typer.Option(help="Burst limit, e.g. 100/10s.")] = "100/10s",
    daily_limit: Annotated[int, typer.Option(help="Requests per day per location.")] = 200_000,
    latency_ms: Annotated[float, typer.Option(help="Added latency per request.")] = 0.0,
    fault_rate: Annotated[float, typer.Option(help="Share of requests failing with 5xx.")] = 0.0,
) -> None:
    """Run the offline GHL sandbox."""
    try:
        settings = SandboxSettings(
            seed=seed,
            rate_limit=parse_rate(rate_limit),
            daily_limit=daily_limit,
            latency_ms=latency_ms,
            fault_rate=fault_rate,
            token=token,
            location_id=location_id,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    app = create_app(settings)
    console = Console()

    async def run() -> None:
        async with serving(app, host, port) as base_url:
            for line in describe(sandbox_of(app), base_url):
                console.print(line)
            console.print("serving; Ctrl-C stops", style="dim")
            await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except OSError as exc:
        raise UsageError(f"cannot serve on {host}:{port}: {exc.strerror}") from None
