"""`ghlbridge connect ...` and `ghlbridge connections ...`: credentials, encrypted at rest."""

from __future__ import annotations

import asyncio
import getpass
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
from ghlbridge.client.retry import RetryPolicy
from ghlbridge.connectors.http import (
    ApiKeyAuth,
    AuthPreset,
    BasicAuth,
    BearerAuth,
    HmacAuth,
    HttpApp,
    OAuth2ClientCredentials,
)
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
            client_secret=_read_secret_quietly(client_secret, "--client-secret") or "",
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
    secret = _read_secret_quietly(token, "--token") or ""
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


NameOpt = Annotated[str, typer.Option("--name", help="Connection name.")]


def _read_secret_quietly(value: str | None, option: str) -> str | None:
    """'-' reads one line of stdin, or prompts without echo on a terminal; never printed."""
    if value is None:
        return None
    if value == "-":
        if sys.stdin.isatty():
            value = getpass.getpass(f"{option}: ")
        else:
            value = sys.stdin.readline().strip()
    if not value:
        raise UsageError(f"{option}: empty value")
    return value


def _store_connection(name: str, provider: str, secret: dict[str, Any]) -> str:
    """Store another app's static credentials; returns the key id."""
    return open_store().add(name, provider, "static", secret).key_id


@connect_app.command("clickbank")
@reports_errors
def connect_clickbank(
    name: NameOpt,
    secret_key: Annotated[
        str | None, typer.Option(help="INS secret key (My Site > Advanced Tools); '-' = stdin.")
    ] = None,
    api_key: Annotated[str | None, typer.Option(help="API key (API-...); '-' = stdin.")] = None,
    dev_key: Annotated[
        str | None, typer.Option(help="Legacy developer key (DEV-...); '-' = stdin.")
    ] = None,
) -> None:
    """Store ClickBank credentials, encrypted: the INS secret key and/or a REST API key.

    Each '-' reads one line of stdin, in the order --secret-key, --api-key, --dev-key.
    """
    if secret_key is None and api_key is None:
        raise UsageError("pass --secret-key (to read INS) and/or --api-key (to call the API)")
    if dev_key is not None and api_key is None:
        raise UsageError("--dev-key goes with --api-key (the legacy DEV-...:API-... pair)")
    values = {
        "secret_key": _read_secret_quietly(secret_key, "--secret-key"),
        "api_key": _read_secret_quietly(api_key, "--api-key"),
        "dev_key": _read_secret_quietly(dev_key, "--dev-key"),
    }
    secret = {k: v for k, v in values.items() if v}
    ins_key = secret.get("secret_key", "")
    if ins_key and not (len(ins_key) <= 16 and ins_key.isalnum() and ins_key == ins_key.upper()):
        sys.stderr.write(
            "ghlbridge: warning: ClickBank secret keys are at most 16 capital letters and "
            "digits, and case-sensitive; check --secret-key\n"
        )
    key_id = _store_connection(name, "clickbank", secret)
    stored = " and ".join(
        what for what, field in (("INS secret key", "secret_key"), ("API key", "api_key"))
        if field in secret
    )  # fmt: skip
    console.print(f"stored connection {name!r} ({stored} encrypted, key {key_id})")


_HTTP_AUTH = ("none", "api_key", "bearer", "basic", "oauth2", "hmac")
_HTTP_OPTIONS = {  # which options belong to which --auth
    "api_key": ("api_key", "key_name", "key_in"),
    "bearer": ("token",),
    "basic": ("username", "password"),
    "oauth2": ("token_url", "client_id", "client_secret", "scope", "client_auth"),
    "hmac": ("hmac_secret", "signature_header", "timestamp_header", "signature_prefix"),
}


@connect_app.command("http")
@reports_errors
def connect_http(
    name: NameOpt,
    base_url: Annotated[str, typer.Option(help="The app's API root, e.g. https://api.x.com/v1.")],
    auth: Annotated[str, typer.Option(help="none, api_key, bearer, basic, oauth2 or hmac.")],
    api_key: Annotated[str | None, typer.Option(help="api_key: the key; '-' = stdin.")] = None,
    key_name: Annotated[
        str | None, typer.Option(help="api_key: header or query name (default X-API-Key).")
    ] = None,
    key_in: Annotated[
        str | None, typer.Option(help="api_key: header or query (default header).")
    ] = None,
    token: Annotated[str | None, typer.Option(help="bearer: the token; '-' = stdin.")] = None,
    username: Annotated[str | None, typer.Option(help="basic: user name.")] = None,
    password: Annotated[str | None, typer.Option(help="basic: password; '-' = stdin.")] = None,
    token_url: Annotated[str | None, typer.Option(help="oauth2: token endpoint.")] = None,
    client_id: Annotated[str | None, typer.Option(help="oauth2: client id.")] = None,
    client_secret: Annotated[
        str | None, typer.Option(help="oauth2: client secret; '-' = stdin.")
    ] = None,
    scope: Annotated[str | None, typer.Option(help="oauth2: scopes, space-separated.")] = None,
    client_auth: Annotated[
        str | None, typer.Option(help="oauth2: basic or body (default basic).")
    ] = None,
    hmac_secret: Annotated[
        str | None, typer.Option(help="hmac: signing secret; '-' = stdin.")
    ] = None,
    signature_header: Annotated[
        str | None, typer.Option(help="hmac: signature header (default X-Signature).")
    ] = None,
    timestamp_header: Annotated[
        str | None, typer.Option(help="hmac: also sign a timestamp sent in this header.")
    ] = None,
    signature_prefix: Annotated[
        str | None, typer.Option(help="hmac: text before the hex, e.g. sha256=.")
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", help="'Name: value' sent on every call.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 30.0,
    retries: Annotated[int, typer.Option(help="Attempts per request, the first included.")] = 3,
    allow_private: Annotated[
        bool, typer.Option("--allow-private", help="Allow loopback/private/link-local hosts.")
    ] = False,
    allow_network: Annotated[
        list[str] | None, typer.Option(help="A private network (CIDR) to allow; repeatable.")
    ] = None,
) -> None:
    """Store a generic HTTP app (base URL, auth preset, settings), secrets encrypted.

    Each '-' reads one line of stdin, in the order the options are listed in --help.
    """
    if auth not in _HTTP_AUTH:
        raise UsageError(f"--auth {auth!r}: expected one of {', '.join(_HTTP_AUTH)}")
    options_given = {
        "api_key": api_key,
        "key_name": key_name,
        "key_in": key_in,
        "token": token,
        "username": username,
        "password": password,
        "token_url": token_url,
        "client_id": client_id,
        "client_secret": client_secret,
        "scope": scope,
        "client_auth": client_auth,
        "hmac_secret": hmac_secret,
        "signature_header": signature_header,
        "timestamp_header": timestamp_header,
        "signature_prefix": signature_prefix,
    }
    for other, options in _HTTP_OPTIONS.items():
        stray = [o for o in options if options_given[o] is not None and other != auth]
        if stray:
            flag = "--" + stray[0].replace("_", "-")
            raise UsageError(f"{flag} belongs to --auth {other}, not --auth {auth}")
    if retries < 1:
        raise UsageError("--retries: must be >= 1")

    def needed(value: str | None, option: str) -> str:
        secret = _read_secret_quietly(value, option)
        if secret is None:
            raise UsageError(f"--auth {auth} needs {option} (use '-' to read it from stdin)")
        return secret

    preset: AuthPreset | None = None
    if auth == "api_key":
        where = key_in or "header"
        if where not in ("header", "query"):
            raise UsageError(f"--key-in {where!r}: expected header or query")
        value = needed(api_key, "--api-key")
        preset = ApiKeyAuth(
            value, key_name or "X-API-Key", "query" if where == "query" else "header"
        )
    elif auth == "bearer":
        preset = BearerAuth(needed(token, "--token"))
    elif auth == "basic":
        if not username:
            raise UsageError("--auth basic needs --username")
        preset = BasicAuth(username, needed(password, "--password"))
    elif auth == "oauth2":
        if not token_url or not client_id:
            raise UsageError("--auth oauth2 needs --token-url and --client-id")
        how = client_auth or "basic"
        if how not in ("basic", "body"):
            raise UsageError(f"--client-auth {how!r}: expected basic or body")
        preset = OAuth2ClientCredentials(
            token_url,
            client_id,
            needed(client_secret, "--client-secret"),
            scope,
            "body" if how == "body" else "basic",
        )
    elif auth == "hmac":
        preset = HmacAuth(
            needed(hmac_secret, "--hmac-secret"),
            signature_header or "X-Signature",
            timestamp_header,
            signature_prefix or "",
        )
    headers: dict[str, str] = {}
    for item in header or []:
        key, sep, val = item.partition(":")
        if not sep or not key.strip():
            raise UsageError(f"--header {key.strip() or item!r}: expected 'Name: value'")
        headers[key.strip()] = val.strip()
    http_app = HttpApp(
        base_url=base_url,
        auth=preset,
        headers=headers,
        timeout=timeout,
        retry=RetryPolicy(max_attempts=retries),
        allow_private=allow_private,
        allow_networks=tuple(allow_network or ()),
    )
    key_id = _store_connection(name, "http", http_app.to_dict())
    console.print(
        f"stored connection {name!r} (http app {base_url}, auth {auth}; settings and secrets "
        f"encrypted, key {key_id})"
    )


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
