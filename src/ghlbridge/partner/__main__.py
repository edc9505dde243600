"""``python -m ghlbridge.partner [--host H] [--port P] [--api-key K] ...``: serve the demo
partner app until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from ghlbridge.cli.serving import serving
from ghlbridge.partner.app import DEFAULT_API_KEY, PartnerSettings, create_partner_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ghlbridge.partner", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--hook-url", help="ghlbridge's POST /hooks/{flow} for tag requests")
    parser.add_argument("--hook-secret", help="that hook's HMAC secret")
    parser.add_argument("--webhook-secret", help="verifies POST /webhooks deliveries")
    args = parser.parse_args(argv)
    settings = PartnerSettings(
        api_key=args.api_key,
        hook_url=args.hook_url,
        hook_secret=args.hook_secret,
        webhook_secret=args.webhook_secret,
    )

    async def run() -> None:
        async with serving(create_partner_app(settings), args.host, args.port) as url:
            sys.stderr.write(f"demo partner app on {url} (X-API-Key: {settings.api_key})\n")
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
