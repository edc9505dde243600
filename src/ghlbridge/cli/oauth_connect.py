"""`ghlbridge connect ghl --oauth`: install a Marketplace app from the terminal.

A one-shot listener on 127.0.0.1 receives GHL's redirect, the code is exchanged, and the token
pair is saved (encrypted) before the connection that points at it, so a crash in between leaves
at worst unused tokens, never a connection without tokens.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import webbrowser
from dataclasses import dataclass

from aiohttp import web

from ghlbridge.cli.errors import UsageError
from ghlbridge.client.oauth import OAuthApp
from ghlbridge.store import ConnectionStore, SQLTokenStore, Vault, token_key
from ghlbridge.store.tokens import TokenSet


@dataclass(frozen=True)
class OAuthInstall:
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    port: int
    base_url: str
    marketplace_url: str
    open_browser: bool
    timeout: float


async def install(conn_name: str, spec: OAuthInstall, store: ConnectionStore, vault: Vault) -> str:
    """Run the install; returns a one-line summary of what was stored."""
    if conn_name in {c.name for c in store.list()}:
        raise UsageError(f"connection {conn_name!r} already exists")
    redirect_uri = f"http://127.0.0.1:{spec.port}/callback"
    app = OAuthApp(
        spec.client_id,
        spec.client_secret,
        redirect_uri,
        spec.scopes,
        base_url=spec.base_url,
        marketplace_url=spec.marketplace_url,
    )
    try:
        state = secrets.token_urlsafe(16)
        code = await _receive_code(app.authorize_url(state), state, spec)
        tokens = await app.exchange_code(code)
    finally:
        await app.close()
    account = tokens.location_id or tokens.company_id
    if not account:
        raise UsageError("GHL's token answer names neither a location nor a company")
    await SQLTokenStore(store.engine, vault).save(token_key(conn_name, account), tokens)
    store.add(
        conn_name,
        "ghl",
        "oauth",
        {"client_id": spec.client_id, "client_secret": spec.client_secret},
        location_id=tokens.location_id,
        company_id=tokens.company_id,
        scopes=tuple(tokens.scope.split()),
    )
    return _summary(conn_name, tokens)


async def _receive_code(url: str, state: str, spec: OAuthInstall) -> str:
    """Serve /callback once and return the code it brings."""
    received: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def callback(request: web.Request) -> web.Response:
        if request.query.get("state") != state:
            return web.Response(status=400, text="state does not match; start again")
        code = request.query.get("code")
        if not code:
            return web.Response(status=400, text="no code in the redirect")
        if not received.done():
            received.set_result(code)
        return web.Response(text="ghlbridge: installed. You can close this window.")

    web_app = web.Application()
    web_app.router.add_get("/callback", callback)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", spec.port).start()
    except OSError as exc:
        await runner.cleanup()
        raise UsageError(f"--redirect-port {spec.port}: {exc.strerror}") from None
    try:
        sys.stderr.write(f"open this URL to install the app:\n{url}\n")
        sys.stderr.flush()
        if spec.open_browser:
            webbrowser.open(url)
        try:
            return await asyncio.wait_for(received, spec.timeout)
        except TimeoutError:
            raise UsageError(f"no redirect within {spec.timeout:.0f} s; start again") from None
    finally:
        await runner.cleanup()


def _summary(name: str, tokens: TokenSet) -> str:
    where = (
        f"location {tokens.location_id}" if tokens.location_id else f"company {tokens.company_id}"
    )
    return f"stored OAuth connection {name!r} for {where} (tokens encrypted)"
