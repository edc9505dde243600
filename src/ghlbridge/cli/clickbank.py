"""`ghlbridge clickbank ...`: decrypt captured INS notifications, call the REST API."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ghlbridge.cli.errors import UsageError, reports_errors
from ghlbridge.cli.inputs import parse_params
from ghlbridge.cli.session import open_store
from ghlbridge.connectors.clickbank import (
    DEFAULT_BASE_URL,
    ENDPOINTS,
    ClickBankClient,
    decrypt_notification,
    parse_notification,
)
from ghlbridge.connectors.clickbank.api import BASE_URL_ENV

SECRET_KEY_ENV = "GHLBRIDGE_CLICKBANK_SECRET_KEY"
API_KEY_ENV = "GHLBRIDGE_CLICKBANK_API_KEY"

app = typer.Typer(help="ClickBank: decrypt INS notifications, call the REST API.")
console = Console()

ConnOpt = Annotated[
    str | None,
    typer.Option("--connection", "-c", help="A stored clickbank connection (connect clickbank)."),
]


@app.command("decrypt")
@reports_errors
def decrypt(
    file: Annotated[
        str, typer.Argument(metavar="[FILE|-]", help="A captured INS POST body; '-' is stdin.")
    ] = "-",
    secret_key: Annotated[
        str | None,
        typer.Option(
            "--secret-key",
            envvar=SECRET_KEY_ENV,
            show_envvar=True,
            help="The INS secret key (prefer the env var: it stays out of shell history).",
        ),
    ] = None,
    connection: ConnOpt = None,
) -> None:
    """Decrypt an INS notification and print its JSON."""
    key = _secret(connection, "secret_key") if connection else secret_key
    if not key:
        raise UsageError(f"no secret key: pass --secret-key, set {SECRET_KEY_ENV} or --connection")
    body = _read_body(file)
    data = decrypt_notification(body, key)
    notification = parse_notification(data)
    if not notification.version_supported:
        sys.stderr.write(
            f"ghlbridge: warning: INS version {notification.version or '(none)'} "
            "is not 6.0, 7.0 or 8.0\n"
        )
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@app.command("actions")
@reports_errors
def actions(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The REST API actions `clickbank call` knows."""
    rows: list[dict[str, Any]] = [
        {
            "action": e.action,
            "method": e.method,
            "path": e.path,
            "params": [*e.path_params, *e.params],
            "required": [*e.path_params, *e.required],
            "paged": e.paged,
        }
        for e in ENDPOINTS.values()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("action", "method", "path", "paged", box=None)
    for r in rows:
        table.add_row(r["action"], r["method"], r["path"], "yes" if r["paged"] else "")
    console.print(table)


@app.command("call")
@reports_errors
def call(
    action: Annotated[str, typer.Argument(help="e.g. orders.list (see `clickbank actions`).")],
    param: Annotated[
        list[str] | None, typer.Option("-p", "--param", help="name=value (repeat for lists).")
    ] = None,
    all_pages: Annotated[
        bool, typer.Option("--all-pages", help="Every row of every page.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Compact JSON output.")] = False,
    connection: ConnOpt = None,
) -> None:
    """Call one ClickBank REST action and print its result as JSON."""
    if connection:
        client = ClickBankClient.from_secret(_connection_secret(connection), base_url=_base_url())
    else:
        api_key = os.environ.get(API_KEY_ENV)
        if not api_key:
            raise UsageError(f"no API key: pass --connection NAME or set {API_KEY_ENV}")
        client = ClickBankClient(api_key, base_url=_base_url())
    params = parse_params(param)
    client.endpoint(action)  # an unknown action is reported before anything else

    async def run() -> Any:
        async with client:
            if all_pages:
                return await client.list_all(action, params)
            return await client.call(action, params)

    result = asyncio.run(run())
    typer.echo(json.dumps(result, indent=None if as_json else 2, ensure_ascii=False))


def _base_url() -> str:
    return os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL


def _connection_secret(name: str) -> dict[str, Any]:
    conn = open_store().get(name)
    if conn.provider != "clickbank":
        raise UsageError(f"connection {name!r} is a {conn.provider} connection, not clickbank")
    return conn.secret()


def _secret(connection: str, field: str) -> str:
    value = _connection_secret(connection).get(field)
    if not value:
        raise UsageError(f"connection {connection!r} has no {field.replace('_', ' ')}")
    return str(value)


def _read_body(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(file).expanduser().read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
